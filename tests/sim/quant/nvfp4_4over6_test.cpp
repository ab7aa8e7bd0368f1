// NVFP4 4-over-6 rules (TE and FlashInfer variants) against an independent reference: both
// candidate scales and every element decided in exact double arithmetic with the generic
// fmt::convert, away from rounding boundaries and near-equal candidate errors; hand-computed
// blocks (exact ties keep map-to-6, a block where map-to-4 wins); NaN/Inf as the kernels
// behave; "never worse than map-to-6" measured exactly; the FlashInfer map-to-6 candidate
// equals the hardware-anchored vllm-kernel rule; names, global scales and roundtrips.
#include "sim/quant/nvfp4_4over6.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/casts.hpp"
#include "sim/formats/convert.hpp"
#include "sim/formats/semantics.hpp"
#include "sim/quant/nvfp4.hpp"

namespace moesim::quant {
namespace {

// ----------------------------------------------------------------------- reference

// Nearest e4m3 / e2m1 by the generic converter, with the distance (relative) to the nearest
// rounding midpoint so callers can stay away from ties.
double e4m3_value(std::uint32_t code) { return fmt::to_double(fmt::kE4M3FN, code); }

struct Rounded {
  std::uint32_t code;
  bool near_tie;
};

Rounded e4m3_of(double s) {  // RNE satfinite, positive s
  fmt::ConvertOptions o;
  o.rounding = fmt::Rounding::RNE;
  o.saturation = fmt::Saturation::SatFinite;
  const std::uint32_t c = fmt::convert(fmt::kFP32, fmt::kE4M3FN, f32_bits(static_cast<float>(s)), o);
  bool near = false;
  for (std::uint32_t b = 0; b < 0x7E; ++b) {
    const double mid = (e4m3_value(b) + e4m3_value(b + 1)) / 2;
    near |= std::fabs(s - mid) <= 1e-5 * mid;
  }
  return {c, near};
}

Rounded e2m1_of(double t) {  // sign from t's sign bit (hardware cvt)
  fmt::ConvertOptions o;
  o.rounding = fmt::Rounding::RNE;
  o.saturation = fmt::Saturation::SatFinite;
  const double tc = std::clamp(t, -1e30, 1e30);  // keep the float cast defined (NaN passes)
  const std::uint32_t c = fmt::convert(fmt::kFP32, fmt::kE2M1, f32_bits(static_cast<float>(tc)), o);
  const double a = std::fabs(t);
  bool near = false;
  for (double mid : {0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0}) near |= std::fabs(a - mid) <= 1e-5 * std::max(1.0, a);
  return {c, near};
}

double e2m1_value(std::uint32_t c) { return fmt::to_double(fmt::kE2M1, c); }

struct RefCandidate {
  std::uint32_t sfb = 0;
  double sf = 0;
  std::uint32_t codes[16] = {};
  double err = 0;   // exact, in the rule's error domain
  bool doubtful = false;  // a rounding decision was too close to call in double
};

struct RefBlock {
  RefCandidate c4, c6;
};

// The real-number contract of one variant: S = encode scale (TE: E*6/amax; FlashInfer: g).
RefBlock reference(const float* v, double g, const FourOverSix& p) {
  const bool te = p.impl == FourOverSix::Impl::TransformerEngine;
  const double S = te ? (p.e4m3_max * 6.0) / g : g;
  double vmax = 0;
  for (int j = 0; j < 16; ++j) vmax = std::max(vmax, std::fabs(double(v[j])));
  RefBlock r;
  const double base = vmax / 6.0 * S;
  int idx = 0;
  for (RefCandidate* c : {&r.c4, &r.c6}) {
    const double s = std::min(idx++ == 0 ? 1.5 * base : base, 448.0);
    const Rounded rs = e4m3_of(s);
    c->sfb = rs.code;
    c->sf = e4m3_value(rs.code);
    c->doubtful = rs.near_tie;
    for (int j = 0; j < 16; ++j) {
      const double x = v[j];
      double t;
      if (c->sf == 0) {  // TE and FlashInfer-exact: fminf(1/0, FLT_MAX); FlashInfer-fast: rcp(0) = +Inf
        t = p.impl == FourOverSix::Impl::FlashInferFast ? x * HUGE_VAL : x * double(std::numeric_limits<float>::max());
      } else {
        t = x * S / c->sf;
      }
      const Rounded re = e2m1_of(t);
      c->codes[j] = re.code;
      c->doubtful |= re.near_tie;
      const double q = e2m1_value(re.code);
      const double diff = p.err_fp16 ? q * c->sf - x * S : q * c->sf / S - x;
      c->err += p.err == FourOverSix::Err::MSE ? diff * diff : std::fabs(diff);
    }
  }
  return r;
}

std::vector<float> test_blocks(std::uint64_t seed, int nblocks, float amax) {
  Rng rng(seed);
  std::vector<float> x(static_cast<std::size_t>(nblocks) * 16);
  for (int b = 0; b < nblocks; ++b) {
    float* v = x.data() + b * 16;
    const int kind = static_cast<int>(rng.below(8));
    const double mag = amax * std::ldexp(1.0, -static_cast<int>(rng.below(kind == 7 ? 30 : 12)));
    for (int j = 0; j < 16; ++j) {
      double val = rng.normal() * mag / 3;
      if (kind == 1 && j > 0) val = v[0];                    // all-equal block
      if (kind == 2) val = (rng.below(4) == 0) ? 0.0 : val;  // sparse
      if (kind == 3 && j == 5) val = mag;                    // one outlier
      v[j] = static_cast<float>(std::clamp(val, -double(amax), double(amax)));
    }
    if (kind == 4)
      for (int j = 0; j < 16; ++j) v[j] = (j & 1) ? -0.0f : 0.0f;  // zero block with -0
  }
  return x;
}

std::uint32_t code_of(const std::uint8_t* packed, int j) { return (packed[j / 2] >> (4 * (j & 1))) & 0xF; }

// ----------------------------------------------------------------------- tests

TEST(Nvfp4FourOverSix, EveryVariantMatchesTheExactReferenceAwayFromTies) {
  const float amax = 3.0f;
  const auto x = test_blocks(11, 3000, amax);
  const int nb = static_cast<int>(x.size() / 16);
  for (const FourOverSix& p : all_four_over_six()) {
    const Nvfp4Rule rule = four_over_six_rule(p);
    const float g = global_scale_from_amax(rule, amax);
    const Nvfp4Result q = quantize_nvfp4(x.data(), 1, static_cast<std::int64_t>(x.size()),
                                         GlobalScale{GlobalScale::Shape::PerTensor, {g}, {}}, rule);
    int checked = 0, picked4 = 0, checked_zero_blocks = 0;
    for (int b = 0; b < nb; ++b) {
      const float* v = x.data() + b * 16;
      const RefBlock r = reference(v, g, p);
      bool zero = true;
      for (int j = 0; j < 16; ++j) zero &= v[j] == 0.0f;
      const bool flashinfer = p.impl != FourOverSix::Impl::TransformerEngine;
      if (zero) {  // both errors 0 -> map-to-6; FlashInfer returns early with all-zero codes
        ASSERT_EQ(q.scales[b], 0) << four_over_six_name(p);
        for (int j = 0; j < 16; ++j)
          ASSERT_EQ(code_of(q.packed.data() + b * 8, j), flashinfer ? 0u : (std::signbit(v[j]) ? 8u : 0u)) << four_over_six_name(p);
        ++checked_zero_blocks;
        continue;
      }
      if (r.c4.doubtful || r.c6.doubtful) continue;
      const double e4 = r.c4.err, e6 = r.c6.err;
      if (std::fabs(e4 - e6) <= 1e-4 * std::max(e4, e6)) continue;  // fp32 sums may order them either way
      const RefCandidate& w = e4 < e6 ? r.c4 : r.c6;
      picked4 += e4 < e6;
      ASSERT_EQ(q.scales[b], w.sfb) << four_over_six_name(p) << " block " << b << " e4=" << e4 << " e6=" << e6;
      for (int j = 0; j < 16; ++j) ASSERT_EQ(code_of(q.packed.data() + b * 8, j), w.codes[j]) << four_over_six_name(p) << " " << b << " " << j;
      ++checked;
    }
    EXPECT_GT(checked + checked_zero_blocks, nb * 3 / 4) << four_over_six_name(p);
    EXPECT_GT(picked4, checked / 10) << four_over_six_name(p) << ": map-to-4 should win often on random data";
    EXPECT_LT(picked4, checked * 9 / 10) << four_over_six_name(p);
    EXPECT_GT(checked_zero_blocks, 100);
  }
}

TEST(Nvfp4FourOverSix, NeverWorseThanMapToSixMeasuredExactly) {
  const float amax = 1.0f;
  const auto x = test_blocks(12, 2000, amax);
  for (const FourOverSix& p : all_four_over_six()) {
    const Nvfp4Rule rule = four_over_six_rule(p);
    const float g = global_scale_from_amax(rule, amax);
    const GlobalScale gs{GlobalScale::Shape::PerTensor, {g}, {}};
    const Nvfp4Result q = quantize_nvfp4(x.data(), 1, static_cast<std::int64_t>(x.size()), gs, rule);
    for (std::size_t b = 0; b < x.size() / 16; ++b) {
      const float* v = x.data() + b * 16;
      const RefBlock r = reference(v, g, p);
      if (r.c6.doubtful) continue;
      // the chosen bytes, re-measured in the rule's error domain with exact arithmetic
      const bool te = p.impl == FourOverSix::Impl::TransformerEngine;
      const double S = te ? (p.e4m3_max * 6.0) / g : g, sf = e4m3_value(q.scales[b]);
      double err = 0;
      for (int j = 0; j < 16; ++j) {
        const double qv = e2m1_value(code_of(q.packed.data() + b * 8, j));
        const double diff = p.err_fp16 ? qv * sf - double(v[j]) * S : qv * sf / S - v[j];
        err += p.err == FourOverSix::Err::MSE ? diff * diff : std::fabs(diff);
      }
      ASSERT_LE(err, r.c6.err * (1 + 1e-5) + 1e-30) << four_over_six_name(p) << " block " << b;
    }
  }
}

TEST(Nvfp4FourOverSix, HandComputedBlocks) {
  // Global scale chosen so that the encode scale is exactly 1: FlashInfer g = 1; TE amax = 6*E.
  for (const FourOverSix& p : all_four_over_six()) {
    const bool te = p.impl == FourOverSix::Impl::TransformerEngine;
    const float g = te ? 6.0f * p.e4m3_max : 1.0f;
    std::uint8_t out[8];
    float e4 = -1, e6 = -1;
    // Exact tie: {6, 3, 0, ...}: map-to-6 (scale 1.0 = 0x38) gives 6, 3; map-to-4 (scale 1.5 =
    // 0x3C) gives 4, 2 -> 6, 3. Both errors are 0: map-to-6 is kept.
    float tie[16] = {6, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(quantize_block_4over6(tie, g, p, out, &e4, &e6), 0x38) << four_over_six_name(p);
    EXPECT_EQ(e4, 0.0f);
    EXPECT_EQ(e6, 0.0f);
    EXPECT_EQ(out[0], 0x57);  // codes 7 (6.0) and 5 (3.0)
    // All-equal block of 6: also an exact tie -> 0x38, every code 6.0.
    float eq[16];
    for (float& f : eq) f = 6.0f;
    EXPECT_EQ(quantize_block_4over6(eq, g, p, out), 0x38) << four_over_six_name(p);
    for (int j = 0; j < 8; ++j) EXPECT_EQ(out[j], 0x77);
    // {6, 5}: map-to-6 rounds 5 (a tie between 4 and 6) to even 4, error 1 (MSE 1); map-to-4:
    // 5/1.5 = 3.33 -> 3, reconstructs 4.5, error 0.5 (0.25); 6/1.5 = 4 exact. Map-to-4 wins.
    float win[16] = {6, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(quantize_block_4over6(win, g, p, out, &e4, &e6), 0x3C) << four_over_six_name(p);
    EXPECT_EQ(out[0], 0x56);  // codes 6 (4.0 -> 6.0) and 5 (3.0 -> 4.5)
    EXPECT_LT(e4, e6);
    // Negative mirror: same choice, sign bits set.
    float neg[16] = {-6, -5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(quantize_block_4over6(neg, g, p, out), 0x3C);
    EXPECT_EQ(out[0], 0xDE);
  }
}

TEST(Nvfp4FourOverSix, NanAndInfFollowTheKernels) {
  // NaN elements do not enter the block max (fmaxf); their error is NaN for both candidates,
  // NaN < NaN is false, so map-to-6 is kept. An Inf element drives both scales to 448 (TE
  // fminf(.., 448); FlashInfer satfinite), its code saturates to 6, both errors are Inf: map-to-6.
  for (const FourOverSix& p : all_four_over_six()) {
    const bool te = p.impl == FourOverSix::Impl::TransformerEngine;
    const float g = te ? 6.0f * p.e4m3_max : 1.0f;
    std::uint8_t out[8], ref_out[8];
    float nan_block[16] = {6, 5, std::numeric_limits<float>::quiet_NaN(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    float e4 = 0, e6 = 0;
    EXPECT_EQ(quantize_block_4over6(nan_block, g, p, out, &e4, &e6), 0x38) << four_over_six_name(p);
    EXPECT_TRUE(std::isnan(e4) && std::isnan(e6));
    EXPECT_EQ(out[0], 0x67);  // 6 -> code 7, 5 -> 4.0 (even) = code 6
    EXPECT_EQ(out[1] & 0xF, 0x7);  // NaN element: e2m1 has no NaN; converter convention +6
    float inf_block[16] = {1, std::numeric_limits<float>::infinity(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(quantize_block_4over6(inf_block, g, p, out, &e4, &e6), 0x7E) << four_over_six_name(p);
    EXPECT_EQ(out[0] >> 4, 0x7);
    (void)ref_out;
  }
}

TEST(Nvfp4FourOverSix, SubnormalScaleBlocksAndUnderflow) {
  // Blocks far below the tensor amax get e4m3-subnormal scales (or 0): compare with the exact
  // reference as above on purpose-built tiny blocks.
  const float amax = 1000.0f;
  std::vector<float> x;
  Rng rng(3);
  for (int b = 0; b < 600; ++b)
    for (int j = 0; j < 16; ++j) x.push_back(static_cast<float>(rng.normal() * std::ldexp(1.0, -6 - static_cast<int>(rng.below(14)))));
  for (const FourOverSix& p : all_four_over_six()) {
    const Nvfp4Rule rule = four_over_six_rule(p);
    const float g = global_scale_from_amax(rule, amax);
    const auto q = quantize_nvfp4(x.data(), 1, static_cast<std::int64_t>(x.size()), GlobalScale{GlobalScale::Shape::PerTensor, {g}, {}}, rule);
    int checked = 0, subnormal = 0;
    for (std::size_t b = 0; b < x.size() / 16; ++b) {
      const RefBlock r = reference(x.data() + b * 16, g, p);
      if (r.c4.doubtful || r.c6.doubtful || r.c6.sf == 0) continue;
      if (std::fabs(r.c4.err - r.c6.err) <= 1e-4 * std::max(r.c4.err, r.c6.err)) continue;
      const RefCandidate& w = r.c4.err < r.c6.err ? r.c4 : r.c6;
      ASSERT_EQ(q.scales[b], w.sfb) << four_over_six_name(p) << " " << b;
      for (int j = 0; j < 16; ++j) ASSERT_EQ(code_of(q.packed.data() + b * 8, j), w.codes[j]);
      subnormal += (w.sfb & 0x78) == 0;
      ++checked;
    }
    EXPECT_GT(checked, 300) << four_over_six_name(p);
    EXPECT_GT(subnormal, 50) << four_over_six_name(p);
  }
}

TEST(Nvfp4FourOverSix, FlashInferMapToSixIsTheVllmKernelRule) {
  // FlashInfer's map-to-6 candidate uses the default branch's exact op order
  // (g*(vmax*rcp(6)), rcp(SF*rcp(g))), so wherever map-to-6 is kept the bytes equal the
  // vllm-kernel rule (hardware-anchored on the H100).
  const float amax = 5.0f;
  const auto x = test_blocks(21, 3000, amax);
  const FourOverSix p{FourOverSix::Impl::FlashInferFast, FourOverSix::Err::MAE, false, 448};
  const float g = global_scale_from_amax(four_over_six_rule(p), amax);
  ASSERT_EQ(g, global_scale_from_amax(Nvfp4Rule::VllmKernel, amax));
  const auto v = quantize_nvfp4(x.data(), 1, static_cast<std::int64_t>(x.size()), GlobalScale{GlobalScale::Shape::PerTensor, {g}, {}},
                                Nvfp4Rule::VllmKernel);
  int same = 0;
  for (std::size_t b = 0; b < x.size() / 16; ++b) {
    std::uint8_t out[8];
    float e4, e6;
    const std::uint8_t s = quantize_block_4over6(x.data() + b * 16, g, p, out, &e4, &e6);
    bool zero = true;
    for (int j = 0; j < 16; ++j) zero &= x[b * 16 + j] == 0.0f;
    if (e4 < e6 || zero) continue;
    ASSERT_EQ(s, v.scales[b]) << b;
    for (int j = 0; j < 8; ++j) ASSERT_EQ(out[j], v.packed[b * 8 + j]) << b;
    ++same;
  }
  EXPECT_GT(same, 500);
}

// TE's second source, pytorch/custom_recipes/reference_nvfp4.py
// _quantize_blockwise_4over6_reference @d0067d0d (non-fast error path), transcribed in fp32
// torch semantics: torch e4m3 cast after clamp(+-448), clamp(x*enc, +-6) and cast_to_fp4x2
// (sign = x < 0, so -0 -> 0x0). It must agree with the CUDA model except where x*enc is -0.
TEST(Nvfp4FourOverSix, TeCudaModelAgreesWithTePythonReference) {
  const fmt::Cast& torch_e4m3 = fmt::find_cast("torch<2.13 e4m3fn");
  const float amax = 7.0f;
  const auto x = test_blocks(31, 3000, amax);
  for (const FourOverSix& p : all_four_over_six()) {
    if (p.impl != FourOverSix::Impl::TransformerEngine || p.err_fp16) continue;
    const Nvfp4Rule rule = four_over_six_rule(p);
    const auto q = quantize_nvfp4(x.data(), 1, static_cast<std::int64_t>(x.size()), GlobalScale{GlobalScale::Shape::PerTensor, {amax}, {}}, rule);
    const float gES = std::min(static_cast<float>(p.e4m3_max) * 6.0f / amax, std::numeric_limits<float>::max());
    const float gDS = 1.0f / gES;
    const float denom = 6.0f * static_cast<float>(p.e4m3_max);
    for (std::size_t b = 0; b < x.size() / 16; ++b) {
      const float* v = x.data() + b * 16;
      float vmax = 0;
      for (int j = 0; j < 16; ++j) vmax = std::max(vmax, std::fabs(v[j]));
      const float base = vmax / 6.0f * gES;
      std::uint32_t sfb[2], codes[2][16];
      bool negzero[2][16];
      float err[2] = {0, 0};
      for (int c = 0; c < 2; ++c) {
        const float s = std::clamp(c == 0 ? base * 1.5f : base, -448.0f, 448.0f);
        sfb[c] = fmt::apply(torch_e4m3, f32_bits(s));
        const float sf = static_cast<float>(e4m3_value(sfb[c]));
        const float enc = std::min(1.0f / (sf * gDS), std::numeric_limits<float>::max());
        for (int j = 0; j < 16; ++j) {
          const float t = std::clamp(v[j] * enc, -6.0f, 6.0f);
          fmt::ConvertOptions o;
          std::uint32_t code = fmt::convert(fmt::kFP32, fmt::kE2M1, f32_bits(std::fabs(t)), o);
          if (t < 0) code |= 8;
          codes[c][j] = code;
          negzero[c][j] = t == 0.0f && std::signbit(t);  // -0: Python 0x0, hardware cvt 0x8
          float val = static_cast<float>(e2m1_value(code)) * sf;
          val = val * amax;
          val = val / denom;
          const float diff = val - v[j];
          err[c] = err[c] + (p.err == FourOverSix::Err::MSE ? diff * diff : std::fabs(diff));
        }
      }
      const int w = err[0] < err[1] ? 0 : 1;
      ASSERT_EQ(q.scales[b], sfb[w]) << four_over_six_name(p) << " block " << b;
      for (int j = 0; j < 16; ++j) {
        const std::uint32_t got = code_of(q.packed.data() + b * 8, j);
        ASSERT_EQ(got, negzero[w][j] ? 0x8u : codes[w][j]) << four_over_six_name(p) << " " << b << " " << j;
      }
    }
  }
}

TEST(Nvfp4FourOverSix, NamesGlobalScalesAndRoundtrip) {
  std::set<std::string> names;
  for (const FourOverSix& p : all_four_over_six()) {
    const Nvfp4Rule r = four_over_six_rule(p);
    const std::string n(nvfp4_rule_name(r));
    EXPECT_TRUE(names.insert(n).second) << n;
    EXPECT_EQ(parse_nvfp4_rule(n), r);
    const auto back = four_over_six_of(r);
    ASSERT_TRUE(back);
    EXPECT_EQ(four_over_six_rule(*back), r);
  }
  EXPECT_EQ(names.size(), 24u);
  EXPECT_TRUE(names.count("te-4over6") && names.count("flashinfer-4over6") && names.count("flashinfer-4over6-exact-mse-fp16err-e256"));
  // The TE default is MAE, input-domain error, E = 256 (recipe defaults).
  const auto te = four_over_six_of(parse_nvfp4_rule("te-4over6"));
  EXPECT_EQ(te->e4m3_max, 256);
  EXPECT_EQ(te->err, FourOverSix::Err::MAE);
  EXPECT_FALSE(te->err_fp16);
  EXPECT_FALSE(four_over_six_of(Nvfp4Rule::VllmKernel));
  EXPECT_EQ(te_4over6_encode_scale(0.0f, 256), 1.0f);
  EXPECT_EQ(te_4over6_encode_scale(1536.0f, 256), 1.0f);
  EXPECT_EQ(te_4over6_encode_scale(1e-45f, 448), std::numeric_limits<float>::max());
  // roundtrip: with the block max mapped to 4 or 6, every element is within one grid step of
  // the scale, i.e. |x - dq| <= vmax/4 * 1.0 (half of the largest step 2 at scale vmax/4).
  Rng rng(4);
  const std::int64_t rows = 16, cols = 256;
  std::vector<float> x(rows * cols);
  for (auto& f : x) f = static_cast<float>(rng.normal());
  const float amax = amax_abs(x.data(), rows * cols);
  for (const FourOverSix& p : all_four_over_six()) {
    const Nvfp4Rule r = four_over_six_rule(p);
    const GlobalScale g{GlobalScale::Shape::PerTensor, {global_scale_from_amax(r, amax)}, {}};
    const auto d = dequantize_nvfp4(quantize_nvfp4(x.data(), rows, cols, g, r), rows, cols, g, r);
    for (std::int64_t i = 0; i < rows * cols; ++i) {
      double vmax = 0;
      for (int j = 0; j < 16; ++j) vmax = std::max(vmax, std::fabs(double(x[i / 16 * 16 + j])));
      ASSERT_LE(std::fabs(double(d[i]) - x[i]), vmax / 4 * 1.07) << four_over_six_name(p) << " " << i;
    }
  }
}

}  // namespace
}  // namespace moesim::quant
