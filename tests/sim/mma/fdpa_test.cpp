// The scalar FDPA model against (1) the paper's worked example with the published
// per-architecture results, (2) hand-derived special-value and e_zero cases, and (3) an
// independent float64 re-implementation of MMA-Sim's fdpa.py (frexp / trunc / ldexp, the
// way the paper's reference computes) on random bit patterns including NaN/Inf/subnormals.
#include "sim/mma/fdpa.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "tests/sim/mma/published_params.hpp"

namespace moesim::mma {
namespace {

using test::published;

std::uint32_t fp16_bits(double v) {  // exact fp16 values only (test inputs)
  if (v == 0) return std::signbit(v) ? 0x8000u : 0u;
  const bool neg = v < 0;
  double a = std::fabs(v);
  int e;
  const double s = std::frexp(a, &e);  // a = s * 2^e, s in [0.5,1)
  int E = e - 1;
  std::uint32_t bits;
  if (E < -14) bits = static_cast<std::uint32_t>(std::ldexp(a, 24));
  else bits = static_cast<std::uint32_t>((E + 15) << 10) | (static_cast<std::uint32_t>(std::ldexp(s * 2, 10)) & 0x3FFu);
  return (neg ? 0x8000u : 0u) | bits;
}
std::uint32_t bf16_bits(double v) { return f32_bits(static_cast<float>(v)) >> 16; }

float out_value(const FdpaParams& p, std::uint32_t bits) {
  if (p.c == Operand::FP16) {
    return static_cast<float>(fmt::to_double(fmt::kFP16, bits));
  }
  return f32_from_bits(bits);
}

// Paper Eq. 10 / Table 8: d = 2^23 + (-2^23) + (-0.5) + (-0.25) + (-0.125), padded with zeros.
double worked_example(const FdpaParams& p) {
  const double av[4] = {-8192.0, -0.5, -0.25, -0.125};
  const double bv[4] = {1024.0, 1.0, 1.0, 1.0};
  std::vector<std::uint32_t> a(p.k, 0), b(p.k, 0);
  auto enc = [&](double v) -> std::uint32_t {
    switch (p.a) {
      case Operand::FP16: return fp16_bits(v);
      case Operand::BF16: return bf16_bits(v);
      case Operand::TF32:
      case Operand::FP32: return f32_bits(static_cast<float>(v));
      case Operand::E5M2: return fp16_bits(v) >> 8;  // e5m2 is the top byte of fp16
      default: ADD_FAILURE() << "no encoder"; return 0;
    }
  };
  for (int i = 0; i < 4; ++i) {
    a[i] = enc(av[i]);
    b[i] = enc(bv[i]);
  }
  const std::uint32_t c = p.c == Operand::FP16 ? 0u : f32_bits(8388608.0f);
  std::vector<std::uint32_t> sa, sb;
  if (p.algorithm == Algorithm::ST) {
    sa.assign(p.k / p.scale_block, 127);  // ue8m0 1.0
    sb = sa;
  }
  return out_value(p, dot(p, a, b, c, sa, sb));
}

TEST(FdpaWorkedExample, PublishedPerArchitectureResults) {
  // Expected values: MMA-Sim paper Table 8 as reproduced in bitaccuracy.md §1.2.
  EXPECT_EQ(worked_example(published("volta", "mma.f16.f32")), 0.0);
  EXPECT_EQ(worked_example(published("turing", "mma.f16.f32")), -0.5);
  EXPECT_EQ(worked_example(published("ampere", "mma.f16.f32")), -0.5);
  EXPECT_EQ(worked_example(published("ampere", "mma.bf16.f32")), -0.5);
  EXPECT_EQ(worked_example(published("ampere", "mma.tf32.f32")), -0.5);
  EXPECT_EQ(worked_example(published("ada", "mma.e5m2.f32")), 0.0);
  EXPECT_EQ(worked_example(published("hopper", "wgmma.f16.f32")), -0.75);
  EXPECT_EQ(worked_example(published("hopper", "wgmma.bf16.f32")), -0.75);
  EXPECT_EQ(worked_example(published("hopper", "wgmma.e5m2.f32")), 0.0);
  EXPECT_EQ(worked_example(published("blackwell", "tcgen05.f16.f32")), -0.75);
  EXPECT_EQ(worked_example(published("blackwell", "tcgen05.f8f6f4.e5m2.f32")), -0.75);
  EXPECT_EQ(worked_example(published("blackwell", "tcgen05.mxf8f6f4.e5m2")), -0.75);
}

TEST(FdpaWorkedExample, Nvfp4GstKeepsEverything) {
  // FPy table8_cases: group 0 encodes -2^23 as (-4*4) * 2^11 * 2^8 ... here with e2m1 and
  // ue8m0 scales: group0 = (-4)(4) * 2^19 = -2^23; group1 = -1*1 - 1*0.5 - 0.5*0.5 = -1.75
  // scaled by 2^-1 -> -0.875. Published NVFP4 result: -0.875 (exact).
  const FdpaParams p = published("blackwell", "tcgen05.mxf4nvf4.mxfp4.block16");
  std::vector<std::uint32_t> a(64, 0), b(64, 0);
  a[0] = 0xE;  // -4
  b[0] = 0x6;  // 4
  a[16] = 0xA; b[16] = 0x2;  // -1 * 1
  a[17] = 0xA; b[17] = 0x1;  // -1 * 0.5
  a[18] = 0x9; b[18] = 0x1;  // -0.5 * 0.5
  std::vector<std::uint32_t> sa = {127 + 11, 127, 127, 127}, sb = {127 + 8, 126, 127, 127};
  const std::uint32_t c = f32_bits(8388608.0f);
  EXPECT_EQ(f32_from_bits(dot(p, a, b, c, sa, sb)), -0.875f);
}

// ---- independent float64 reference (MMA-Sim fdpa.py, re-derived) ---------------------------

struct Sx {
  double s;  // signed significand, |s| < 2 (subnormals < 1); NaN/inf carried as such
  int e;
};

Sx frexp_norm(double x, int e_sub) {
  if (std::isnan(x) || std::isinf(x)) return {x, 0};
  int e;
  double s = std::frexp(x, &e);
  s *= 2;
  e -= 1;
  if (x == 0) return {x, e_sub};
  if (e < e_sub) {
    s = std::ldexp(s, e - e_sub);
    e = e_sub;
  }
  return {s, e};
}

int e_sub_of(Operand op) {
  switch (op) {
    case Operand::FP32: case Operand::TF32: case Operand::BF16: return -126;
    case Operand::FP16: case Operand::E5M2: return -14;
    case Operand::E4M3: return -6;
    case Operand::E2M1: return -14;  // MMA-Sim decodes e2m1 into fp16
    case Operand::UE8M0: return -127;
    case Operand::UE4M3: return -6;
  }
  return 0;
}

double value_of(Operand op, std::uint32_t bits) {
  if (op == Operand::TF32) bits &= ~0x1FFFu;
  return fmt::to_double(semantics_of(op), bits);
}

std::uint32_t ref_output(const FdpaParams& p, double sum, int e_max) {
  if (std::isnan(sum)) return p.c == Operand::FP16 ? 0x7FFFu : 0x7FFFFFFFu;
  const double v = std::ldexp(sum, e_max);
  if (p.c == Operand::FP16) {
    if (std::isinf(v)) return v < 0 ? 0xFC00u : 0x7C00u;
    if (v == 0) return 0;
    Sx n = frexp_norm(v, -14);
    const double r = std::nearbyint(std::ldexp(n.s, 10));  // RNE (default FP environment)
    const double out = std::ldexp(r, n.e - 10);
    if (std::fabs(out) >= 65536.0) return out < 0 ? 0xFC00u : 0x7C00u;
    return fp16_bits(out);
  }
  if (std::isinf(v)) return v < 0 ? 0xFF800000u : 0x7F800000u;
  if (v == 0) return 0;
  Sx n = frexp_norm(v, -126);
  const int prec = p.rho == Rounding::RZ_E8M13 ? 13 : 23;
  const double out = std::ldexp(std::trunc(std::ldexp(n.s, prec)), n.e - prec);
  if (std::fabs(out) >= std::ldexp(1.0, 128)) return out < 0 ? 0xFF800000u : 0x7F800000u;
  if (out == 0) return 0;  // H100: a sum that truncates to zero is +0 (tests/data/mma)
  return f32_bits(static_cast<float>(out));
}

std::uint32_t ref_t_step(const FdpaParams& p, const std::uint32_t* a, const std::uint32_t* b, std::uint32_t c,
                         const std::uint32_t* sa, const std::uint32_t* sb) {
  std::vector<double> s;
  std::vector<int> e;
  double scale_s = 1;
  int scale_e = 0;
  if (p.algorithm == Algorithm::ST) {
    const Sx x = frexp_norm(value_of(*p.scale, sa[0]), e_sub_of(*p.scale));
    const Sx y = frexp_norm(value_of(*p.scale, sb[0]), e_sub_of(*p.scale));
    scale_s = x.s * y.s;
    scale_e = x.e + y.e;
  }
  for (int i = 0; i < p.l; ++i) {
    const Sx x = frexp_norm(value_of(p.a, a[i]), e_sub_of(p.a));
    const Sx y = frexp_norm(value_of(p.b, b[i]), e_sub_of(p.b));
    const double prod = x.s * y.s * scale_s;
    s.push_back(prod);
    e.push_back(prod == 0 ? p.e_zero : x.e + y.e + scale_e);
  }
  const Sx cc = frexp_norm(value_of(p.c, c), e_sub_of(p.c));
  s.push_back(cc.s);
  e.push_back(cc.s == 0 ? p.e_zero : cc.e);
  int e_max = std::numeric_limits<int>::min();
  for (int x : e) e_max = std::max(e_max, x);
  double sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    sum += std::ldexp(std::trunc(std::ldexp(s[i], e[i] - e_max + p.f)), -p.f);
  return ref_output(p, sum, e_max);
}

std::uint32_t ref_gst_step(const FdpaParams& p, const std::uint32_t* a, const std::uint32_t* b, std::uint32_t c,
                           const std::uint32_t* sa, const std::uint32_t* sb) {
  std::vector<double> s;
  std::vector<int> e;
  bool nan = false;
  for (int gi = 0; gi < p.l / p.g; ++gi) {
    double gs = 0;
    bool all_zero = true;
    for (int j = 0; j < p.g; ++j) {
      const double prod = value_of(p.a, a[gi * p.g + j]) * value_of(p.b, b[gi * p.g + j]);
      gs += prod;
      if (prod != 0) all_zero = false;
    }
    const double va = value_of(*p.scale, sa[gi]), vb = value_of(*p.scale, sb[gi]);
    if (std::isnan(va) || std::isnan(vb)) nan = true;
    const Sx x = frexp_norm(va, e_sub_of(*p.scale));
    const Sx y = frexp_norm(vb, e_sub_of(*p.scale));
    s.push_back(gs * x.s * y.s);
    e.push_back(all_zero || x.s * y.s == 0 ? p.e_zero : x.e + y.e);
  }
  const double cv = value_of(p.c, c);
  if (nan || std::isnan(cv)) return 0x7FFFFFFFu;
  if (std::isinf(cv)) return f32_bits(static_cast<float>(cv));
  const Sx cc = frexp_norm(cv, -126);
  s.push_back(cc.s);
  e.push_back(cc.s == 0 ? p.e_zero : cc.e);
  int e_max = std::numeric_limits<int>::min();
  for (int x : e) e_max = std::max(e_max, x);
  double sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    sum += std::ldexp(std::trunc(std::ldexp(s[i], e[i] - e_max + p.f)), -p.f);
  return ref_output(p, sum, e_max);
}

std::uint32_t ref_dot(const FdpaParams& p, const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b,
                      std::uint32_t c, const std::vector<std::uint32_t>& sa, const std::vector<std::uint32_t>& sb) {
  for (int k0 = 0; k0 < p.k; k0 += p.l) {
    if (p.algorithm == Algorithm::GST) {
      std::vector<std::uint32_t> ga, gb;
      for (int g0 = k0; g0 < k0 + p.l; g0 += p.g) {
        ga.push_back(sa[g0 / p.scale_block]);
        gb.push_back(sb[g0 / p.scale_block]);
      }
      c = ref_gst_step(p, &a[k0], &b[k0], c, ga.data(), gb.data());
    } else {
      c = ref_t_step(p, &a[k0], &b[k0], c, sa.empty() ? nullptr : &sa[k0 / p.scale_block],
                     sb.empty() ? nullptr : &sb[k0 / p.scale_block]);
    }
  }
  return c;
}

// Random operand bits: uniform patterns, or (mode 1) exponents squeezed into a narrow band
// so that alignment truncation and cancellation are exercised, with zeros sprinkled in.
std::uint32_t random_bits(Rng& rng, Operand op, int mode) {
  const fmt::Semantics& s = semantics_of(op);
  std::uint32_t x = rng.next_u32() & s.mask();
  if (op == Operand::TF32) x = rng.next_u32();
  if (mode == 1 && s.exp_bits > 1) {
    if (rng.below(8) == 0) return rng.below(2) ? (1u << (s.bits - 1)) : 0u;  // +-0
    const std::uint32_t mid = static_cast<std::uint32_t>(s.bias);
    const std::uint32_t e = mid - 2 + static_cast<std::uint32_t>(rng.below(5));
    const std::uint32_t man = x & ((1u << s.man_bits) - 1u);
    const std::uint32_t sign = s.has_sign ? (x >> (s.bits - 1)) & 1u : 0u;
    x = (sign << (s.bits - 1)) | (e << s.man_bits) | man;
  }
  return x;
}

void random_against_reference(const FdpaParams& p, int trials) {
  Rng rng(0x5EED0000u + static_cast<std::uint64_t>(p.k * 131 + p.f));
  int checked_nan = 0;
  for (int t = 0; t < trials; ++t) {
    const int mode = t % 3 == 2 ? 1 : 0;
    std::vector<std::uint32_t> a(p.k), b(p.k), sa, sb;
    for (auto& x : a) x = random_bits(rng, p.a, mode);
    for (auto& x : b) x = random_bits(rng, p.b, mode);
    std::uint32_t c = random_bits(rng, p.c, mode);
    if (mode == 1 && t % 2) c = 0;
    if (p.scale) {
      const int ns = p.k / p.scale_block;
      for (int i = 0; i < ns; ++i) {
        std::uint32_t u = rng.next_u32() & 0xFF, v = rng.next_u32() & 0xFF;
        if (mode == 1) { u = 120 + (u & 15); v = 120 + (v & 15); }
        sa.push_back(u);
        sb.push_back(v);
      }
    }
    const std::uint32_t got = dot(p, a, b, c, sa, sb);
    const std::uint32_t want = ref_dot(p, a, b, c, sa, sb);
    if (got == kNaN32) ++checked_nan;
    ASSERT_EQ(got, want) << p.key() << " trial " << t;
  }
  (void)checked_nan;
}

TEST(FdpaRandom, MatchesFloat64ReferenceOnEveryPublishedInstruction) {
  for (const FdpaParams& p : test::published_table()) random_against_reference(p, 3000);
}

// ---- hand-derived special values -----------------------------------------------------------

TEST(FdpaSpecial, NanInfSemantics) {
  const FdpaParams p = published("hopper", "wgmma.bf16.f32");
  std::vector<std::uint32_t> a(16, 0x3F80), b(16, 0x3F80);  // 1.0 each: sum 16
  const std::uint32_t one = f32_bits(1.0f);
  EXPECT_EQ(f32_from_bits(dot(p, a, b, one)), 17.0f);
  auto with = [&](std::uint32_t a0, std::uint32_t b0, std::uint32_t a1, std::uint32_t b1, std::uint32_t c) {
    auto x = a, y = b;
    x[0] = a0; y[0] = b0; x[1] = a1; y[1] = b1;
    return dot(p, x, y, c);
  };
  EXPECT_EQ(with(0x7FC0, 0x3F80, 0x3F80, 0x3F80, one), kNaN32);                // NaN in A
  EXPECT_EQ(with(0xFF81, 0x3F80, 0x3F80, 0x3F80, one), kNaN32);                // negative sNaN too
  EXPECT_EQ(with(0x7F80, 0x0000, 0x3F80, 0x3F80, one), kNaN32);                // inf * 0
  EXPECT_EQ(with(0x7F80, 0x3F80, 0xFF80, 0x3F80, one), kNaN32);                // inf - inf
  EXPECT_EQ(with(0x7F80, 0x3F80, 0x3F80, 0x3F80, 0xFF800000u), kNaN32);        // inf + (-inf C)
  EXPECT_EQ(with(0x7F80, 0xBF80, 0x3F80, 0x3F80, one), 0xFF800000u);           // inf * -1 = -inf
  EXPECT_EQ(with(0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x7FC00001u), kNaN32);        // NaN C
  EXPECT_EQ(with(0x3F80, 0x3F80, 0x3F80, 0x3F80, 0x7F800000u), 0x7F800000u);   // inf C
  // Overflow of the finite sum goes to inf even under RZ: 16 * (2^127 * 1.5) ...
  std::vector<std::uint32_t> big(16, 0x7F40), one16(16, 0x3F80);
  EXPECT_EQ(dot(p, big, one16, 0u), 0x7F800000u);
  // ... while the same below 2^128 truncates: 2^127 + 2^126 fits (1.5 * 2^127).
  std::vector<std::uint32_t> z(16, 0), zz(16, 0x3F80);
  z[0] = 0x7F00; z[1] = 0x7E80;
  EXPECT_EQ(dot(p, z, zz, 0u), f32_bits(1.5f * 0x1p127f));
}

TEST(FdpaSpecial, ZeroSumIsPositiveZero) {
  const FdpaParams p = published("hopper", "wgmma.bf16.f32");
  std::vector<std::uint32_t> a(16, 0x8000), b(16, 0x3F80);  // -0 * 1
  EXPECT_EQ(dot(p, a, b, 0x80000000u), 0u);
  a[0] = 0x3F80; a[1] = 0xBF80;  // 1 - 1
  EXPECT_EQ(dot(p, a, b, 0x80000000u), 0u);
}

TEST(FdpaSpecial, E4m3HasNoInfAndOneNaN) {
  const FdpaParams p = published("hopper", "wgmma.e4m3.f32");
  std::vector<std::uint32_t> a(32, 0), b(32, 0);
  a[0] = 0x7E; b[0] = 0x7E;  // 448*448 = 200704, exact in 13 fraction bits
  EXPECT_EQ(f32_from_bits(dot(p, a, b, 0u)), 200704.0f);
  a[1] = 0x7F; b[1] = 0x38;  // NaN * 1
  EXPECT_EQ(dot(p, a, b, 0u), kNaN32);
  a[1] = 0x78;  // 256, finite
  EXPECT_EQ(f32_from_bits(dot(p, a, b, 0u)), 200960.0f);
}

TEST(FdpaSpecial, E8M13OutputTruncatesLowTenBits) {
  const FdpaParams p = published("hopper", "wgmma.e4m3.f32");
  std::vector<std::uint32_t> a(32, 0), b(32, 0);
  const std::uint32_t c = 0x3F800FFFu;  // 1 + 4095 * 2^-23: needs 23 bits
  // e_max = 0, F = 13: C is truncated at 2^-13 -> 1 + 0x0C00 * 2^-23 ... then RZ-E8M13.
  EXPECT_EQ(dot(p, a, b, c), 0x3F800C00u);
}

TEST(FdpaSpecial, EZeroDecidesTheTruncationPoint) {
  // Derived from MMA-Sim's probe (fdpa_exponent_for_zero.py): two tiny products among zeros.
  // 2^-23 * 2^-126 = 2^-149 and -(2^-29) * 2^-126 = -2^-155; zeros pin e_max >= e_zero.
  // e_zero = -133, F = 25: quantum 2^-158 keeps -2^-155; sum just below 2^-149 -> RZ -> 0.
  // If zeros read -126 instead, the quantum would be 2^-151 and the result 2^-149 (bit 1).
  const FdpaParams p = published("hopper", "wgmma.bf16.f32");
  std::vector<std::uint32_t> a(16, 0), b(16, 0);
  a[0] = bf16_bits(0x1p-23); b[0] = 0x0080;  // 2^-126
  a[1] = bf16_bits(-0x1p-29); b[1] = 0x0080;
  EXPECT_EQ(dot(p, a, b, 0u), 0u);
  FdpaParams q = p;
  q.e_zero = -126;
  EXPECT_EQ(dot(q, a, b, 0u), 1u);
}

TEST(FdpaSpecial, Ue4m3SignIgnoredAndNaNScale) {
  const FdpaParams p = published("blackwell", "tcgen05.mxf4nvf4.nvfp4");
  std::vector<std::uint32_t> a(64, 0x2), b(64, 0x2);  // 1 * 1, 64 times
  std::vector<std::uint32_t> s(4, 0x38), neg(4, 0xB8);  // 1.0 and "-1.0" (sign ignored)
  EXPECT_EQ(f32_from_bits(dot(p, a, b, 0u, s, s)), 64.0f);
  EXPECT_EQ(f32_from_bits(dot(p, a, b, 0u, neg, s)), 64.0f);
  s[2] = 0x7F;
  EXPECT_EQ(dot(p, a, b, 0u, s, neg), kNaN32);
}

TEST(FdpaShapes, RejectsWrongK) {
  const FdpaParams p = published("hopper", "wgmma.bf16.f32");
  std::vector<std::uint32_t> a(15, 0), b(15, 0);
  EXPECT_THROW(dot(p, a, b, 0u), InputError);
}

}  // namespace
}  // namespace moesim::mma

namespace moesim::mma {
namespace {
TEST(FdpaSpecial, NegativeSumTruncatedToZeroIsPositiveZero) {
  // Recorded on the H100 (tests/data/mma/wgmma_bf16.bin): -2^-150 -> RZ fp32 -> 0x00000000.
  const FdpaParams p = test::published("hopper", "wgmma.bf16.f32");
  std::vector<std::uint32_t> a(16, 0), b(16, 0);
  a[0] = 0xB380;  // -2^-24
  b[0] = 0x0080;  // 2^-126: product -2^-150, kept exactly (zeros pin e_max at -133)
  EXPECT_EQ(dot(p, a, b, 0u), 0u);
  EXPECT_EQ(dot(p, a, b, 0x80000000u), 0u);
}
}  // namespace
}  // namespace moesim::mma
