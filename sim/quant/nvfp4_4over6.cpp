#include "sim/quant/nvfp4_4over6.hpp"

#include <cfloat>
#include <cmath>

#include "sim/formats/fast.hpp"
#include "sim/quant/e2m1.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::quant {

namespace {

constexpr int kBlock = 16;
constexpr std::uint8_t kTag = 0x40;  // Nvfp4Rule values >= 0x40 encode a FourOverSix

// One candidate: the e4m3 scale byte, its value, the 16 codes and the fp32 error sum.
struct Candidate {
  std::uint8_t sfb = 0;
  float sf = 0.0f;
  std::uint8_t codes[kBlock] = {};
  float err = 0.0f;
};

float err_term(float diff, FourOverSix::Err e) { return e == FourOverSix::Err::MSE ? diff * diff : std::fabs(diff); }

// Elements: cvt.rn.satfinite.e2m1x2.f32 of x*os (hardware sign-bit rule; both kernels).
void encode(const float* v, float os, Candidate& c) {
  for (int j = 0; j < kBlock; ++j) c.codes[j] = e2m1_code(v[j] * os, E2m1Sign::SignBit);
}

// Error of one candidate, accumulated in element order 0..15 with fp32 RN adds (TE: one thread
// per 1x16 group, x0[0..7] then x1[0..7]; FlashInfer: CVT_FP16_TO_FP4_ELTS_PER_THREAD = 16 for
// nvcc >= 12.9 on sm_100+, pairs (2i, 2i+1) in order). `dequant(q)` is the rule's input-domain
// reconstruction of one e2m1 value; in the fp16 ("fast math") domain the candidate is the exact
// product e2m1*e4m3 (cvt.rn.f16x2.e4m3x2 + mul.rn.f16x2: at most 7 significant bits, within
// fp16's range, so exact) compared with x*S_enc.
template <class Dequant>
void accumulate_error(const float* v, const FourOverSix& p, float s_enc, Candidate& c, Dequant dequant) {
  float err = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    const float q = fmt::fast::e2m1_to_f32(c.codes[j]);
    float diff;
    if (p.err_fp16) {
      diff = q * c.sf - v[j] * s_enc;
    } else {
      diff = dequant(q) - v[j];
    }
    err = err + err_term(diff, p.err);
  }
  c.err = err;
}

std::uint8_t finish(const Candidate& c4, const Candidate& c6, std::uint8_t* out, float* err4, float* err6) {
  const Candidate& w = c4.err < c6.err ? c4 : c6;  // ties (and NaN) keep map-to-6
  for (int j = 0; j < kBlock; j += 2) out[j / 2] = static_cast<std::uint8_t>(w.codes[j] | (w.codes[j + 1] << 4));
  if (err4) *err4 = c4.err;
  if (err6) *err6 = c6.err;
  return w.sfb;
}

float block_amax(const float* v) {  // fmaxf(amax, fabsf(v)): NaN elements are skipped
  float m = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    const float a = std::fabs(v[j]);
    m = a > m ? a : m;
  }
  return m;
}

std::uint8_t te_block(const float* v, float amax, const FourOverSix& p, std::uint8_t* out, float* err4, float* err6) {
  // quantize_4over6_nvfp4.cuh compute_scale_pair / make_candidates / accumulate_dequant_error.
  const float vmax = block_amax(v);
  const float s_enc = te_4over6_encode_scale(amax, p.e4m3_max);
  const float base = vmax / 6.0f * s_enc;
  const float s_dec = 1.0f / s_enc;
  Candidate c4, c6;
  c4.sfb = fmt::fast::f32_to_e4m3_satfinite(std::fmin(base * 1.5f, 448.0f));  // static_cast<__nv_fp8_e4m3>
  c6.sfb = fmt::fast::f32_to_e4m3_satfinite(std::fmin(base, 448.0f));
  const float denom = 6.0f * static_cast<float>(p.e4m3_max);  // err_denom = fp4_max * E4M3_MAX
  for (Candidate* c : {&c4, &c6}) {
    c->sf = fmt::fast::e4m3_to_f32(c->sfb);
    const float inv = std::fmin(1.0f / (c->sf * s_dec), FLT_MAX);
    encode(v, inv, *c);
    const float sf = c->sf;
    accumulate_error(v, p, s_enc, *c, [&](float q) { return q * sf * amax / denom; });
  }
  return finish(c4, c6, out, err4, err6);
}

std::uint8_t flashinfer_block(const float* v, float g, const FourOverSix& p, std::uint8_t* out, float* err4,
                              float* err6) {
  // quantization_utils.cuh cvt_warp_fp16_to_fp4, NVFP4_4OVER6_CONFIG branch (rowAmax = 0).
  const float vmax = block_amax(v);
  if (vmax == 0.0f) {  // early return: scale byte 0, all codes 0 (also for -0 inputs)
    for (int j = 0; j < kBlock / 2; ++j) out[j] = 0;
    if (err4) *err4 = 0.0f;
    if (err6) *err6 = 0.0f;
    return 0;
  }
  const bool exact = p.impl == FourOverSix::Impl::FlashInferExact;
  const float sf6 = exact ? (vmax / 6.0f) * g : g * (vmax * rcp_approx_ftz(6.0f));
  const float sf4 = sf6 * 1.5f;
  const float gdec = exact ? 1.0f / g : rcp_approx_ftz(g);
  Candidate c4, c6;
  c4.sfb = fmt::fast::f32_to_e4m3_satfinite(sf4);  // __nv_fp8_e4m3(float): RNE satfinite
  c6.sfb = fmt::fast::f32_to_e4m3_satfinite(sf6);
  for (Candidate* c : {&c4, &c6}) {
    c->sf = fmt::fast::e4m3_to_f32(c->sfb);
    const float os = exact ? std::fmin(1.0f / (c->sf * gdec), FLT_MAX) : rcp_approx_ftz(c->sf * gdec);
    encode(v, os, *c);
    const float sf = c->sf;
    accumulate_error(v, p, g, *c, [&](float q) { return q * sf * gdec; });
  }
  return finish(c4, c6, out, err4, err6);
}

std::string make_name(const FourOverSix& p) {
  const bool te = p.impl == FourOverSix::Impl::TransformerEngine;
  std::string s = te ? "te-4over6" : "flashinfer-4over6";
  if (p.impl == FourOverSix::Impl::FlashInferExact) s += "-exact";
  if (p.err == FourOverSix::Err::MSE) s += "-mse";
  if (p.err_fp16) s += "-fp16err";
  if (te && p.e4m3_max == 448) s += "-e448";
  if (!te && p.e4m3_max == 256) s += "-e256";
  return s;
}

struct Named {
  FourOverSix p;
  std::string name;
};

const std::vector<Named>& table() {
  static const std::vector<Named> t = [] {
    std::vector<Named> out;
    using I = FourOverSix::Impl;
    using E = FourOverSix::Err;
    for (I impl : {I::TransformerEngine, I::FlashInferFast, I::FlashInferExact})
      for (int e4m3 : impl == I::TransformerEngine ? std::vector<int>{256, 448} : std::vector<int>{448, 256})
        for (E err : {E::MAE, E::MSE})
          for (bool fp16 : {false, true}) {
            const FourOverSix p{impl, err, fp16, e4m3};
            out.push_back({p, make_name(p)});
          }
    return out;
  }();
  return t;
}

}  // namespace

float te_4over6_encode_scale(float amax, int e4m3_max) {
  const float num = static_cast<float>(e4m3_max) * 6.0f;  // constexpr fp8_max * fp4_max
  float s = std::fmin(num / amax, FLT_MAX);
  if (amax == 0.0f || s == 0.0f) return 1.0f;
  return s;
}

Nvfp4Rule four_over_six_rule(const FourOverSix& p) {
  return static_cast<Nvfp4Rule>(kTag | (static_cast<unsigned>(p.impl) << 3) | (static_cast<unsigned>(p.err) << 2) |
                                (p.err_fp16 ? 2u : 0u) | (p.e4m3_max == 256 ? 1u : 0u));
}

std::optional<FourOverSix> four_over_six_of(Nvfp4Rule r) {
  const unsigned v = static_cast<unsigned>(r);
  if ((v & 0xC0u) != kTag || ((v >> 3) & 7u) > 2) return std::nullopt;
  FourOverSix p;
  p.impl = static_cast<FourOverSix::Impl>((v >> 3) & 7u);
  p.err = static_cast<FourOverSix::Err>((v >> 2) & 1u);
  p.err_fp16 = (v & 2u) != 0;
  p.e4m3_max = (v & 1u) ? 256 : 448;
  return p;
}

std::string_view four_over_six_name(const FourOverSix& p) {
  for (const Named& n : table())
    if (n.p.impl == p.impl && n.p.err == p.err && n.p.err_fp16 == p.err_fp16 && n.p.e4m3_max == p.e4m3_max) return n.name;
  return "?";
}

const std::vector<FourOverSix>& all_four_over_six() {
  static const std::vector<FourOverSix> v = [] {
    std::vector<FourOverSix> out;
    for (const Named& n : table()) out.push_back(n.p);
    return out;
  }();
  return v;
}

std::uint8_t quantize_block_4over6(const float* v, float g, const FourOverSix& p, std::uint8_t* out, float* err4,
                                   float* err6) {
  if (p.impl == FourOverSix::Impl::TransformerEngine) return te_block(v, g, p, out, err4, err6);
  return flashinfer_block(v, g, p, out, err4, err6);
}

}  // namespace moesim::quant
