// Shared NVFP4 MoE pieces against independent references:
//  * the block-scaled dot (GST-FDPA chain) against the exact rational value of the dequantized
//    dot product (integer arithmetic here), exactly where the math is exact and within the
//    model's truncation bound (F = 35 fraction bits below 2^e_max per step, RZ to fp32) on
//    random bit patterns;
//  * quantization + scale layouts: layout round trips, dequantization error per block;
//  * the CuteDSL SwiGLU against double-precision SwiGLU within the SFU approximation bound;
//  * the CuteDSL requantization: exact cases (power-of-two scales), zero and underflow blocks,
//    random blocks within the e2m1/e4m3 rounding bound.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/nvfp4_moe_common.hpp"

namespace moesim::kernels::nvfp4 {
namespace {

constexpr double kE2M1[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};

// e4m3fn value from first principles (bias 7, 3 mantissa bits, subnormals at 2^-6).
double e4m3_value(std::uint32_t b) {
  const int e = (b >> 3) & 0xF, m = b & 7;
  const double v = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return (b & 0x80) ? -v : v;
}

// Alignment exponent of a scale: floor(log2) for normals, the minimum normal exponent -6 for
// subnormals (MMA-Sim reads subnormals at e_min).
int e4m3_exp(std::uint32_t b) {
  const int e = (b >> 3) & 0xF;
  return e == 0 ? -6 : e - 7;
}

// Exact dequantized dot over the logical K: every term is an integer multiple of 2^-20
// (e2m1 products: 2^-2; e4m3 scales: 2^-9 each) and |term| <= 36 * 448^2 * 2^20 < 2^43, so
// the sum of up to 2^17 terms is exact in int64.
struct Exact {
  double value = 0;  // the exact sum (rounded once to double for comparison)
  double abs_sum = 0;
  double max_scale = 0;  // max over non-zero terms of 2^(e(sa) + e(sb)), the groups' alignment exponents
};
Exact exact_dot(const OperandRow& a, const OperandRow& b) {
  std::int64_t sum = 0;
  Exact ex;
  for (std::int64_t k = 0; k < a.k; ++k) {
    const double t = kE2M1[a.codes[k]] * kE2M1[b.codes[k]] * e4m3_value(a.sf[k / 16]) * e4m3_value(b.sf[k / 16]);
    const std::int64_t u = static_cast<std::int64_t>(std::ldexp(t, 20));
    EXPECT_EQ(std::ldexp(static_cast<double>(u), -20), t);
    sum += u;
    ex.abs_sum += std::fabs(t);
    if (t != 0) ex.max_scale = std::max(ex.max_scale, std::ldexp(1.0, e4m3_exp(a.sf[k / 16]) + e4m3_exp(b.sf[k / 16])));
  }
  ex.value = std::ldexp(static_cast<double>(sum), -20);
  return ex;
}

float f32(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

OperandRow random_row(Rng& r, std::int64_t k, bool small) {
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(k / 2)), sf(static_cast<std::size_t>(k / 16));
  for (auto& p : packed) {
    std::uint8_t lo, hi;
    if (small) {  // {0, +-0.5, +-1, +-2}: codes 0,1,2,4 with random sign
      static const std::uint8_t c[4] = {0, 1, 2, 4};
      lo = c[r.below(4)] | (r.below(2) ? 8 : 0);
      hi = c[r.below(4)] | (r.below(2) ? 8 : 0);
    } else {
      lo = static_cast<std::uint8_t>(r.below(16));
      hi = static_cast<std::uint8_t>(r.below(16));
    }
    p = static_cast<std::uint8_t>(lo | (hi << 4));
  }
  for (auto& s : sf) {
    if (small) {
      s = static_cast<std::uint8_t>((5 + r.below(5)) << 3);  // 2^-2 .. 2^2
    } else {
      do s = static_cast<std::uint8_t>(r.below(0x7F)); while (s == 0x7F);  // any finite non-negative e4m3 incl. 0, subnormals
    }
  }
  OperandRow row;
  decode_row(packed.data(), sf.data(), k, row);
  return row;
}

TEST(Nvfp4Dot, ExactWhereTheMathIsExact) {
  const auto& p = sm100_nvfp4_mma();
  ASSERT_EQ(p.algorithm, mma::Algorithm::GST);
  ASSERT_EQ(p.l, 64);
  ASSERT_EQ(p.g, 16);
  Rng r(11);
  for (std::int64_t k : {16, 48, 64, 128, 256, 1024}) {
    for (int it = 0; it < 200; ++it) {
      const OperandRow a = random_row(r, k, true), b = random_row(r, k, true);
      const Exact ex = exact_dot(a, b);
      // Terms are multiples of 2^-6, |sum| <= 16*64*1024 = 2^20: fits 24 bits, so the fp32
      // result must be the exact value.
      ASSERT_EQ(static_cast<double>(f32(block_scaled_dot(p, a, b))), ex.value) << "k=" << k << " it=" << it;
    }
  }
}

TEST(Nvfp4Dot, RandomBitPatternsWithinTruncationBound) {
  const auto& p = sm100_nvfp4_mma();
  Rng r(12);
  int inexact = 0;
  for (std::int64_t k : {16, 64, 96, 256, 2048}) {
    for (int it = 0; it < 300; ++it) {
      const OperandRow a = random_row(r, k, false), b = random_row(r, k, false);
      const Exact ex = exact_dot(a, b);
      const double got = f32(block_scaled_dot(p, a, b));
      // Per fused step: each of the (L/G + 1) terms loses < 2^(e_max - F) with
      // 2^e_max <= 2 * max(scale product, |C|), |C| <= 1.01 * sum|terms|; the RZ conversion
      // loses < 2^-23 |D| (or 2^-149 in the subnormal range).
      const double steps = static_cast<double>(a.k_pad / p.l);
      const double cmax = 1.01 * ex.abs_sum;
      const double bound = steps * ((p.l / p.g + 1) * std::ldexp(2 * std::max(ex.max_scale, cmax), -p.f) +
                                    std::ldexp(cmax, -23) + std::ldexp(1.0, -149));
      ASSERT_LE(std::fabs(got - ex.value), bound) << "k=" << k << " it=" << it << " exact " << ex.value;
      inexact += got != ex.value;
    }
  }
  EXPECT_GT(inexact, 0);  // the bound is exercised, not vacuous
}

TEST(Nvfp4Dot, AccumulatorTruncatesTowardZeroBetweenSteps) {
  // Step 1 accumulates C = 64 * 448^2 (ulp 1 in fp32). Step 2 adds one negative term:
  //  * -2^-10 survives the alignment (lsb 2^(e_max - 35) = 2^-12) and the RZ conversion then
  //    truncates C - 2^-10 toward zero, to the float below C (RNE would give C);
  //  * -2^-18 is below the alignment lsb and is dropped: the result stays C.
  const auto& p = sm100_nvfp4_mma();
  for (int small_exp : {-10, -18}) {
    std::vector<std::uint8_t> pa(64, 0), pb(64, 0), sa(8, 0), sb(8, 0);
    for (int i = 0; i < 32; ++i) pa[i] = pb[i] = 0x22;  // elements 0..63 = 1.0
    for (int g = 0; g < 4; ++g) sa[g] = sb[g] = 0x7E;   // 448
    pa[32] = 0x02;                                       // element 64 = 1.0
    pb[32] = 0x0A;                                       // element 64 = -1.0
    // scales 2^(small_exp/2) each: e4m3 exponent field e+7 (normal) or subnormal 2^-9 * m
    const int half = small_exp / 2;
    const std::uint8_t code = half >= -6 ? static_cast<std::uint8_t>((half + 7) << 3) : static_cast<std::uint8_t>(1 << (half + 9));
    ASSERT_EQ(e4m3_value(code), std::ldexp(1.0, half));
    sa[4] = sb[4] = code;
    OperandRow a, b;
    decode_row(pa.data(), sa.data(), 128, a);
    decode_row(pb.data(), sb.data(), 128, b);
    const double c = 64.0 * 448 * 448;
    ASSERT_EQ(exact_dot(a, b).value, c - std::ldexp(1.0, small_exp));
    const float got = f32(block_scaled_dot(p, a, b));
    if (small_exp == -10) EXPECT_EQ(got, std::nextafter(static_cast<float>(c), 0.0f));
    else EXPECT_EQ(static_cast<double>(got), c);
  }
}

TEST(Nvfp4Quant, LayoutsRoundTripAndDequantError) {
  Rng r(13);
  const std::int64_t rows = 130, cols = 80;  // rows not a multiple of 128, cols/16 = 5 not a multiple of 4
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (auto& v : x) v = static_cast<float>(r.normal() * 3.0);
  const float g = 2688.0f / 14.0f;
  const Nvfp4Matrix m = quantize_rows(x.data(), rows, cols, g, quant::Nvfp4Rule::VllmKernel);
  for (auto l : {quant::SfLayout::Linear, quant::SfLayout::Swizzled128x4, quant::SfLayout::Swizzled8x4}) {
    const auto laid = scales_to_layout(m, l);
    EXPECT_EQ(scales_from_layout(laid.data(), rows, cols, l), m.sf);
  }
  // x ~ e2m1 * e4m3(sf) / g within one e2m1 spacing of the block's top binade (2) plus the
  // e4m3 rounding of the scale (2^-4 relative) per block.
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t b = 0; b < cols / 16; ++b) {
      double amax = 0;
      for (int j = 0; j < 16; ++j) amax = std::max(amax, std::fabs(static_cast<double>(x[row * cols + b * 16 + j])));
      const double unit = amax / 6.0;
      for (int j = 0; j < 16; ++j) {
        const std::int64_t c = b * 16 + j;
        const double deq = static_cast<double>(dequant_element(m, row, c)) / g;
        ASSERT_LE(std::fabs(deq - x[row * cols + c]), unit * 1.0 + unit * 6 * 0.07) << row << "," << c;
      }
    }
}

TEST(Nvfp4Epilogue, SwigluCuteDslWithinSfuBound) {
  Rng r(14);
  for (int i = 0; i < 20000; ++i) {
    const float gate = static_cast<float>(r.normal() * 8), up = static_cast<float>(r.normal() * 8);
    const float alpha = static_cast<float>(std::ldexp(1.0 + r.uniform(), -static_cast<int>(r.below(8))));
    const double ga = static_cast<double>(gate * alpha), ua = static_cast<double>(up * alpha);
    const double ref = ua * ga / (1.0 + std::exp(-ga));
    const float got = swiglu_cutedsl(gate, up, alpha);
    ASSERT_LE(std::fabs(got - ref), std::ldexp(std::fabs(ref), -19) + 1e-37) << gate << " " << up << " " << alpha;
  }
  EXPECT_EQ(swiglu_cutedsl(0.0f, 5.0f, 1.0f), 0.0f);
  // Very negative gate: ex2.approx(+big) = +inf, rcp(inf) = 0, 0 * gate = -0.
  EXPECT_EQ(swiglu_cutedsl(-200.0f, 1.0f, 1.0f), 0.0f);
  EXPECT_TRUE(std::signbit(swiglu_cutedsl(-200.0f, 1.0f, 1.0f)));
}

TEST(Nvfp4Epilogue, RequantCuteDslExactCases) {
  // amax = 6 * 2^k: pv = (6 * f32(1/6)) rounds to 1 exactly, times norm_const 2^j -> a power of
  // two, so the scale byte is e4m3(2^(k+j)) and every e2m1 grid value * 2^k is exact.
  for (int k = -4; k <= 4; ++k)
    for (int j = -2; j <= 2; ++j) {
      float v[16];
      for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(kE2M1[i] * std::ldexp(1.0, k));
      v[3] = static_cast<float>(-6 * std::ldexp(1.0, k));
      std::uint8_t packed[8];
      const std::uint8_t sf = requant_block_cutedsl(v, std::ldexp(1.0f, j), packed);
      EXPECT_EQ(e4m3_value(sf), std::ldexp(1.0, k + j));
      for (int i = 0; i < 16; ++i) {
        const std::uint8_t code = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
        EXPECT_EQ(kE2M1[code] * std::ldexp(1.0, k), static_cast<double>(v[i])) << k << " " << j << " " << i;
      }
    }
  float zero[16] = {};
  std::uint8_t packed[8];
  EXPECT_EQ(requant_block_cutedsl(zero, 100.0f, packed), 0);
  for (auto b : packed) EXPECT_EQ(b, 0);
  // A non-zero block whose scale underflows e4m3: the scale byte is 0, rcp(0) = inf is clamped
  // to FLT_MAX, and every non-zero element saturates to +-6 (what the epilogue's source does).
  float tiny[16] = {};
  tiny[0] = 1e-6f;
  tiny[1] = -1e-6f;
  EXPECT_EQ(requant_block_cutedsl(tiny, 1.0f, packed), 0);
  EXPECT_EQ(packed[0], 0xF7);
}

TEST(Nvfp4Epilogue, RequantCuteDslRandomBlocksWithinRoundingBound) {
  Rng r(15);
  int checked = 0;
  for (int it = 0; it < 5000; ++it) {
    float v[16];
    const double mag = std::ldexp(1.0, static_cast<int>(r.below(20)) - 10);
    for (auto& x : v) x = static_cast<float>(r.normal() * mag);
    const float nc = static_cast<float>(std::ldexp(1.0 + r.uniform(), static_cast<int>(r.below(10))));
    std::uint8_t packed[8];
    const std::uint8_t sf = requant_block_cutedsl(v, nc, packed);
    double amax = 0;
    for (float x : v) amax = std::max(amax, std::fabs(static_cast<double>(x)));
    // The decode scale e4m3(sf)/nc is within 2^-4 (e4m3 RNE) + a few fp32 ulps of amax/6.
    const double s = e4m3_value(sf) / nc;
    const double pv = amax * nc / 6;
    if (pv < std::ldexp(1.0, -6) || pv > 440) continue;  // e4m3 subnormal / saturated scale: bounds below do not apply
    ++checked;
    ASSERT_NEAR(s, amax / 6, amax / 6 * (1.0 / 16 + 1e-6)) << it;
    for (int i = 0; i < 16; ++i) {
      const std::uint8_t code = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
      ASSERT_LE(std::fabs(kE2M1[code] * s - v[i]), s * 1.0 + amax * 0.07) << it << " " << i;
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace moesim::kernels::nvfp4
