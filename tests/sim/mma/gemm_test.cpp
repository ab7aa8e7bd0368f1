// Every fast GEMM path available on this CPU (AVX-512, AVX2, portable) against the scalar
// reference model mma::dot, output by output, on random chains: uniform bit patterns,
// special-heavy operands (NaN, Inf, +-0, subnormals), narrow exponents (cancellation and the
// truncation point), huge exponent spreads (max normals next to subnormals), accumulators that
// dominate the products, special accumulators, and K tails (zero padding). Also the packed
// decoder exhaustively against the model's decoder, sub-ranges of columns and K (what tiled
// callers use), in-place C/D, row-split invariance, and the refusal of unsupported rows.
#include "sim/mma/gemm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/mma/fdpa.hpp"
#include "tests/sim/mma/published_params.hpp"

namespace moesim::mma {
namespace {

// Bit patterns of one format, sorted by class (from the format decoder, not the GEMM code).
struct Classes {
  std::vector<std::uint32_t> nan, inf, zero, sub, normal, max_normal, min_normal;
};

Classes classes_of(Operand op) {
  const fmt::Semantics& s = semantics_of(op);
  Classes c;
  const std::uint32_t n = s.bits >= 32 ? 0 : (1u << s.bits);
  for (std::uint32_t b = 0; b < n; ++b) {
    const fmt::Decoded d = fmt::decode(s, b);
    switch (d.cls) {
      case fmt::Class::NaN: c.nan.push_back(b); break;
      case fmt::Class::Inf: c.inf.push_back(b); break;
      case fmt::Class::Zero: c.zero.push_back(b); break;
      case fmt::Class::Subnormal: c.sub.push_back(b); break;
      case fmt::Class::Normal:
        c.normal.push_back(b);
        if (d.exp == s.exp_field_max() - s.bias - (s.nonfinite == fmt::NonFinite::IEEE ? 1 : 0)) c.max_normal.push_back(b);
        if (d.exp == s.emin()) c.min_normal.push_back(b);
        break;
    }
  }
  return c;
}

std::uint32_t pick(Rng& rng, const std::vector<std::uint32_t>& v, const std::vector<std::uint32_t>& fallback) {
  const auto& u = v.empty() ? fallback : v;
  return u[rng.below(u.size())];
}

enum Mode { kUniform, kSpecial, kNarrow, kSpread, kCDominates, kCSpecial, kModes };
const char* mode_name(int m) {
  static const char* n[] = {"uniform", "special", "narrow", "spread", "c-dominates", "c-special"};
  return n[m];
}

std::uint32_t operand(Rng& rng, Operand op, const Classes& cl, int mode) {
  const fmt::Semantics& s = semantics_of(op);
  switch (mode) {
    case kSpecial: {
      switch (rng.below(8)) {
        case 0: return pick(rng, cl.nan, cl.zero);
        case 1: return pick(rng, cl.inf, cl.max_normal);
        case 2: return pick(rng, cl.zero, cl.zero);
        case 3: return pick(rng, cl.sub, cl.zero);
        default: return pick(rng, cl.normal, cl.normal);
      }
    }
    case kNarrow:
    case kCDominates:
    case kCSpecial: {
      if (rng.below(6) == 0) return pick(rng, cl.zero, cl.zero);
      const int lo = std::max(1, s.bias - 3), hi = std::min(s.exp_field_max() - 1, s.bias + 3);
      const std::uint32_t e = static_cast<std::uint32_t>(lo + static_cast<int>(rng.below(hi - lo + 1)));
      std::uint32_t x = (rng.next_u32() & ((1u << (s.bits - 1)) | ((1u << s.man_bits) - 1))) | (e << s.man_bits);
      const fmt::Decoded d = fmt::decode(s, x);
      return (d.cls == fmt::Class::NaN || d.cls == fmt::Class::Inf) ? pick(rng, cl.normal, cl.normal) : x;
    }
    case kSpread: {
      switch (rng.below(5)) {
        case 0: return pick(rng, cl.max_normal, cl.normal);
        case 1: return pick(rng, cl.sub, cl.normal);
        case 2: return pick(rng, cl.min_normal, cl.normal);
        case 3: return pick(rng, cl.zero, cl.zero);
        default: return pick(rng, cl.normal, cl.normal);
      }
    }
    default: return rng.next_u32() & s.mask();
  }
}

std::uint32_t accumulator(Rng& rng, Operand c, int mode) {
  const bool f16 = c == Operand::FP16;
  switch (mode) {
    case kCDominates: {  // far above (or just above) the products
      const std::uint32_t e = f16 ? 16 + static_cast<std::uint32_t>(rng.below(14)) : 130 + static_cast<std::uint32_t>(rng.below(120));
      return f16 ? ((rng.next_u32() & 0x83FFu) | (e << 10)) : ((rng.next_u32() & 0x807FFFFFu) | (e << 23));
    }
    case kCSpecial: {
      const std::uint32_t sign = rng.next_u32() & (f16 ? 0x8000u : 0x80000000u);
      switch (rng.below(7)) {
        case 0: return f16 ? 0x7E00u | sign : 0x7FC00000u | sign;           // NaN
        case 1: return f16 ? 0x7C00u | sign : 0x7F800000u | sign;           // inf
        case 2: return sign;                                                 // +-0
        case 3: return (rng.next_u32() & (f16 ? 0x3FFu : 0x7FFFFFu)) | sign;  // subnormal
        case 4: return f16 ? 0x7BFFu | sign : 0x7F7FFFFFu | sign;           // max finite
        default: return f16 ? (rng.next_u32() & 0xFFFFu) : rng.next_u32();
      }
    }
    case kNarrow:
    case kSpread:
      if (rng.below(3) == 0) return 0;
      return f16 ? ((rng.next_u32() & 0x83FFu) | 0x3C00u) : ((rng.next_u32() & 0x80FFFFFFu) | 0x3C000000u);
    default: return f16 ? (rng.next_u32() & 0xFFFFu) : rng.next_u32();
  }
}

// Random M x N chains of K elements (K need not be a multiple of L: the packing zero-pads,
// the reference gets explicit zeros) through every path against mma::dot. Returns chains run.
long differential(const FdpaParams& p, long chains, std::uint64_t seed) {
  EXPECT_TRUE(gemm_supported(p)) << p.key();
  const Classes ca = classes_of(p.a), cb = classes_of(p.b);
  // N: 21 = two full panels and a partial one, 37 = a group of four panels and a partial one
  // (the round-toward-zero kernels take panels four at a time), 16 = exactly two panels.
  const int M = 13, kNs[3] = {21, 37, 16};
  const std::vector<SimdPath> paths = available_paths();
  long done = 0;
  Rng rng(seed);
  const long per_mode = std::max<long>(1, chains / kModes / (M * 25));
  for (int mode = 0; mode < kModes; ++mode) {
    for (long rep = 0; rep < per_mode; ++rep) {
      const int N = kNs[rep % 3];
      const int steps = 1 + static_cast<int>(rng.below(4));
      const int tail = rep % 3 == 1 && p.l > 1 ? 1 + static_cast<int>(rng.below(p.l - 1)) : 0;
      const int K = steps * p.l - tail, Kp = steps * p.l;
      std::vector<std::uint16_t> A(static_cast<std::size_t>(M) * K), Bt(static_cast<std::size_t>(N) * K);
      std::vector<std::uint32_t> C(static_cast<std::size_t>(M) * N);
      for (auto& x : A) x = static_cast<std::uint16_t>(operand(rng, p.a, ca, mode));
      for (auto& x : Bt) x = static_cast<std::uint16_t>(operand(rng, p.b, cb, mode));
      for (auto& x : C) x = accumulator(rng, p.c, mode);
      std::vector<std::uint32_t> want(C.size());
      std::vector<std::uint32_t> a(Kp, 0), b(Kp, 0);
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          for (int k = 0; k < K; ++k) {
            a[k] = A[static_cast<std::size_t>(i) * K + k];
            b[k] = Bt[static_cast<std::size_t>(j) * K + k];
          }
          want[static_cast<std::size_t>(i) * N + j] = dot(p, a, b, C[static_cast<std::size_t>(i) * N + j]);
        }
      PackedB pb;
      pb.pack(p, N, K, Bt.data(), K);
      std::vector<const std::uint16_t*> rows;
      for (int i = 0; i < M; ++i) rows.push_back(A.data() + static_cast<std::size_t>(i) * K);
      PackedA pa;
      pa.pack(p, K, rows);
      for (SimdPath path : paths) {
        std::vector<std::uint32_t> D(C.size(), 0xDEADBEEFu);
        gemm_packed(p, path, pa, pb, 0, N, 0, Kp, C.data(), N, D.data(), N);
        for (std::size_t o = 0; o < D.size(); ++o)
          if (D[o] != want[o]) {
            ADD_FAILURE() << p.key() << " path " << path_name(path) << " mode " << mode_name(mode) << " K " << K << " out "
                          << o << ": got 0x" << std::hex << D[o] << " want 0x" << want[o] << " C 0x" << C[o];
            return done;
          }
      }
      done += static_cast<long>(M) * N;
    }
  }
  return done;
}

TEST(FastGemm, Bf16ChainsBitIdenticalToScalarModel) {
  std::printf("paths on this CPU:");
  for (SimdPath p : available_paths()) std::printf(" %s", std::string(path_name(p)).c_str());
  std::printf("\n");
  const long n = differential(test::published("hopper", "wgmma.bf16.f32"), 1'000'000, 1);
  std::printf("hopper wgmma.bf16.f32: %ld chains per path\n", n);
  EXPECT_GE(n, 900'000);
}

TEST(FastGemm, Fp16AndFp8ChainsBitIdenticalToScalarModel) {
  long n = 0;
  n += differential(test::published("hopper", "wgmma.f16.f32"), 200'000, 2);
  n += differential(test::published("hopper", "wgmma.f16.f16"), 100'000, 3);   // RNE-FP16 accumulator
  n += differential(test::published("hopper", "wgmma.e4m3.f32"), 300'000, 4);  // RZ-E8M13, F=13, L=32
  n += differential(test::published("hopper", "wgmma.e5m2.f32"), 300'000, 5);
  n += differential(test::published("hopper", "wgmma.e4m3.f16"), 50'000, 6);
  std::printf("hopper fp16/fp8 rows: %ld chains per path\n", n);
  EXPECT_GE(n, 800'000);
}

TEST(FastGemm, OtherArchitecturesBitIdenticalToScalarModel) {
  long n = 0;
  n += differential(test::published("ampere", "mma.bf16.f32"), 60'000, 7);  // L=8, F=24
  n += differential(test::published("ada", "mma.e4m3.f32"), 60'000, 8);    // L=16, F=13
  n += differential(test::published("volta", "mma.f16.f32"), 30'000, 9);   // L=4, F=23
  n += differential(test::published("turing", "mma.f16.f16"), 30'000, 10);
  n += differential(test::published("rtx-blackwell", "mma.bf16.f32"), 30'000, 11);
  n += differential(test::published("blackwell", "tcgen05.f8f6f4.e4m3.f32"), 60'000, 12);  // L=32, F=25
  n += differential(test::published("blackwell", "tcgen05.f8f6f4.e2m1.f32"), 30'000, 13);
  EXPECT_GE(n, 250'000);
}

// The packed decoder against the model's decoder, every bit pattern of every operand format,
// through the SIMD row decoder (best path) and the portable one (MOESIM_SIMD=scalar).
TEST(FastGemm, PackedDecodeMatchesModelDecoderExhaustively) {
  for (const char* simd : {"", "scalar"})
  for (const char* inst : {"wgmma.bf16.f32", "wgmma.f16.f32", "wgmma.e4m3.f32", "wgmma.e5m2.f32"}) {
    if (*simd) setenv("MOESIM_SIMD", simd, 1);
    const FdpaParams p = test::published("hopper", inst);
    const int n = 1 << semantics_of(p.a).bits;
    std::vector<std::uint16_t> all(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) all[i] = static_cast<std::uint16_t>(i);
    const std::uint16_t* row = all.data();
    PackedA pa;
    pa.pack(p, n, std::span<const std::uint16_t* const>(&row, 1));
    unsetenv("MOESIM_SIMD");
    // The same patterns as B columns (panel layout): lane 3 of panel 0 holds them. 9 columns,
    // so panel 0 is full (the transposing bf16 packer) and panel 1 is partial.
    std::vector<std::uint16_t> bt(static_cast<std::size_t>(n) * 9, 0);
    for (int i = 0; i < n; ++i) bt[static_cast<std::size_t>(n) * 3 + i] = all[i];
    if (*simd) setenv("MOESIM_SIMD", simd, 1);
    PackedB pb;
    pb.pack(p, 9, n, bt.data(), n);
    unsetenv("MOESIM_SIMD");
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(pb.value(3, i), pa.val[i]) << inst << " " << i;
      ASSERT_EQ(pb.exp[PackedB::exp_at(0, i, pb.k_padded()) + 3], pa.exp[i]) << inst << " " << i;
      ASSERT_EQ((pb.special[i / p.l] >> 3) & 1, pa.special[i / p.l]) << inst << " " << i;
      // The sign-split copy and the sign-selected halves of the round-toward-zero kernels.
      const double x = pa.val[i];
      ASSERT_EQ(pb.pn[PackedB::pn_at(0, i, pb.k_padded()) + 3], x > 0 ? x : 0.0) << inst << " " << i;
      ASSERT_EQ(pb.pn[PackedB::pn_at(0, i, pb.k_padded()) + PackedB::kPanel + 3], x < 0 ? x : 0.0) << inst << " " << i;
      ASSERT_EQ(pa.offp[i], x < 0 ? PackedB::kPanel : 0) << inst << " " << i;
      ASSERT_EQ(pa.offn[i], x < 0 ? 0 : PackedB::kPanel) << inst << " " << i;
    }
    // Step maxima of the exponents (the kernels' "C's exponent bounds every product" test).
    for (int st = 0; st < pa.k_padded() / p.l; ++st) {
      std::int32_t m = std::numeric_limits<std::int32_t>::min();
      for (int k = st * p.l; k < (st + 1) * p.l; ++k) m = std::max(m, pa.exp[k]);
      ASSERT_EQ(pa.amax[st], m) << inst << " step " << st;
      ASSERT_EQ(pb.bmax[static_cast<std::size_t>(st) * PackedB::kPanel + 3], m) << inst << " step " << st;
    }
    for (int i = 0; i < n; ++i) {
      const OperandValue v = decode_operand(p.a, static_cast<std::uint32_t>(i));
      const bool special = v.cls == fmt::Class::NaN || v.cls == fmt::Class::Inf;
      ASSERT_EQ(pa.special[i / p.l] != 0 || !special, true) << inst << " " << i;
      if (special || v.m == 0) {
        ASSERT_EQ(pa.val[i], 0.0) << inst << " " << i;
        continue;
      }
      const double want = (v.neg ? -1.0 : 1.0) * std::ldexp(static_cast<double>(v.m), v.q);
      ASSERT_EQ(pa.val[i], want) << inst << " " << i;
      ASSERT_EQ(pa.exp[i], v.e) << inst << " " << i;
    }
  }
}

// Column and K sub-ranges (a Triton tile of a wider B; tile-by-tile K), in-place C/D, and
// gemm_rows with the rows split in two (what callers parallelise over).
TEST(FastGemm, SubRangesInPlaceAndRowSplits) {
  const FdpaParams p = test::published("hopper", "wgmma.bf16.f32");
  const int M = 9, N = 37, K = 80;
  Rng rng(21);
  const Classes cl = classes_of(p.a);
  std::vector<std::uint16_t> A(M * K), Bt(N * K);
  for (auto& x : A) x = static_cast<std::uint16_t>(operand(rng, p.a, cl, rng.below(2) ? kNarrow : kUniform));
  for (auto& x : Bt) x = static_cast<std::uint16_t>(operand(rng, p.b, cl, rng.below(2) ? kNarrow : kUniform));
  std::vector<std::uint32_t> C(M * N);
  for (auto& x : C) x = accumulator(rng, p.c, kNarrow);
  PackedB pb;
  pb.pack(p, N, K, Bt.data(), K);
  std::vector<const std::uint16_t*> rows;
  for (int i = 0; i < M; ++i) rows.push_back(A.data() + i * K);
  PackedA pa;
  pa.pack(p, K, rows);
  const int n0 = 5, n1 = 30, k0 = 16, k1 = 64;
  for (SimdPath path : available_paths()) {
    std::vector<std::uint32_t> D(M * (n1 - n0));
    gemm_packed(p, path, pa, pb, n0, n1, k0, k1, C.data() + n0, N, D.data(), n1 - n0);
    for (int i = 0; i < M; ++i)
      for (int j = n0; j < n1; ++j) {
        std::vector<std::uint32_t> a(A.begin() + i * K + k0, A.begin() + i * K + k1), b(Bt.begin() + j * K + k0, Bt.begin() + j * K + k1);
        ASSERT_EQ(D[i * (n1 - n0) + j - n0], dot(p, a, b, C[i * N + j])) << path_name(path) << " " << i << "," << j;
      }
    // In place, full range, then a zero start (C == nullptr).
    std::vector<std::uint32_t> E = C;
    gemm_packed(p, path, pa, pb, 0, N, 0, K, E.data(), N, E.data(), N);
    std::vector<std::uint32_t> Z(M * N);
    gemm_packed(p, path, pa, pb, 0, N, 0, K, nullptr, 0, Z.data(), N);
    std::vector<std::uint32_t> F(M * N, 7);
    gemm_rows(p, path, M, N, K, A.data(), Bt.data(), C.data(), F.data(), 0, M / 3);
    gemm_rows(p, path, M, N, K, A.data(), Bt.data(), C.data(), F.data(), M / 3, M);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        std::vector<std::uint32_t> a(A.begin() + i * K, A.begin() + (i + 1) * K), b(Bt.begin() + j * K, Bt.begin() + (j + 1) * K);
        ASSERT_EQ(E[i * N + j], dot(p, a, b, C[i * N + j])) << path_name(path);
        ASSERT_EQ(F[i * N + j], E[i * N + j]) << path_name(path);
        ASSERT_EQ(Z[i * N + j], dot(p, a, b, 0u)) << path_name(path);
      }
  }
  EXPECT_THROW(gemm_packed(p, SimdPath::Scalar, pa, pb, 0, N + 1, 0, K, nullptr, 0, C.data(), N), InputError);
  EXPECT_THROW(gemm_packed(p, SimdPath::Scalar, pa, pb, 0, N, 8, K, nullptr, 0, C.data(), N), InputError);
  EXPECT_THROW(gemm_packed(test::published("hopper", "wgmma.f16.f32"), SimdPath::Scalar, pa, pb, 0, N, 0, K, nullptr, 0,
                           C.data(), N),
               InputError);
}

TEST(FastGemm, UnsupportedInstructionsAreRefused) {
  EXPECT_FALSE(gemm_supported(test::published("blackwell", "tcgen05.mxf4nvf4.nvfp4")));   // GST
  EXPECT_FALSE(gemm_supported(test::published("blackwell", "tcgen05.mxf8f6f4.e4m3")));    // ST
  EXPECT_FALSE(gemm_supported(test::published("hopper", "wgmma.tf32.f32")));              // 32-bit operands
  FdpaParams wide = test::published("hopper", "wgmma.bf16.f32");
  wide.f = 60;  // the step sum would not be exact in a double
  EXPECT_FALSE(gemm_supported(wide));
  FdpaParams ez = test::published("hopper", "wgmma.bf16.f32");
  ez.e_zero = -100;  // a zero product could raise e_max above a subnormal C
  EXPECT_FALSE(gemm_supported(ez));
  std::vector<std::uint16_t> a(16), b(16);
  std::vector<std::uint32_t> c(1), d(1);
  EXPECT_THROW(gemm_rows(test::published("hopper", "wgmma.bf16.f32"), SimdPath::Scalar, 1, 1, 15, a.data(), b.data(),
                         c.data(), d.data(), 0, 1),
               InputError);
}

}  // namespace
}  // namespace moesim::mma
