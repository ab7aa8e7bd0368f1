#include "sim/kernels/cutedsl_masked_launch.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "sim/core/error.hpp"

#include "sim/kernels/api_contracts.hpp"

namespace moesim::kernels::cutedsl_masked {

int elts_per_thread(const models::CuteDslMaskedProfile& prof, const LaunchEnv& env) {
  // The 16-element path needs nvcc >= 12.9 and SM100+ (#if in quantization.cuh); --trait nvcc=V
  // names the toolkit, default assumed recent.
  {
    if (auto it = env.traits.find("nvcc"); it != env.traits.end()) {
      int maj = 0, min = 0;
      if (std::sscanf(it->second.c_str(), "%d.%d", &maj, &min) < 1)
        throw InputError("--trait nvcc", "expected a CUDA version like 12.8, got '" + it->second + "'");
      if (maj < prof.wide_nvcc_major || (maj == prof.wide_nvcc_major && min < prof.wide_nvcc_minor))
        return prof.elts_per_thread;
    }
  }
  return env.device->sm >= 100 ? prof.elts_per_thread_wide : prof.elts_per_thread;
}

std::int64_t max_int32_intermediate(std::int64_t l, std::int64_t m, std::int64_t k, bool silu, int elts) {
  const std::int64_t cols = k / elts;
  const std::int64_t actual = silu ? 2 * cols : cols;
  const std::int64_t loop_bound = l * m * cols;
  const std::int64_t in_off = (l * m - 1) * actual;
  return std::max(loop_bound, in_off);
}

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  const auto& fi = *env.flashinfer;
  const auto& prof = fi.cute_dsl_masked;
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
  for (int s : prof.arch_sms) sms += (sms.empty() ? "" : ", ") + std::to_string(s);
  if (std::find(prof.arch_sms.begin(), prof.arch_sms.end(), env.device->sm) == prof.arch_sms.end()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher");
    f.message = "the CuteDSL masked grouped GEMM (grouped_gemm_nt_masked) is built for SM {" + sms + "} only";
    f.formula = "SM " + std::to_string(env.device->sm);
    f.limit = "SM in {" + sms + "}";
    f.upstream = "flashinfer-ai/flashinfer " + prof.arch_source + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  if (std::find(prof.quant.begin(), prof.quant.end(), p.quant) == prof.quant.end()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher");
    f.message = "the masked CuteDSL MoE path is NVFP4 only (scaled_fp4_grouped_quantize + FP4 grouped GEMM)";
    f.formula = "quant = " + p.quant;
    f.limit = "quant = nvfp4";
    f.upstream = "vllm-project/vllm " + prof.framework_source;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  if (!p.batched_layout) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher");
    f.message = "the masked path takes the batched [l, m, H] layout of the DeepEP low-latency dispatcher only "
                "(use --dispatch deepep_ll)";
    f.formula = "activation format = standard";
    f.limit = "batched experts format";
    f.upstream = "vllm-project/vllm " + prof.framework_source;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  const std::int64_t l = p.local_experts, m = p.tokens;
  const int elts = elts_per_thread(prof, env);
  // Global scale: [l] (n_experts = input_global_scale.shape[0]; ICHECK mask.shape[0] == n_experts).
  if (p.act_global_scale_numel && *p.act_global_scale_numel != l) {
    Finding f = make(finding_id::kScaleShapeContract, Severity::error, "quantize_act");
    f.message = "input_global_scale must hold one value per local expert: the quantize kernel reads SFScale[expert_idx] "
                "and the binding checks mask.shape[0] == input_global_scale.shape[0]";
    f.formula = "numel(input_global_scale) = " + fmt_int(*p.act_global_scale_numel) + ", l = " + fmt_int(l);
    f.limit = "numel == l (local experts)";
    f.value = *p.act_global_scale_numel;
    f.limit_value = l;
    f.upstream = "flashinfer-ai/flashinfer " + prof.global_scale_source + at;
    out.push_back(std::move(f));
  }
  struct Stage {
    const char* name;
    std::int64_t k;
    bool silu;
    const char* what;
  };
  const Stage stages[] = {
      {"quantize_act", p.hidden, false, "scaled_fp4_grouped_quantize(hidden [l, m, H])"},
      {"act_quant2", p.intermediate, p.gated, p.gated ? "silu_and_mul_scaled_nvfp4_experts_quantize([l, m, 2I])"
                                                      : "scaled_fp4_grouped_quantize(act [l, m, I])"}};
  for (const Stage& s : stages) {
    const std::int64_t v = max_int32_intermediate(l, m, s.k, s.silu, elts);
    if (v <= INT_MAX) continue;
    Finding f = make(finding_id::kInt32OffsetOverflow, Severity::error, s.name);
    const std::int64_t cols = s.k / elts;
    f.message = std::string(s.what) + ": cvt_fp16_to_fp4_expert's int element index wraps; rows of the last experts "
                "are skipped or read/written out of bounds";
    f.formula = "max(l*m*colsPerRow, (l*m - 1)*" + std::string(s.silu ? "2*" : "") + "colsPerRow), colsPerRow = " +
                fmt_int(s.k) + "/" + std::to_string(elts) + " = " + fmt_int(cols) + ": l = " + fmt_int(l) + ", m = " +
                fmt_int(m) + " -> " + fmt_int(v);
    f.limit = "<= INT32_MAX (2,147,483,647)";
    f.value = v;
    f.limit_value = INT_MAX;
    f.upstream = "flashinfer-ai/flashinfer " + prof.quantize_source + at;
    f.details.emplace_back("elts_per_thread", std::to_string(elts));
    out.push_back(std::move(f));
  }
  contracts::check_scale_dtype_and_layout(p, env, kKernel, out);
  contracts::check_expert_ids(p, kKernel, "vllm-project/vllm " + prof.framework_source, out);
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv&, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> s{lo};
  if (p.act_global_scale_numel) {
    for (std::int64_t n : {*p.act_global_scale_numel, *p.act_global_scale_numel + 1})
      if (n >= lo && n <= hi) s.push_back(n);
  }
  return s;
}

}  // namespace moesim::kernels::cutedsl_masked
