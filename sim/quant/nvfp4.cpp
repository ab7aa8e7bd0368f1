#include "sim/quant/nvfp4.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/casts.hpp"
#include "sim/formats/fast.hpp"
#include "sim/quant/e2m1.hpp"
#include "sim/quant/nvfp4_4over6.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::quant {

namespace {

constexpr int kBlock = 16;

struct RuleName {
  Nvfp4Rule rule;
  std::string_view name;
};
constexpr RuleName kRuleNames[] = {
    {Nvfp4Rule::VllmKernel, "vllm-kernel"},        {Nvfp4Rule::VllmTeExact, "flashinfer-te-exact"},
    {Nvfp4Rule::TransformerEngine, "te-ref"},      {Nvfp4Rule::Torchao, "torchao"},
    {Nvfp4Rule::TorchaoSingleLevel, "torchao-single-level"}, {Nvfp4Rule::ModelOpt, "modelopt"},
};

float block_amax(const float* v) {
  float m = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    const float a = std::fabs(v[j]);
    m = a > m ? a : m;
  }
  return m;
}

std::uint8_t torch_e4m3(float f) {  // c10 cast as in PyTorch < 2.13 (checked vs torch 2.11)
  static const fmt::Cast& c = fmt::find_cast("torch<2.13 e4m3fn");
  return static_cast<std::uint8_t>(fmt::apply(c, f32_bits(f)));
}

float clampf(float v, float lo, float hi) {  // torch.clamp: NaN stays NaN
  if (v != v) return v;
  return v < lo ? lo : (v > hi ? hi : v);
}

// Quantizes one 16-element block under `rule`; returns the scale byte and writes 8 bytes.
std::uint8_t quantize_block(const float* v, float g, Nvfp4Rule rule, std::uint8_t* out) {
  const float vmax = block_amax(v);
  std::uint8_t codes[kBlock];
  std::uint8_t sfb = 0;
  switch (rule) {
    case Nvfp4Rule::VllmKernel: {
      // vllm-project/vllm csrc/quantization/fp4/nvfp4_utils.cuh cvt_warp_fp16_to_fp4
      // @07c13c7bdc2a7adcf48a45361392854c50aca466 (same in FlashInfer quantization_utils.cuh
      // v0.6.6..v0.6.11 default branch).
      float sf = g * (vmax * rcp_approx_ftz(6.0f));
      sfb = fmt::fast::f32_to_e4m3_satfinite(sf);  // __nv_fp8_e4m3(float): RNE, satfinite
      sf = fmt::fast::e4m3_to_f32(sfb);
      // Guarded on vecMax, not on SF: a block whose SF underflows to e4m3 0 gets rcp(0) = +Inf
      // (nonzero elements saturate to +-6; 0*Inf = NaN, whose e2m1 code no recording defines).
      const float os = vmax != 0.0f ? rcp_approx_ftz(sf * rcp_approx_ftz(g)) : 0.0f;
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(v[j] * os, E2m1Sign::SignBit);
      break;
    }
    case Nvfp4Rule::VllmTeExact: {
      // FlashInfer quantization_utils.cuh TE_EXACT_NVFP4 branch (v0.6.11+, flashinfer.md §3.2):
      // SF = vecMax * (g * (1/6)); outputScale = 1 / (SF * (1 / g)) with IEEE divisions.
      float sf = vmax * (g * (1.0f / 6.0f));
      sfb = fmt::fast::f32_to_e4m3_satfinite(sf);
      sf = fmt::fast::e4m3_to_f32(sfb);
      // v0.6.11 form (guard on vecMax; 1/0 = +Inf when SF underflows). HEAD wraps it in
      // fminf(.., FLT_MAX), which differs only for such underflowed blocks.
      const float os = vmax != 0.0f ? 1.0f / (sf * (1.0f / g)) : 0.0f;
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(v[j] * os, E2m1Sign::SignBit);
      break;
    }
    case Nvfp4Rule::TransformerEngine: {
      // NVIDIA/TransformerEngine transformer_engine/pytorch/custom_recipes/quantization_nvfp4.py
      // _quantize_blockwise_reference @1a4d3b0da24039197519537286a3edc6d316c954 (1x16, no RHT).
      float senc = std::min(2688.0f / g, FLT_MAX);
      if (senc == 0.0f) senc = 1.0f;
      const float sdec = 1.0f / senc;
      const float mult = senc * (1.0f / 6.0f);  // torch.reciprocal(6.) in fp32
      float ds = std::min(vmax * mult, FLT_MAX);
      ds = clampf(ds, -448.0f, 448.0f);
      sfb = torch_e4m3(ds);
      const float es = std::min(1.0f / (fmt::fast::e4m3_to_f32(sfb) * sdec), FLT_MAX);
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(clampf(v[j] * es, -6.0f, 6.0f), E2m1Sign::LessThanZero);
      break;
    }
    case Nvfp4Rule::Torchao: {
      // pytorch/ao torchao/prototype/mx_formats/nvfp4_tensor.py _nvfp4_quantize (two-level)
      // @02a1bc442cbbd6ddee8719200ac00316e4e45709.
      const float bs = vmax / 6.0f;
      const float sbs = clampf(bs / g, 0x1p-6f, 448.0f);  // E4M3_EPS = finfo(e4m3fn).tiny
      sfb = torch_e4m3(sbs);
      const float total = g * fmt::fast::e4m3_to_f32(sfb);
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(clampf(v[j] / total, -6.0f, 6.0f), E2m1Sign::SignBit);
      break;
    }
    case Nvfp4Rule::TorchaoSingleLevel: {
      const float bs = clampf(vmax / 6.0f, 0x1p-6f, 448.0f);
      sfb = torch_e4m3(bs);
      const float s = fmt::fast::e4m3_to_f32(sfb);
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(clampf(v[j] / s, -6.0f, 6.0f), E2m1Sign::SignBit);
      break;
    }
    case Nvfp4Rule::ModelOpt: {
      // NVIDIA/TensorRT-Model-Optimizer modelopt/torch/quantization/qtensor/nvfp4_tensor.py
      // NVFP4QTensor.quantize @0ad6e5f0ed837e36d3a5010a8fd7f2585939335d.
      float pbs = vmax / (6.0f * g);
      if (pbs == 0.0f) pbs = 1.0f;
      sfb = torch_e4m3(pbs);
      const float d = fmt::fast::e4m3_to_f32(sfb) * g;
      for (int j = 0; j < kBlock; ++j) codes[j] = e2m1_code(v[j] / d, E2m1Sign::LessThanZero);
      break;
    }
  }
  for (int j = 0; j < kBlock; j += 2) out[j / 2] = static_cast<std::uint8_t>(codes[j] | (codes[j + 1] << 4));
  return sfb;
}

}  // namespace

std::string_view nvfp4_rule_name(Nvfp4Rule r) {
  for (const auto& rn : kRuleNames)
    if (rn.rule == r) return rn.name;
  if (const auto p = four_over_six_of(r)) return four_over_six_name(*p);
  return "?";
}

std::vector<Nvfp4Rule> all_nvfp4_rules() {
  std::vector<Nvfp4Rule> out;
  for (const auto& rn : kRuleNames) out.push_back(rn.rule);
  for (const FourOverSix& p : all_four_over_six()) out.push_back(four_over_six_rule(p));
  return out;
}

Nvfp4Rule parse_nvfp4_rule(std::string_view name) {
  std::string known;
  for (const Nvfp4Rule r : all_nvfp4_rules()) {
    if (nvfp4_rule_name(r) == name) return r;
    known += (known.empty() ? "" : ", ") + std::string(nvfp4_rule_name(r));
  }
  throw InputError("--rule", "unknown NVFP4 rule '" + std::string(name) + "' (known: " + known + ")");
}

void GlobalScale::validate(std::int64_t rows, const char* where) const {
  switch (shape) {
    case Shape::PerTensor:
      if (values.size() != 1) throw InputError(where, "per-tensor global scale must have shape [1], got [" + std::to_string(values.size()) + "]");
      break;
    case Shape::PerToken:
      if (static_cast<std::int64_t>(values.size()) != rows)
        throw InputError(where, "per-token global scale must have shape [num_tokens=" + std::to_string(rows) + "], got [" + std::to_string(values.size()) + "]");
      break;
    case Shape::PerExpert: {
      if (values.empty()) throw InputError(where, "per-expert global scale is empty");
      if (expert_offsets.size() != values.size() + 1)
        throw InputError(where, "per-expert global scale [num_experts=" + std::to_string(values.size()) + "] needs num_experts+1 row offsets, got " + std::to_string(expert_offsets.size()));
      if (expert_offsets.front() != 0 || expert_offsets.back() != rows)
        throw InputError(where, "expert row offsets must start at 0 and end at rows=" + std::to_string(rows));
      for (std::size_t e = 0; e + 1 < expert_offsets.size(); ++e)
        if (expert_offsets[e] > expert_offsets[e + 1]) throw InputError(where, "expert row offsets must be non-decreasing (expert " + std::to_string(e) + ")");
      break;
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) throw InputError(where, "global scale [" + std::to_string(i) + "] is not finite");
}

float GlobalScale::for_row(std::int64_t row) const {
  switch (shape) {
    case Shape::PerTensor: return values[0];
    case Shape::PerToken: return values[static_cast<std::size_t>(row)];
    case Shape::PerExpert: {
      const auto it = std::upper_bound(expert_offsets.begin(), expert_offsets.end(), row);
      return values[static_cast<std::size_t>(it - expert_offsets.begin() - 1)];
    }
  }
  return values[0];
}

float global_scale_from_amax(Nvfp4Rule rule, float amax) {
  if (const auto p = four_over_six_of(rule)) {
    if (p->impl == FourOverSix::Impl::TransformerEngine) return amax;  // TE derives S_enc itself
    return static_cast<float>(p->e4m3_max) * 6.0f / amax;              // (E*6)/amax, FlashInfer tests
  }
  switch (rule) {
    case Nvfp4Rule::VllmKernel:
    case Nvfp4Rule::VllmTeExact: return 2688.0f / amax;  // (448*6)/amax as vLLM/FlashInfer tests do
    case Nvfp4Rule::TransformerEngine: return amax;
    case Nvfp4Rule::Torchao:
    case Nvfp4Rule::TorchaoSingleLevel:
    case Nvfp4Rule::ModelOpt: return amax / 2688.0f;
  }
  return amax;
}

std::string nvfp4_global_scale_semantics(Nvfp4Rule rule) {
  if (const auto p = four_over_six_of(rule)) {
    const std::string e = std::to_string(p->e4m3_max * 6);
    if (p->impl == FourOverSix::Impl::TransformerEngine) return "tensor amax (TE computes " + e + "/amax)";
    return "encode: " + e + "/amax";
  }
  switch (rule) {
    case Nvfp4Rule::TransformerEngine: return "tensor amax";
    case Nvfp4Rule::VllmKernel:
    case Nvfp4Rule::VllmTeExact: return "encode: 2688/amax";
    case Nvfp4Rule::TorchaoSingleLevel: return "unused (single-level)";
    default: return "decode: amax/2688";
  }
}

float amax_abs(const float* x, std::int64_t n) {
  float m = 0.0f;
  bool nan = false;
  for (std::int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (a != a) nan = true;
    m = a > m ? a : m;
  }
  return nan ? f32_from_bits(0x7FC00000u) : m;
}

Nvfp4Result quantize_nvfp4(const float* x, std::int64_t rows, std::int64_t cols, const GlobalScale& gs, Nvfp4Rule rule) {
  if (cols % kBlock != 0) throw InputError("nvfp4", "cols=" + std::to_string(cols) + " is not a multiple of the block size 16");
  if (rows < 0 || cols < 0) throw InputError("nvfp4", "negative shape");
  gs.validate(rows, "nvfp4 global_scale");
  load_sfu_tables();  // load outside the parallel region (throws InputError if missing)
  const std::optional<FourOverSix> fos = four_over_six_of(rule);
  if (!fos && nvfp4_rule_name(rule) == "?") throw InputError("nvfp4", "invalid rule value " + std::to_string(static_cast<int>(rule)));
  Nvfp4Result r;
  const std::int64_t kb = cols / kBlock;
  r.packed.assign(static_cast<std::size_t>(rows * cols / 2), 0);
  r.scales.assign(static_cast<std::size_t>(rows * kb), 0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::int64_t row = 0; row < rows; ++row) {
    const float g = gs.for_row(row);
    for (std::int64_t b = 0; b < kb; ++b) {
      const float* v = x + row * cols + b * kBlock;
      std::uint8_t* out = r.packed.data() + row * (cols / 2) + b * (kBlock / 2);
      r.scales[static_cast<std::size_t>(row * kb + b)] = fos ? quantize_block_4over6(v, g, *fos, out) : quantize_block(v, g, rule, out);
    }
  }
  return r;
}

std::vector<float> dequantize_nvfp4(const Nvfp4Result& q, std::int64_t rows, std::int64_t cols, const GlobalScale& gs,
                                    Nvfp4Rule rule) {
  gs.validate(rows, "nvfp4 global_scale");
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  const std::int64_t kb = cols / kBlock;
  for (std::int64_t row = 0; row < rows; ++row) {
    const float g = gs.for_row(row);
    for (std::int64_t b = 0; b < kb; ++b) {
      const float s = fmt::fast::e4m3_to_f32(q.scales[static_cast<std::size_t>(row * kb + b)]);
      float bscale;
      const auto fos = four_over_six_of(rule);
      if (fos && fos->impl == FourOverSix::Impl::TransformerEngine) {
        bscale = s * (1.0f / te_4over6_encode_scale(g, fos->e4m3_max));
      } else if (fos) {
        bscale = s / g;
      } else switch (rule) {
        case Nvfp4Rule::VllmKernel:
        case Nvfp4Rule::VllmTeExact: bscale = s / g; break;  // vLLM dequantize_nvfp4_to_dtype
        case Nvfp4Rule::TransformerEngine: bscale = s * (1.0f / std::min(2688.0f / g, FLT_MAX)); break;
        case Nvfp4Rule::TorchaoSingleLevel: bscale = s; break;
        default: bscale = s * g; break;
      }
      for (int j = 0; j < kBlock; ++j) {
        const std::int64_t i = row * cols + b * kBlock + j;
        const std::uint8_t byte = q.packed[static_cast<std::size_t>(i / 2)];
        out[static_cast<std::size_t>(i)] = fmt::fast::e2m1_to_f32((i & 1) ? (byte >> 4) : (byte & 0xF)) * bscale;
      }
    }
  }
  return out;
}

}  // namespace moesim::quant
