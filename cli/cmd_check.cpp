// moesim check: predict launch failures and contract violations of MoE kernel variants from
// shapes alone (a trace's routing and context, or a model preset and a token count).
// Options -> workflows::CheckRequest -> workflows::run_check -> reports/check_report.
#include <iostream>

#include "cli/check_options.hpp"
#include "cli/registry.hpp"
#include "reports/check_report.hpp"
#include "sim/core/error.hpp"
#include "workflows/check_job.hpp"

namespace moesim::cli {

// The check options, bound into a request; `moesim repro` takes the same ones.
void add_check_options(po::options_description& o, workflows::CheckRequest& r) {
  auto opt_int = [](std::optional<std::int64_t>& dst) {
    return po::value<std::int64_t>()->notifier([&dst](std::int64_t v) { dst = v; });
  };
  o.add_options()
      ("trace", po::value(&r.trace), "trace file (HDF5 trace format v1); or use --preset/--tokens")
      ("preset", po::value(&r.preset), "model preset (models/presets/<name>.json) for a shape-only question")
      ("tokens", po::value(&r.tokens), "tokens per MoE call with --preset (per DP rank with --dp)")
      ("quant", po::value(&r.quant), "override the quant scheme (bf16, fp8_per_tensor, fp8_block128, mxfp8, nvfp4, mxfp4, mxfp4_bf16, int4_w4a16)")
      ("device", po::value(&r.devices)->composing(), "device id or alias (repeatable, or 'all'); default: the trace context's")
      ("flashinfer", po::value(&r.flashinfer)->composing(), "FlashInfer version (repeatable, or 'all'); default: the trace's, else all")
      ("vllm", po::value(&r.vllm), "vLLM revision (e.g. pr43599, v0, pre-34279): chunking, Triton rules, backend via the oracle")
      ("sglang", po::value(&r.sglang), "SGLang revision (e.g. s0, pre-4727)")
      ("backend", po::value(&r.backends)->composing(), "kernel variant: flashinfer_trtllm, flashinfer_cutlass, flashinfer_cutedsl, flashinfer_cutedsl_batched, triton, vllm_moe_align, vllm_deepgemm_moe, sglang_deepgemm_moe, vllm_marlin_moe, vllm_moe_wna16, vllm_cutlass_moe, vllm_gguf_moe, vllm_moe_fused_mul_sum, all (repeatable)")
      ("ep", opt_int(r.ep), "expert-parallel size")
      ("dp", opt_int(r.dp), "data-parallel size")
      ("tp", opt_int(r.tp), "tensor-parallel size (splits the intermediate size)")
      ("dispatch", po::value(&r.dispatch), "EP/DP dispatch: none | allgather | deepep_ht | deepep_ll")
      ("ll-max-tokens", po::value(&r.ll_max_tokens), "DeepEP low-latency num_max_dispatch_tokens_per_rank (default 128)")
      ("max-num-tokens", po::value(&r.max_num_tokens), "max_num_batched_tokens per DP rank (adds profile-run and autotune warm-up worst cases)")
      ("no-synthetic", po::bool_switch()->notifier([&r](bool v) { r.synthetic = !v; }), "do not add the engine's synthetic worst-case calls")
      ("tactic", po::value(&r.tactic), "requested tactic: trtllm 'tile=128', cutlass '128x128x128B/1x1x1', cutedsl 'tile=256'")
      ("trtllm-class", po::value(&r.trtllm_class), "vLLM TRTLLM NVFP4 experts class: auto | monolithic | modular")
      ("global-scale-numel", po::value(&r.global_scale_numel), "numel of the activation global scale passed to the kernel (e.g. num_experts)")
      ("triton-config-dir", po::value(&r.triton_config_dirs)->composing(), "directory of tuned Triton fused_moe JSON files (repeatable)")
      ("env", po::value(&r.env)->composing(), "framework environment variable K=V (repeatable)")
      ("release", po::value(&r.releases)->composing(), "engine-side kernel families: framework release or revision FW@V (vllm@0.7.0, vllm@pr39213; repeatable)")
      ("trait", po::value(&r.traits)->composing(), "deployment fact K=V read by the framework oracle (moe_backend, batched_format, ...), a known-bad condition (per_token_scale) or an engine-side family (NAME=INT, e.g. fused_shared=1); repeatable");
}

namespace {

int run_check(const std::vector<std::string>& args) {
  po::options_description o("check options");
  workflows::CheckRequest req;
  std::string min_sev = "info";
  bool as_json = false;
  add_check_options(o, req);
  o.add_options()
      ("threshold", po::bool_switch(&req.threshold), "find the exact first failing tokens-per-call of every finding")
      ("threshold-cap", po::value(&req.threshold_cap), "upper end of the threshold search (default 2^27)")
      ("min-severity", po::value(&min_sev), "print findings at or above: info | warning | error")
      ("json", po::bool_switch(&as_json), "print a JSON report");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "check TRACE [--device D|all] [--flashinfer V|all] [--vllm REV|--sglang REV] [--backend B|all] "
                     "[--threshold] [--json]\n       check --preset NAME --tokens N --device D ..."))
    return kExitOk;
  const kernels::Severity min_severity = kernels::parse_severity(min_sev);
  const workflows::CheckResult res = workflows::run_check(req);
  if (as_json) std::cout << boost::json::serialize(reports::to_json(res, min_severity)) << "\n";
  else std::cout << reports::to_text(res, min_severity);
  return res.has_error() ? kExitFindings : kExitOk;
}

const Registrar reg("check", "predict kernel crashes and contract violations from shapes (grid, offsets, tiles, scales)", run_check);

}  // namespace
}  // namespace moesim::cli
