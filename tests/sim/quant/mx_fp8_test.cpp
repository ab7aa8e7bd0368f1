// MX scale rules against their definitions evaluated a different way (std::ilogb on exact
// doubles), elements against the generic converter; FP8 granularities and scale shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/convert.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/mx.hpp"

namespace moesim::quant {
namespace {

int clamp_e(int e, int lo, int hi) { return e < lo ? lo : (e > hi ? hi : e); }

TEST(MxScale, RulesAgainstIlogbDefinitions) {
  Rng rng(4);
  struct E {
    MxElem e;
    int emax, mbits;
    double max;
  };
  const E elems[] = {{MxElem::E2M1, 2, 1, 6.0}, {MxElem::E4M3, 8, 3, 448.0}, {MxElem::E5M2, 15, 2, 57344.0}};
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t u = rng.next_u32() & 0x7FFFFFFFu;
    if ((u >> 23) == 0xFF) continue;
    if (i % 7 == 0) u &= 0xFFF80000u;  // more values exactly at/near powers of two
    const float amax = f32_from_bits(u);
    for (const E& el : elems) {
      // floor: ilogb of the exact value (subnormal/zero -> -127 before the shift, as the
      // fp32 exponent field reads 0)
      const int fl = amax >= 0x1p-126f ? std::ilogb(double(amax)) : -127;
      ASSERT_EQ(mx_scale_code(amax, el.e, MxScaleRule::OcpFloor), clamp_e(fl - el.emax, -127, 128) + 127) << u;
      // rceil: ceil(log2(t)) of the fp32 quotient t, saturated to [-127, 127]
      const float t = amax / static_cast<float>(el.max);
      int ce;
      if (t == 0.0f) ce = -127;
      else {
        ce = std::ilogb(double(t));
        if (std::ldexp(1.0, ce) != double(t)) ++ce;
      }
      ASSERT_EQ(mx_scale_code(amax, el.e, MxScaleRule::Rceil), clamp_e(ce, -127, 127) + 127) << u;
      // even: round the significand to mbits fraction bits, halves up, then floor
      if (amax >= 0x1p-126f) {
        const int e = std::ilogb(double(amax));
        const double m = double(amax) / std::ldexp(1.0, e);  // [1, 2)
        const double q = std::floor(m * std::ldexp(1.0, el.mbits) + 0.5) / std::ldexp(1.0, el.mbits);
        const int ev = e + (q >= 2.0 ? 1 : 0);
        ASSERT_EQ(mx_scale_code(amax, el.e, MxScaleRule::Even), clamp_e(ev - el.emax, -127, 128) + 127) << u;
      }
    }
  }
  EXPECT_EQ(mx_scale_code(f32_from_bits(0x7FC00000u), MxElem::E2M1, MxScaleRule::OcpFloor), 0xFF);
}

TEST(MxQuant, ElementsAreGenericRneSatfiniteOfTheScaledValue) {
  Rng rng(8);
  const std::int64_t rows = 16, cols = 128;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = static_cast<float>(rng.normal() * 3.0);
  const fmt::ConvertOptions sat{fmt::Rounding::RNE, fmt::Saturation::SatFinite, {}, false};
  for (MxScaleRule r : {MxScaleRule::OcpFloor, MxScaleRule::Rceil, MxScaleRule::Even})
    for (MxElem e : {MxElem::E2M1, MxElem::E4M3, MxElem::E5M2}) {
      const MxResult q = quantize_mx(x.data(), rows, cols, e, r);
      ASSERT_EQ(q.scales.size(), static_cast<std::size_t>(rows * cols / 32));
      const fmt::Semantics& s = e == MxElem::E2M1 ? fmt::kE2M1 : (e == MxElem::E4M3 ? fmt::kE4M3FN : fmt::kE5M2);
      for (std::int64_t i = 0; i < rows * cols; ++i) {
        const double scale = std::ldexp(1.0, q.scales[i / 32] - 127);
        const float v = static_cast<float>(double(x[i]) / scale);  // exact: power-of-two scaling
        const std::uint32_t want = fmt::convert(fmt::kFP32, s, f32_bits(v), sat);
        const std::uint32_t got = e == MxElem::E2M1 ? ((i & 1) ? q.data[i / 2] >> 4 : q.data[i / 2] & 0xF) : q.data[i];
        ASSERT_EQ(got, want) << mx_rule_name(r) << " " << mx_elem_name(e) << " " << i;
      }
      // OCP floor may saturate (block max lands in [4, 8) for e2m1); rceil never does
      if (r == MxScaleRule::Rceil) {
        const auto d = dequantize_mx(q, rows, cols, e);
        for (std::int64_t b = 0; b < rows * cols / 32; ++b) {
          double amax = 0;
          for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double(x[b * 32 + j])));
          EXPECT_LE(amax / std::ldexp(1.0, q.scales[b] - 127), e == MxElem::E2M1 ? 6.0 : (e == MxElem::E4M3 ? 448.0 : 57344.0));
        }
        (void)d;
      }
    }
}

TEST(MxQuant, FlashinferAndVllmRulesUseApproxReciprocal) {
  // amax = 6: amax * rcp.approx(6) vs 1.0 decides between exponent 127 and 128 under RP.
  std::vector<float> x(32, 0.0f);
  x[3] = 6.0f;
  const MxResult fi = quantize_mx(x.data(), 1, 32, MxElem::E2M1, MxScaleRule::FlashinferRoundUp);
  const MxResult rc = quantize_mx(x.data(), 1, 32, MxElem::E2M1, MxScaleRule::Rceil);
  EXPECT_EQ(rc.scales[0], 127);  // 6/6 = 1 exactly
  EXPECT_TRUE(fi.scales[0] == 127 || fi.scales[0] == 128);
  EXPECT_THROW(quantize_mx(x.data(), 1, 32, MxElem::E4M3, MxScaleRule::VllmExpTrunc), InputError);
  EXPECT_THROW(quantize_mx(x.data(), 1, 32, MxElem::E2M1, MxScaleRule::OcpFloor, 24), InputError);
  EXPECT_THROW(parse_mx_rule("floor"), InputError);
}

TEST(Fp8Quant, GranularitiesShapesAndValues) {
  Rng rng(12);
  const std::int64_t rows = 200, cols = 256;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = static_cast<float>(rng.normal() * 10);
  const fmt::ConvertOptions sat{fmt::Rounding::RNE, fmt::Saturation::SatFinite, {}, false};
  struct G {
    Fp8Granularity g;
    std::int64_t sr, sc, br, bc;
  };
  for (const G& g : {G{Fp8Granularity::PerTensor, 1, 1, rows, cols}, G{Fp8Granularity::PerToken, rows, 1, 1, cols},
                     G{Fp8Granularity::Group1x128, rows, 2, 1, 128}, G{Fp8Granularity::Block128x128, 2, 2, 128, 128}}) {
    const Fp8Result q = quantize_fp8(x.data(), rows, cols, g.g);
    ASSERT_EQ(q.scale_rows, g.sr);
    ASSERT_EQ(q.scale_cols, g.sc);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        const float s = q.scales[(i / g.br) * g.sc + j / g.bc];
        ASSERT_EQ(q.data[i * cols + j], fmt::convert(fmt::kFP32, fmt::kE4M3FN, f32_bits(x[i * cols + j] / s), sat));
      }
    // the block max maps to 448 (or its rounding neighbourhood)
    double amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(double(v)));
    if (g.g == Fp8Granularity::PerTensor) {
      EXPECT_EQ(q.scales[0], static_cast<float>(amax) / 448.0f);
    }
  }
  EXPECT_THROW(quantize_fp8(x.data(), rows, 100, Fp8Granularity::Group1x128), InputError);
  EXPECT_THROW(quantize_fp8(x.data(), rows, cols, Fp8Granularity::PerTensor, "cvt.rn.bf16.f32"), InputError);
}

}  // namespace
}  // namespace moesim::quant
