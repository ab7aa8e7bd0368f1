// SM90 mixed-GEMM interleaves, FlashInfer v0.6.16 algorithm (PR #3738): the closed forms in
// sim/quant/sm90_interleave.cpp against independent references that transcribe upstream step
// by step -- the CUDA kernels of moe_gemm_mixed_utils.cu @v0.6.16 written out thread by thread
// with their literal mask/shift lines, and the torch reshape/permute of prepare.py executed by a
// generic N-d permute on index arrays -- plus exhaustive bijection / inverse checks on small
// shapes and the upstream shape checks.
#include "sim/quant/sm90_interleave.hpp"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <numeric>
#include <string>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

namespace moesim::quant {
namespace {

// ---------------------------------------------------------------- upstream kernels, transcribed

// interleave_fp4_weights_for_sm90_mixed_gemm_kernel, grid-stride loops collapsed (every
// block_id < rows/2 and partition_id < cols/64 is visited once), lane_id = threadIdx.x < 16.
void kernel_fp4(const std::uint8_t* fp4_weight, std::uint8_t* fp4_weight_interleaved, int rows, int cols) {
  for (int block_id = 0; block_id < rows / 2; ++block_id)
    for (int partition_id = 0; partition_id < cols / 64; ++partition_id)
      for (int lane_id = 0; lane_id < 16; ++lane_id) {
        int row_id = block_id / 8 * 16 + block_id % 8;
        int mma_id = lane_id / 4;
        int dst_row_id = row_id + (mma_id % 2) * 8;
        int interleaved_lane_id = lane_id / 8 * 16 + (lane_id % 4) * 4;
        int col_id = partition_id * 32 + mma_id * 8 + lane_id % 4;
        int dst_col_id = partition_id * 32 + interleaved_lane_id;
        int first_fp4_id = row_id * cols / 2 + col_id;
        int second_fp4_id = (row_id + 8) * cols / 2 + col_id;
        int third_fp4_id = first_fp4_id + 4;
        int fourth_fp4_id = second_fp4_id + 4;
        std::uint32_t fp4x8_raw = std::uint32_t(fp4_weight[first_fp4_id]) | std::uint32_t(fp4_weight[second_fp4_id]) << 8 |
                                  std::uint32_t(fp4_weight[third_fp4_id]) << 16 | std::uint32_t(fp4_weight[fourth_fp4_id]) << 24;
        std::uint32_t o = 0, mask;
        mask = 0b00000000000000000000000010000000; o |= (fp4x8_raw & mask) << 24;
        mask = 0b00000000000000000000000001110000; o |= (fp4x8_raw & mask) << 18;
        mask = 0b00000000000000000000000000001000; o |= (fp4x8_raw & mask) << 12;
        mask = 0b00000000000000000000000000000111; o |= (fp4x8_raw & mask) << 6;
        mask = 0b00000000000000001000000000000000; o |= (fp4x8_raw & mask) << 13;
        mask = 0b00000000000000000111000000000000; o |= (fp4x8_raw & mask) << 7;
        mask = 0b00000000000000000000100000000000; o |= (fp4x8_raw & mask) << 1;
        mask = 0b00000000000000000000011100000000; o |= (fp4x8_raw & mask) >> 5;
        mask = 0b00000000100000000000000000000000; o |= (fp4x8_raw & mask) << 2;
        mask = 0b00000000011100000000000000000000; o |= (fp4x8_raw & mask) >> 4;
        mask = 0b00000000000010000000000000000000; o |= (fp4x8_raw & mask) >> 10;
        mask = 0b00000000000001110000000000000000; o |= (fp4x8_raw & mask) >> 16;
        mask = 0b10000000000000000000000000000000; o |= (fp4x8_raw & mask) >> 1;
        mask = 0b00010000000000000000000000000000; o |= (fp4x8_raw & mask) << 1;
        mask = 0b01100000000000000000000000000000; o |= (fp4x8_raw & mask) >> 3;
        mask = 0b00001000000000000000000000000000; o |= (fp4x8_raw & mask) >> 13;
        mask = 0b00000001000000000000000000000000; o |= (fp4x8_raw & mask) >> 11;
        mask = 0b00000110000000000000000000000000; o |= (fp4x8_raw & mask) >> 15;
        int dst_id = dst_row_id * cols / 2 + dst_col_id;
        for (int b = 0; b < 4; ++b) fp4_weight_interleaved[dst_id + b] = static_cast<std::uint8_t>(o >> (8 * b));
      }
}

std::uint32_t preprocess_fp4x8_signs_for_fp8(std::uint32_t fp4x8) {
  std::uint32_t const em = fp4x8 & 0x77777777U;
  std::uint32_t const signs = ((fp4x8 & 0x00000008U) << 4U) | ((fp4x8 & 0x00000080U) << 8U) |
                              ((fp4x8 & 0x00000800U) << 12U) | ((fp4x8 & 0x00008000U) << 16U) |
                              ((fp4x8 & 0x00080000U) >> 16U) | ((fp4x8 & 0x00800000U) >> 12U) |
                              ((fp4x8 & 0x08000000U) >> 8U) | ((fp4x8 & 0x80000000U) >> 4U);
  return em | signs;
}

// interleave_int4_weights_for_sm90_mixed_gemm_kernel (fp8 = false) and
// interleave_fp4_fp8_weights_for_sm90_mixed_gemm_kernel (fp8 = true), on uint16 words
// (little-endian, as the GPU stores them).
void kernel_words(const std::uint8_t* in, std::uint8_t* out, int rows, int cols, bool fp8) {
  auto rd = [&](int w) { return static_cast<std::uint16_t>(in[2 * w] | in[2 * w + 1] << 8); };
  auto wr = [&](int w, std::uint16_t v) {
    out[2 * w] = static_cast<std::uint8_t>(v);
    out[2 * w + 1] = static_cast<std::uint8_t>(v >> 8);
  };
  for (int block_id = 0; block_id < rows / 2; ++block_id)
    for (int partition_id = 0; partition_id < cols / 64; ++partition_id)
      for (int lane_id = 0; lane_id < 16; ++lane_id) {
        int row_id = block_id / 8 * 16 + block_id % 8;
        int dst_row_id = row_id + (lane_id % 8) / 4 * 8;
        int mma_id = lane_id / 8;
        int interleaved_lane_id = mma_id * 8 + lane_id % 4 * 2;
        int col_id = partition_id * 16 + lane_id;
        int dst_col_id = partition_id * 16 + interleaved_lane_id;
        int src_id_a = row_id * cols / 4 + col_id;
        int src_id_b = (row_id + 8) * cols / 4 + col_id;
        std::uint16_t a = rd(src_id_a), b = rd(src_id_b);
        if (fp8) {
          std::uint32_t fp4x8 = preprocess_fp4x8_signs_for_fp8(std::uint32_t(a) | (std::uint32_t(b) << 16U));
          a = static_cast<std::uint16_t>(fp4x8);
          b = static_cast<std::uint16_t>(fp4x8 >> 16U);
        }
        int dst_id = dst_row_id * cols / 4 + dst_col_id;
        wr(dst_id, a);
        wr(dst_id + 1, b);
      }
}

// The binding's per-expert loop.
std::vector<std::uint8_t> upstream_weights(const std::vector<std::uint8_t>& in, int E, int n, int k, Sm90WeightType t) {
  std::vector<std::uint8_t> out(in.size(), 0xEE);  // torch.empty_like: poison
  const std::size_t per = static_cast<std::size_t>(n) * (k / 2);
  for (int e = 0; e < E; ++e) {
    if (t == Sm90WeightType::Fp4)
      kernel_fp4(in.data() + e * per, out.data() + e * per, n, k);
    else
      kernel_words(in.data() + e * per, out.data() + e * per, n, k, t == Sm90WeightType::Fp4ForFp8);
  }
  return out;
}

// ---------------------------------------------------------------- generic torch permute

// x.reshape(shape).permute(perm).contiguous(): returns, for each output position, the flat
// input index it reads.
std::vector<std::int64_t> permute_indices(const std::vector<std::int64_t>& shape, const std::vector<int>& perm) {
  const std::size_t nd = shape.size();
  std::vector<std::int64_t> stride(nd, 1);
  for (std::size_t d = nd - 1; d-- > 0;) stride[d] = stride[d + 1] * shape[d + 1];
  std::int64_t total = 1;
  for (auto s : shape) total *= s;
  std::vector<std::int64_t> out(static_cast<std::size_t>(total));
  std::vector<std::int64_t> idx(nd, 0);  // index in the permuted (output) shape
  for (std::int64_t o = 0; o < total; ++o) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < nd; ++d) src += idx[d] * stride[static_cast<std::size_t>(perm[d])];
    out[static_cast<std::size_t>(o)] = src;
    for (std::size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[static_cast<std::size_t>(perm[d])]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// prepare.py interleave_moe_scales_for_sm90_mixed_gemm @v0.6.16, step by step.
std::vector<std::uint8_t> upstream_scales(const std::vector<std::uint8_t>& in, std::int64_t e, std::int64_t rows,
                                          std::int64_t kgs, int group_size, int element_size) {
  const int scale_groups_per_k128 = 128 / group_size;
  const int element_bits = element_size * 8;
  const int physical_cols = 128 / element_bits;
  const int m_slices_per_m64 = physical_cols / scale_groups_per_k128;
  const int folded_m = 64 / m_slices_per_m64;
  const std::int64_t k128_blocks = kgs / scale_groups_per_k128;
  const auto idx = permute_indices({e, rows / 64, m_slices_per_m64, folded_m, k128_blocks, scale_groups_per_k128},
                                   {0, 1, 4, 3, 2, 5});
  std::vector<std::uint8_t> out(in.size());
  for (std::size_t o = 0; o < idx.size(); ++o)
    for (int b = 0; b < element_size; ++b)
      out[o * element_size + b] = in[static_cast<std::size_t>(idx[o]) * element_size + b];
  return out;
}

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng.next_u32());
  return v;
}

const Sm90WeightType kTypes[] = {Sm90WeightType::Fp4, Sm90WeightType::Int4, Sm90WeightType::Fp4ForFp8};

// ---------------------------------------------------------------- weights

TEST(Sm90InterleaveV0616, WeightsMatchTranscribedKernels) {
  for (Sm90WeightType t : kTypes)
    for (int E : {1, 2})
      for (int n : {16, 32, 48})
        for (int k : {64, 128, 192}) {
          const auto in = random_bytes(static_cast<std::size_t>(E) * n * k / 2, 1000u + n * 7 + k);
          const auto want = upstream_weights(in, E, n, k, t);
          ASSERT_EQ(sm90_interleave_weights_v0616(in.data(), E, n, k, t), want) << int(t) << " E=" << E << " n=" << n << " k=" << k;
          ASSERT_EQ(sm90_interleave_weights(Sm90Interleave::V0616, in.data(), E, n, k, t), want);
        }
}

TEST(Sm90InterleaveV0616, KernelsWriteEveryByteOnce) {
  // The transcribed kernels themselves cover the output exactly once (so comparing against
  // them is meaningful and "poison" bytes cannot hide): count writes via distinct markers.
  for (Sm90WeightType t : kTypes) {
    const int n = 32, k = 128;
    std::vector<std::uint8_t> zero(static_cast<std::size_t>(n) * k / 2, 0), ones(zero.size(), 0xFF);
    const auto a = upstream_weights(zero, 1, n, k, t), b = upstream_weights(ones, 1, n, k, t);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i], 0) << i;
      ASSERT_EQ(b[i], 0xFF) << i;
    }
  }
}

TEST(Sm90InterleaveV0616, WeightBitMapIsABijectionWithExactInverseExhaustively) {
  for (Sm90WeightType t : kTypes)
    for (int n : {16, 32})
      for (int k : {64, 128, 256}) {
        const std::int64_t bits = static_cast<std::int64_t>(n) * k / 2 * 8;
        std::vector<std::uint8_t> hit(static_cast<std::size_t>(bits), 0);
        for (std::int64_t b = 0; b < bits; ++b) {
          const std::int64_t d = sm90_weight_bit_dest_v0616(n, k, t, b);
          ASSERT_GE(d, 0);
          ASSERT_LT(d, bits);
          ASSERT_EQ(hit[static_cast<std::size_t>(d)]++, 0) << "two bits land on " << d;
          ASSERT_EQ(sm90_weight_bit_src_v0616(n, k, t, d), b);
        }
        // The bit map describes the bulk transform: output bit d holds input bit src(d).
        const auto in = random_bytes(static_cast<std::size_t>(n) * k / 2, 77u + n + k);
        const auto out = sm90_interleave_weights_v0616(in.data(), 1, n, k, t);
        for (std::int64_t d = 0; d < bits; ++d) {
          const std::int64_t s = sm90_weight_bit_src_v0616(n, k, t, d);
          ASSERT_EQ(out[d / 8] >> (d % 8) & 1, in[s / 8] >> (s % 8) & 1) << d;
        }
        ASSERT_EQ(sm90_deinterleave_weights_v0616(out.data(), 1, n, k, t), in);
        ASSERT_EQ(sm90_deinterleave_weights(Sm90Interleave::V0616, out.data(), 1, n, k, t), in);
      }
}

TEST(Sm90InterleaveV0616, DiffersFromV0610WhereUpstreamChangedIt) {
  const int n = 32, k = 128;
  const auto in = random_bytes(static_cast<std::size_t>(n) * k / 2, 5);
  // fp4: new algorithm (bit-level); int4: kernel unchanged by PR #3738.
  EXPECT_NE(sm90_interleave_weights_v0616(in.data(), 1, n, k, Sm90WeightType::Fp4),
            sm90_interleave_weights_v0610(in.data(), 1, n, k, Sm90WeightType::Fp4));
  EXPECT_EQ(sm90_interleave_weights_v0616(in.data(), 1, n, k, Sm90WeightType::Int4),
            sm90_interleave_weights_v0610(in.data(), 1, n, k, Sm90WeightType::Int4));
  EXPECT_THROW(sm90_interleave_weights_v0610(in.data(), 1, n, k, Sm90WeightType::Fp4ForFp8), InputError);
}

TEST(Sm90InterleaveV0616, WeightShapeChecksNameTheTensor) {
  std::vector<std::uint8_t> buf(64 * 64, 0);
  for (Sm90WeightType t : kTypes) {
    for (auto [n, k] : {std::pair{24, 64}, std::pair{16, 96}, std::pair{8, 64}}) {
      try {
        sm90_interleave_weights_v0616(buf.data(), 1, n, k, t);
        FAIL() << "accepted n=" << n << " k=" << k;
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("weight [E, n, k/2]"), std::string::npos) << e.what();
      }
    }
    EXPECT_THROW(sm90_weight_bit_dest_v0616(24, 64, t, 0), InputError);
  }
}

// The consumer: cutlass_extensions/detail/collective/mixed_input_utils.hpp @v0.6.16
// psx_cvt_triton_fp4x8_to_bf16x8_interleaved, transcribed (masks, shifts, the two lop3 with
// immLut = (0xf0 & 0xcc) | 0xaa = (a & b) | c, and the bf16x2 multiply by 2^126).
std::array<double, 8> reader_fp4x8_to_bf16x8(std::uint32_t fp4x8) {
  const std::uint32_t first = fp4x8 & 0x81C081C0U;
  const std::uint32_t second = (fp4x8 << 3) & 0x81C081C0U;
  const std::uint32_t third = (fp4x8 << 6) & 0x81C081C0U;
  const std::uint32_t s4 = (fp4x8 << 1) & 0x80008000U;
  const std::uint32_t e4 = ((fp4x8 >> 3) & 0x01800180U) | s4;
  const std::uint32_t fourth = ((fp4x8 >> 7) & 0x00400040U) | e4;
  auto bf = [](std::uint32_t h) { return static_cast<double>(std::bit_cast<float>(h << 16)) * 0x1p126; };
  std::array<double, 8> out{};
  const std::uint32_t w[4] = {first, second, third, fourth};
  for (int j = 0; j < 4; ++j) {
    out[2 * j] = bf(w[j] & 0xFFFF);
    out[2 * j + 1] = bf(w[j] >> 16);
  }
  return out;
}

double e2m1_value(int code) {
  static const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  return (code & 8) ? -mag[code & 7] : mag[code & 7];
}

TEST(Sm90InterleaveV0616, Fp4ReaderSeesTheMmaFragmentOfEachLane) {
  // Writer (our closed form) + upstream reader: lane l of partition P in the 16-row group R, row
  // i, decodes to the mma.m16n8k16 A-fragment of thread t = l%4 in k16 block m = l/4:
  // (R+i, c), (R+i, c+1), (R+i+8, c), (R+i+8, c+1), then the same at c+8, c = 64P + 16m + 2t.
  // Every bf16 must equal the e2m1 value of that element, signs and zeros included.
  const int n = 32, k = 256, rb = k / 2;
  std::vector<std::uint8_t> in(static_cast<std::size_t>(n) * rb);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i * 37 + (i >> 8) * 11);
  const auto out = sm90_interleave_weights_v0616(in.data(), 1, n, k, Sm90WeightType::Fp4);
  auto elem = [&](int r, int c) { return e2m1_value((in[r * rb + c / 2] >> (4 * (c % 2))) & 0xF); };
  for (int R = 0; R < n; R += 16)
    for (int i = 0; i < 8; ++i)
      for (int P = 0; P < k / 64; ++P)
        for (int l = 0; l < 16; ++l) {
          const int m = l / 4, t = l % 4, c = 64 * P + 16 * m + 2 * t;
          const int dst = (R + i + 8 * (m % 2)) * rb + 32 * P + 16 * (l / 8) + 4 * t;  // kernel's dst_id
          const std::uint32_t w = std::uint32_t(out[dst]) | std::uint32_t(out[dst + 1]) << 8 |
                                  std::uint32_t(out[dst + 2]) << 16 | std::uint32_t(out[dst + 3]) << 24;
          const auto got = reader_fp4x8_to_bf16x8(w);
          const double want[8] = {elem(R + i, c),     elem(R + i, c + 1),     elem(R + i + 8, c),     elem(R + i + 8, c + 1),
                                  elem(R + i, c + 8), elem(R + i, c + 9), elem(R + i + 8, c + 8), elem(R + i + 8, c + 9)};
          for (int j = 0; j < 8; ++j) {
            ASSERT_EQ(got[j], want[j]) << "R=" << R << " i=" << i << " P=" << P << " l=" << l << " j=" << j;
            ASSERT_EQ(std::signbit(got[j]), std::signbit(want[j]));
          }
        }
}

// ---------------------------------------------------------------- scales

TEST(Sm90InterleaveV0616, ScalesMatchTorchReshapePermute) {
  // (group_size, element bytes): MXFP4 E8M0 (32, 1), W4A8 bf16 (128, 2), and the other
  // combinations the upstream checks accept.
  for (auto [g, eb] : {std::pair{32, 1}, std::pair{128, 2}, std::pair{32, 2}, std::pair{64, 1}, std::pair{128, 1},
                       std::pair{16, 1}, std::pair{32, 4}, std::pair{128, 4}})
    for (std::int64_t E : {1, 3})
      for (std::int64_t rows : {64, 128, 192}) {
        const Sm90ScaleFold f = sm90_scale_fold_v0616(g, eb);
        for (std::int64_t kb : {1, 2, 5}) {
          const std::int64_t kg = kb * f.spk;
          const auto in = random_bytes(static_cast<std::size_t>(E * rows * kg * eb), 31u + g + eb + rows + kg);
          const auto want = upstream_scales(in, E, rows, kg, g, eb);
          const auto got = sm90_interleave_scales_v0616(in.data(), E, rows, kg, g, eb);
          ASSERT_EQ(got, want) << "g=" << g << " eb=" << eb << " rows=" << rows << " kg=" << kg;
          ASSERT_EQ(sm90_deinterleave_scales_v0616(got.data(), E, rows, kg, g, eb), in);
          ASSERT_EQ(sm90_interleave_scales(Sm90Interleave::V0616, in.data(), E, rows, kg, g, eb), want);
          // closed-form index maps: bijection and exact inverse on every element
          std::vector<std::uint8_t> hit(static_cast<std::size_t>(rows * kg), 0);
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < kg; ++c) {
              const std::int64_t o = sm90_scale_offset_v0616(rows, kg, f, r, c);
              ASSERT_LT(o, rows * kg);
              ASSERT_EQ(hit[static_cast<std::size_t>(o)]++, 0);
              ASSERT_EQ(sm90_scale_inverse_v0616(rows, kg, f, o), std::make_pair(r, c));
            }
        }
      }
  // MXFP4 numbers from the docstring: [E, rows/64, K/128, 16, 16] for uint8 with group 32.
  const Sm90ScaleFold mx = sm90_scale_fold_v0616(32, 1);
  EXPECT_EQ(mx.physical_cols, 16);
  EXPECT_EQ(mx.folded_m, 16);
  const Sm90ScaleFold w4a8 = sm90_scale_fold_v0616(128, 2);
  EXPECT_EQ(w4a8.physical_cols, 8);
  EXPECT_EQ(w4a8.folded_m, 8);
}

TEST(Sm90InterleaveV0616, ScaleChecksAreInputErrors) {
  std::vector<std::uint8_t> buf(4096, 0);
  EXPECT_THROW(sm90_interleave_scales_v0616(buf.data(), 1, 32, 4, 32, 1), InputError);   // rows % 64
  EXPECT_THROW(sm90_interleave_scales_v0616(buf.data(), 1, 64, 6, 32, 1), InputError);   // kg % 4
  EXPECT_THROW(sm90_interleave_scales_v0616(buf.data(), 1, 64, 4, 48, 1), InputError);   // group
  EXPECT_THROW(sm90_interleave_scales_v0616(buf.data(), 1, 64, 4, 16, 2), InputError);   // kg % 8 (group 16)
  EXPECT_THROW(sm90_scale_fold_v0616(16, 4), InputError);                                 // 4 cols, 8 groups
  EXPECT_THROW(sm90_scale_fold_v0616(32, 3), InputError);                                 // 24-bit elements
  EXPECT_THROW(sm90_interleave_scales(Sm90Interleave::V0610, buf.data(), 1, 64, 4, 32, 2), InputError);
  EXPECT_EQ(parse_sm90_interleave("sm90_interleave_v0.6.16"), Sm90Interleave::V0616);
  EXPECT_EQ(parse_sm90_interleave(sm90_interleave_tag(Sm90Interleave::V0610)), Sm90Interleave::V0610);
  EXPECT_THROW(parse_sm90_interleave("sm90_interleave_v0.6.17"), InputError);
}

}  // namespace
}  // namespace moesim::quant
