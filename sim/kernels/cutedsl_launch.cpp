#include "sim/kernels/cutedsl_launch.hpp"

#include <algorithm>

#include "sim/kernels/api_contracts.hpp"

namespace moesim::kernels::cutedsl {

std::int64_t max_num_tiles(std::int64_t t, std::int64_t k, std::int64_t l, std::int64_t tile) {
  const std::int64_t tk = t * k;
  return tk <= l ? tk : (tk + (tile - 1) * l) / tile;
}

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  const auto& fi = *env.flashinfer;
  const auto& cd = fi.cute_dsl;
  const std::string at = " @ " + fi.tag();
  auto make = [&](const char* id, Severity s, const std::string& stage) {
    Finding f;
    f.id = id;
    f.severity = s;
    f.kernel = kKernel;
    f.stage = stage;
    f.tokens = p.tokens;
    return f;
  };
  std::string sms;
  for (int s : cd.arch_sms) sms += (sms.empty() ? "" : ", ") + std::to_string(s);
  if (std::find(cd.arch_sms.begin(), cd.arch_sms.end(), env.device->sm) == cd.arch_sms.end()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher");
    f.message = "cute_dsl_fused_moe_nvfp4 is decorated @supported_compute_capability([" + sms + "]) and raises on this device";
    f.formula = "SM " + std::to_string(env.device->sm);
    f.limit = "SM in {" + sms + "}";
    f.upstream = "flashinfer-ai/flashinfer " + cd.arch_source + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  if (std::find(cd.quant.begin(), cd.quant.end(), p.quant) == cd.quant.end()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher");
    f.message = "CuteDSL MoE only implements NVFP4";
    f.formula = "quant = " + p.quant;
    f.limit = "quant = nvfp4";
    f.upstream = "flashinfer-ai/flashinfer " + cd.arch_source + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  if (auto pos = p.tactic.find("tile="); pos != std::string::npos) {
    int tile = 0;
    try { tile = std::stoi(p.tactic.substr(pos + 5)); } catch (...) {}
    if (std::find(cd.tile_sizes.begin(), cd.tile_sizes.end(), tile) == cd.tile_sizes.end()) {
      Finding f = make(finding_id::kTileUnregistered, Severity::error, "gemm1");
      std::string ts;
      for (int t : cd.tile_sizes) ts += (ts.empty() ? "" : ", ") + std::to_string(t);
      f.message = "tactic tile_size " + std::to_string(tile) + " is not in this version's tactic list (stale autotuner cache)";
      f.formula = "tile_size = " + std::to_string(tile);
      f.limit = "tile_size in {" + ts + "}";
      f.upstream = "flashinfer-ai/flashinfer " + cd.tile_source + at;
      out.push_back(std::move(f));
    }
  }
  if (upstream_activation(p.activation, p.gated) != "swiglu") {
    Finding f = make(finding_id::kActivationUnsupported, Severity::error, "gemm1");
    f.message = "the CuteDSL GEMM1 kernel fuses SwiGLU only (blockscaled_contiguous_gather_grouped_gemm_swiglu_fusion_nvfp4)";
    f.formula = "activation = " + upstream_activation(p.activation, p.gated);
    f.limit = "swiglu";
    f.upstream = "flashinfer-ai/flashinfer flashinfer/fused_moe/cute_dsl/fused_moe.py _moe_core_impl" + at;
    out.push_back(std::move(f));
  }
  contracts::check_fp4_quantize_global_scale(p, env, kKernel, out);
  contracts::check_scale_dtype_and_layout(p, env, kKernel, out);
  contracts::check_expert_ids(p, kKernel, "flashinfer-ai/flashinfer flashinfer/fused_moe/cute_dsl/fused_moe.py moe_sort" + at, out);
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv&, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> s{lo};
  // The scale-shape contract changes at T == numel(globalScale).
  if (p.act_global_scale_numel) {
    const std::int64_t n = *p.act_global_scale_numel;
    if (n >= lo && n <= hi) s.push_back(n);
    if (n + 1 >= lo && n + 1 <= hi) s.push_back(n + 1);
  }
  return s;
}

}  // namespace moesim::kernels::cutedsl
