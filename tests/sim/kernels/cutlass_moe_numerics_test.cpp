// FlashInfer CUTLASS fused-MoE element pieces against hand-derived values and independent
// formulas (exact double arithmetic, IEEE identities).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/cutlass_moe_numerics.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels::cutlass {
namespace {

std::uint16_t bf(float x) { return fmt::fast::f32_to_bf16_rn(x); }
float f(std::uint32_t u) { return std::bit_cast<float>(u); }

TEST(CutlassFastMath, FtzFlushesSubnormalInputsAndResults) {
  EXPECT_EQ(std::bit_cast<std::uint32_t>(ftz(f(0x00000001u))), 0u);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(ftz(f(0x807FFFFFu))), 0x80000000u);  // sign kept
  EXPECT_EQ(ftz(f(0x00800000u)), f(0x00800000u));                             // min normal stays
  // 2^-100 * 2^-30 = 2^-130 is subnormal: flushed (IEEE would give 2^-130).
  EXPECT_EQ(fmul_ftz(0x1p-100f, 0x1p-30f), 0.0f);
  EXPECT_EQ(0x1p-100f * 0x1p-30f, 0x1p-130f);
  // A subnormal input reads as zero: 2^-127 * 2^10 = 2^-117 without ftz.
  EXPECT_EQ(fmul_ftz(0x1p-127f, 0x1p10f), 0.0f);
  EXPECT_EQ(fadd_ftz(0x1p-127f, 1.0f), 1.0f);
}

TEST(CutlassFastMath, SigmoidHandValues) {
  // ex2.approx(0) = 1 exactly, 1 + 1 = 2, rcp.approx(2) = 0.5 (power of two, exact).
  EXPECT_EQ(sigmoid_fastmath(0.0f), 0.5f);
  // exp(100) overflows to +inf, 1 + inf = inf, rcp(inf) = 0.
  EXPECT_EQ(sigmoid_fastmath(-100.0f), 0.0f);
  // exp(-100) ~ 2^-144 is below 2^-126: ex2.approx.ftz flushes it to 0, so sigmoid = 1.
  EXPECT_EQ(sigmoid_fastmath(100.0f), 1.0f);
}

TEST(CutlassFastMath, SigmoidWithinDerivedBoundOfExact) {
  // Bound: __expf = ex2.approx(x*log2e): the fp32 product x*log2e has relative error 2^-24, which
  // becomes an absolute error |x| log2e 2^-24 ln2 = |x| 2^-24 in the exponent, i.e. a relative
  // error |x| 2^-24 in e^-x; ex2.approx adds at most 2^-22 relative (PTX ISA: max 2 ulp over
  // the full range, taken as 2^-22 here); 1+e rounds once (2^-24); rcp.approx has at most
  // 1 ulp (2^-23). Sigmoid's condition number w.r.t. e is e/(1+e) <= 1, so
  // |rel err| <= |x| 2^-24 + 2^-22 + 2^-24 + 2^-23 (first order).
  Rng r(11);
  for (int i = 0; i < 20000; ++i) {
    const float x = static_cast<float>((r.uniform() * 2 - 1) * 40);
    const double exact = 1.0 / (1.0 + std::exp(-static_cast<double>(x)));
    const double got = sigmoid_fastmath(x);
    if (exact < 0x1p-126) continue;  // ftz region
    const double bound = (std::fabs(x) * 0x1p-24 + 0x1p-22 + 0x1p-24 + 0x1p-23) * 1.01 + 0x1p-126 / exact;
    EXPECT_LE(std::fabs(got - exact) / exact, bound) << "x=" << x;
  }
}

TEST(CutlassFastMath, SwigluHandValues) {
  // gate 0 -> silu 0 -> product +0 (gate*0.5 = +0, times linear 3 = +0).
  EXPECT_EQ(swiglu_to_bf16(bf(0.0f), bf(3.0f)), 0x0000);
  // gate 100 -> sigmoid 1 (see above) -> 100 * 2 = 200, exact in bf16.
  EXPECT_EQ(swiglu_to_bf16(bf(100.0f), bf(2.0f)), bf(200.0f));
  // gate -100 -> sigmoid 0 -> -100 * 0 = -0, times +1 = -0: bf16 0x8000.
  EXPECT_EQ(swiglu_to_bf16(bf(-100.0f), bf(1.0f)), 0x8000);
  // fp8 requantize: 200 * 1 lies halfway between the e4m3 values 192 (mantissa 100b, even)
  // and 208 (101b): RNE gives 192. 100*100 = 10000 saturates to 448.
  EXPECT_EQ(fmt::fast::e4m3_to_f32(swiglu_to_e4m3(bf(100.0f), bf(2.0f), 1.0f)), 192.0f);
  EXPECT_EQ(fmt::fast::e4m3_to_f32(swiglu_to_e4m3(bf(100.0f), bf(100.0f), 1.0f)), 448.0f);
  // 100 * -2 * 0.5 = -100, halfway between 96 (1.100b * 2^6, even) and 104 (1.101b): -96.
  EXPECT_EQ(fmt::fast::e4m3_to_f32(swiglu_to_e4m3(bf(100.0f), bf(-2.0f), 0.5f)), -96.0f);
}

TEST(CutlassFastMath, EpilogueHandValues) {
  EXPECT_EQ(epilogue_bf16(1.5f, 2.0f), bf(3.0f));
  EXPECT_EQ(epilogue_bf16(f(0x00000123u), 1.0f), 0x0000);   // subnormal accumulator flushed
  EXPECT_EQ(epilogue_bf16(-0.0f, 1.0f), 0x0000);            // +0*C turns -0 into +0
  EXPECT_EQ(epilogue_bf16(1.0f + 0x1p-8f, 1.0f), bf(1.0f));  // bf16 tie to even
}

TEST(CutlassFinalize, FmaChainHandValues) {
  const bool all[3] = {true, true, true};
  // 0.5*3 + 0.25*5 = 2.75 exactly.
  {
    const std::uint16_t rows[2] = {bf(3.0f), bf(5.0f)};
    const float s[2] = {0.5f, 0.25f};
    EXPECT_EQ(finalize_element(rows, 1, s, all, 2), bf(2.75f));
  }
  // Contraction is visible: acc = 1*(-1) = -1, then fma(s, 3, -1) with s = fp32(1/3) =
  // 0x3EAAAAAB: 3s = 1 + 2^-25 exactly, so the fused result is 2^-25 (bf16 0x3300). An
  // unfused multiply would round 3s to 1.0 and return 0.
  {
    const std::uint16_t rows[2] = {bf(-1.0f), bf(3.0f)};
    const float s[2] = {1.0f, f(0x3EAAAAABu)};
    EXPECT_EQ(finalize_element(rows, 1, s, all, 2), 0x3300);
  }
  // An expert not on this rank contributes nothing; stride walks the k rows.
  {
    const std::uint16_t rows[6] = {bf(1.0f), 0, bf(1000.0f), 0, bf(2.0f), 0};
    const float s[3] = {1.0f, 1.0f, 1.0f};
    const bool valid[3] = {true, false, true};
    EXPECT_EQ(finalize_element(rows, 2, s, valid, 3), bf(3.0f));
  }
}

TEST(CutlassW4A16, ScaleConvertorIsExponentBits) {
  EXPECT_EQ(ue8m0_scale_convertor(127), 1.0f);
  EXPECT_EQ(ue8m0_scale_convertor(128), 2.0f);
  EXPECT_EQ(ue8m0_scale_convertor(1), 0x1p-126f);
  EXPECT_EQ(ue8m0_scale_convertor(0), 0.0f);  // not 2^-127: the byte is shifted into the exponent
  EXPECT_TRUE(std::isinf(ue8m0_scale_convertor(255)));
}

// Exact case: activations small integers, weights e2m1, group sums far below 2^24 and scales
// powers of two, so every FDPA step, the scale multiply and the fma are exact and the result
// must equal the double sum of s_g * sum_g a*w.
TEST(CutlassW4A16, PerGroupAccumulatorScalingMatchesExactSum) {
  Rng r(3);
  const std::int64_t k = 128;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::uint16_t> a(k), wv(k);
    std::vector<std::uint8_t> s(k / 32);
    for (std::int64_t j = 0; j < k; ++j) {
      a[j] = bf(static_cast<float>(static_cast<int>(r.uniform() * 15) - 7));
      wv[j] = bf(fmt::fast::e2m1_to_f32(static_cast<std::uint8_t>(r.uniform() * 16) & 0xF));
    }
    for (auto& b : s) b = static_cast<std::uint8_t>(120 + static_cast<int>(r.uniform() * 14));
    Bf16Row ar, wr;
    decode_bf16_row(a.data(), k, ar);
    decode_bf16_row(wv.data(), k, wr);
    double exact = 0;
    for (std::int64_t g = 0; g < k / 32; ++g) {
      double sum = 0;
      for (std::int64_t j = g * 32; j < g * 32 + 32; ++j) sum += double(bf16_to_f32(a[j])) * bf16_to_f32(wv[j]);
      exact += sum * std::ldexp(1.0, s[g] - 127);
    }
    EXPECT_EQ(static_cast<double>(w4a16_mxfp4_dot(ar, wr, s.data(), k)), exact);
  }
}

TEST(CutlassW4A16, ScaleByteZeroDropsItsGroup) {
  const std::int64_t k = 64;
  std::vector<std::uint16_t> a(k, bf(1.0f)), wv(k, bf(2.0f));
  Bf16Row ar, wr;
  decode_bf16_row(a.data(), k, ar);
  decode_bf16_row(wv.data(), k, wr);
  const std::uint8_t s[2] = {0, 127};  // group 0 scaled by +0.0 (scale_convertor), group 1 by 1
  EXPECT_EQ(w4a16_mxfp4_dot(ar, wr, s, k), 64.0f);
  const std::uint8_t s2[2] = {127, 127};
  EXPECT_EQ(w4a16_mxfp4_dot(ar, wr, s2, k), 128.0f);
}

TEST(CutlassFp8, InputQuantizationHandValues) {
  EXPECT_EQ(fmt::fast::e4m3_to_f32(quantize_input_e4m3(bf(1.0f), 16.0f)), 16.0f);
  EXPECT_EQ(fmt::fast::e4m3_to_f32(quantize_input_e4m3(bf(-100.0f), 16.0f)), -448.0f);  // saturates
  EXPECT_EQ(fmt::fast::e4m3_to_f32(quantize_input_e4m3(bf(0x1p-12f), 1.0f)), 0.0f);      // below half of 2^-9
}

// NVFP4 block-scaled dot (GST-FDPA, K=64 steps): with scales in 2^-2..2^1 and K <= 128 every
// group sum, the 35-bit alignment and the fp32 result are exact (products are multiples of
// 2^-8 and bounded by 128*36*4, below 2^24 * 2^-8), so it must equal the double sum. K = 80
// checks the zero-padded tail (codes and scales 0 up to 128).
TEST(CutlassNvfp4, BlockScaledDotMatchesExactSum) {
  Rng r(17);
  const std::uint8_t scale_bytes[4] = {0x28, 0x30, 0x38, 0x40};  // e4m3 0.25, 0.5, 1, 2
  for (std::int64_t k : {64, 80, 128}) {
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<std::uint8_t> pa(static_cast<std::size_t>(k / 2)), pb(pa.size()), sa(static_cast<std::size_t>(k / 16)),
          sb(sa.size());
      for (auto& b : pa) b = static_cast<std::uint8_t>(r.next_u32());
      for (auto& b : pb) b = static_cast<std::uint8_t>(r.next_u32());
      for (auto& b : sa) b = scale_bytes[r.next_u32() % 4];
      for (auto& b : sb) b = scale_bytes[r.next_u32() % 4];
      double exact = 0;
      for (std::int64_t j = 0; j < k; ++j) {
        const auto ca = j % 2 ? pa[j / 2] >> 4 : pa[j / 2] & 0xF, cb = j % 2 ? pb[j / 2] >> 4 : pb[j / 2] & 0xF;
        exact += double(fmt::fast::e2m1_to_f32(static_cast<std::uint8_t>(ca))) * fmt::fast::e2m1_to_f32(static_cast<std::uint8_t>(cb)) *
                 fmt::fast::e4m3_to_f32(sa[j / 16]) * fmt::fast::e4m3_to_f32(sb[j / 16]);
      }
      const Nvfp4Row a = nvfp4_row(pa.data(), sa.data(), k), b = nvfp4_row(pb.data(), sb.data(), k);
      EXPECT_EQ(a.codes.size() % 64, 0u);
      EXPECT_EQ(static_cast<double>(nvfp4_dot(a, b)), exact) << "k=" << k;
    }
  }
}

}  // namespace
}  // namespace moesim::kernels::cutlass
