#include "sim/kernels/api_contracts.hpp"

#include "sim/quant/layout.hpp"

#include <algorithm>

namespace moesim::kernels::contracts {

namespace {
bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
Finding base(const char* id, Severity sev, const std::string& kernel, const std::string& stage) {
  Finding f;
  f.id = id;
  f.severity = sev;
  f.kernel = kernel;
  f.stage = stage;
  return f;
}
}  // namespace

void check_fp4_quantize_global_scale(const LaunchProblem& p, const LaunchEnv& env, const std::string& kernel,
                                     std::vector<Finding>& out) {
  if (!p.act_global_scale_numel || !env.flashinfer || p.quant != "nvfp4") return;
  const auto& c = env.flashinfer->api.fp4_quantize_global_scale;
  const std::int64_t n = *p.act_global_scale_numel;
  std::vector<std::string> values;
  bool allowed = false;
  for (const auto& rule : c.allowed_numel) {
    const std::int64_t want = rule == "1" ? 1 : rule == "num_tokens" ? p.tokens : p.local_experts;
    values.push_back(rule + "=" + std::to_string(want));
    allowed = allowed || n == want;
  }
  const std::string formula = "numel(globalScale) = " + fmt_int(n) + "; allowed {" + join(values) + "}";
  if (c.enforced && !allowed) {
    Finding f = base(finding_id::kScaleShapeContract, Severity::error, kernel, "quantize_act");
    f.message = "fp4_quantize rejects the activation global scale: \"" +
                (c.message.empty() ? std::string("globalScale shape check") : c.message) + "\"";
    f.gpu_error = c.message;
    f.formula = formula;
    f.limit = "numel in {" + join(c.allowed_numel) + "}";
    f.value = n;
    f.upstream = c.source + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  } else if (c.enforced && n != 1 && n == p.tokens && n == p.local_experts) {
    Finding f = base(finding_id::kScaleShapeContract, Severity::error, kernel, "quantize_act");
    f.message = "per-expert global scale [" + fmt_int(n) +
                "] passes the check only because num_tokens == num_experts, and is then applied row-wise "
                "(token t gets expert t's scale): wrong result";
    f.formula = formula;
    f.limit = "numel == num_tokens selects row-wise global scales";
    f.value = n;
    f.upstream = c.source + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  } else if (!c.enforced && n != 1) {
    Finding f = base(finding_id::kScaleShapeContract, Severity::warning, kernel, "quantize_act");
    f.message = "fp4_quantize does not check the global scale shape in this version and reads only globalScale[0]: "
                "a per-token or per-expert scale is silently replaced by its first element";
    f.formula = formula;
    f.limit = "numel == 1 (only element 0 is read)";
    f.value = n;
    f.upstream = c.source + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  }
  if (!p.act_global_scale_dtype.empty() && p.act_global_scale_dtype != "f32") {
    Finding f = base(finding_id::kScaleDtypeContract, Severity::error, kernel, "quantize_act");
    f.message = "activation global scale must be float32 (kernel reinterprets data_ptr as float*)";
    f.formula = "dtype(globalScale) = " + p.act_global_scale_dtype;
    f.limit = "f32";
    f.upstream = c.source + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  }
}

void check_cutlass_act_global_scale(const LaunchProblem& p, const LaunchEnv& env, std::vector<Finding>& out) {
  if (!env.flashinfer || (p.quant != "nvfp4")) return;
  const auto& c = env.flashinfer->api.cutlass_act_global_scale;
  if (p.act_global_scale_numel) {
    const std::int64_t n = *p.act_global_scale_numel;
    bool ok = false;
    std::vector<std::string> values;
    for (const auto& rule : c.allowed_numel) {
      const std::int64_t want = rule == "1" ? 1 : rule == "num_tokens" ? p.tokens : p.local_experts;
      values.push_back(rule + "=" + std::to_string(want));
      ok = ok || n == want;
    }
    if (!ok) {
      Finding f = base(finding_id::kScaleShapeContract, Severity::error, "flashinfer_cutlass", "quantize_act");
      f.message = "fc1/fc2 activation global scale must be a scalar or have one entry per local expert";
      f.formula = "numel(fc1_act_global) = " + fmt_int(n) + "; allowed {" + join(values) + "}";
      f.limit = "ndim() == 0 || size(0) == num_experts_on_rank";
      f.value = n;
      f.upstream = c.source + " @ " + env.flashinfer->tag();
      out.push_back(std::move(f));
    }
  }
  if (!p.act_global_scale_dtype.empty() && p.act_global_scale_dtype != c.dtype) {
    Finding f = base(finding_id::kScaleDtypeContract, Severity::error, "flashinfer_cutlass", "quantize_act");
    f.message = "CHECK_INPUT_TYPE(fc1_act_global, dl_float32) fails";
    f.formula = "dtype(fc1_act_global) = " + p.act_global_scale_dtype;
    f.limit = c.dtype;
    f.upstream = c.source + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  }
}

void check_scale_dtype_and_layout(const LaunchProblem& p, const LaunchEnv& env, const std::string& kernel,
                                  std::vector<Finding>& out) {
  if (!env.flashinfer) return;
  const auto& api = env.flashinfer->api;
  if (!p.weight_scale_dtype.empty()) {
    auto it = api.block_scale_dtypes.find(p.quant);
    if (it != api.block_scale_dtypes.end() && !contains(it->second, p.weight_scale_dtype)) {
      Finding f = base(finding_id::kScaleDtypeContract, Severity::error, kernel, "gemm1");
      f.message = "block-scale dtype does not match the quant scheme: scale bytes are decoded in the wrong format";
      f.formula = "dtype(weight block scales) = " + p.weight_scale_dtype + " for " + p.quant;
      f.limit = "one of {" + join(it->second) + "}";
      f.upstream = api.block_scale_dtype_source + " @ " + env.flashinfer->tag();
      out.push_back(std::move(f));
    }
  }
  auto layout = [&](const std::string& have, const std::map<std::string, std::vector<std::string>>& want_map,
                    const std::string& what, const std::string& src, const std::string& stage) {
    if (have.empty() || (p.quant != "nvfp4" && p.quant != "mxfp4" && p.quant != "mxfp4_bf16")) return;
    quant::parse_layout(have);  // one vocabulary: an unknown tag is bad input (InputError listing the tags)
    auto it = want_map.find(kernel);
    if (it == want_map.end() || contains(it->second, have)) return;
    Finding f = base(finding_id::kLayoutMismatch, Severity::error, kernel, stage);
    f.message = what + " scale layout '" + have + "' is not what " + kernel +
                " reads: scales are applied to the wrong blocks (wrong result, no crash)";
    f.formula = what + " scale layout = " + have;
    f.limit = "one of {" + join(it->second) + "}";
    f.upstream = src + " @ " + env.flashinfer->tag();
    out.push_back(std::move(f));
  };
  layout(p.weight_scale_layout, api.weight_scale_layouts, "weight", api.weight_scale_layout_source, "gemm1");
  layout(p.act_scale_layout, api.act_scale_layouts, "activation", api.act_scale_layout_source, "quantize_act");
}

void check_expert_ids(const LaunchProblem& p, const std::string& kernel, const std::string& upstream,
                      std::vector<Finding>& out) {
  if (p.max_expert_id && *p.max_expert_id >= p.num_experts) {
    Finding f = base(finding_id::kExpertIdRange, Severity::error, kernel, "routing");
    f.message = "routing selects an expert id outside [0, E): counts/offsets are indexed out of bounds";
    f.formula = "max(topk_ids) = " + fmt_int(*p.max_expert_id) + ", E = " + fmt_int(p.num_experts);
    f.limit = "max(topk_ids) < E";
    f.value = *p.max_expert_id;
    f.limit_value = p.num_experts;
    f.upstream = upstream;
    out.push_back(std::move(f));
  }
  if (p.min_expert_id && *p.min_expert_id < (p.ids_masked ? -1 : 0)) {
    Finding f = base(finding_id::kExpertIdRange, Severity::error, kernel, "routing");
    f.message = p.ids_masked ? "negative expert id other than the -1 mask" : "negative expert id without EP masking";
    f.formula = "min(topk_ids) = " + fmt_int(*p.min_expert_id);
    f.limit = p.ids_masked ? "min(topk_ids) >= -1" : "min(topk_ids) >= 0";
    f.value = *p.min_expert_id;
    f.upstream = upstream;
    out.push_back(std::move(f));
  }
  if (p.weight_rows && *p.weight_rows < p.local_experts) {
    Finding f = base(finding_id::kExpertIdRange, Severity::error, kernel, "gemm1");
    f.message = "weights hold fewer experts than the kernel indexes: expert e reads weight rows past the tensor";
    f.formula = "w13.shape[0] = " + fmt_int(*p.weight_rows) + " < local experts = " + fmt_int(p.local_experts);
    f.limit = "w13.shape[0] >= local experts";
    f.value = *p.weight_rows;
    f.limit_value = p.local_experts;
    f.upstream = upstream;
    out.push_back(std::move(f));
  }
}

}  // namespace moesim::kernels::contracts
