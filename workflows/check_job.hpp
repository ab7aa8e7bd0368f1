#pragma once
// The check job: a trace or a model preset with a token count, a deployment (devices, library
// and framework versions, parallelism) -> the launch and contract findings. When a framework
// revision is named and no backend is, the framework's oracle picks the backend first, as the
// engine would at that revision. `moesim check` is parse -> CheckRequest -> run_check ->
// reports::to_text/to_json; repro and bump call the same function.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replay/check/engine.hpp"
#include "replay/check/workload.hpp"
#include "replay/oracle/oracle.hpp"

namespace moesim::workflows {

struct CheckRequest {
  // What is checked: a trace, or a preset with a token count (shape only).
  std::string trace;                        // HDF5 trace path
  std::string preset;                       // models/presets/<name>.json
  std::int64_t tokens = 0;                  // tokens per MoE call with a preset (per DP rank with dp > 1)
  std::string quant;                        // overrides the model's quant scheme ("" = keep)
  std::int64_t global_scale_numel = 0;      // numel of the activation global scale (0 = unknown)
  // Where: targets (empty = the trace context's; "all" = every one).
  std::vector<std::string> devices, flashinfer, backends, triton_config_dirs;
  std::string vllm, sglang;                 // framework revision (at most one)
  std::vector<std::string> env;             // framework env vars "K=V"
  // Engine-side kernel families (models/launch): "FW@V" releases or revisions, "K=V" traits (read by the framework oracle,
  // known-bad conditions or a family; NAME=INT for engine-side families).
  std::vector<std::string> releases, traits;
  std::optional<std::int64_t> ep, dp, tp;   // unset = the trace context's, else 1
  std::string dispatch = "none";            // none | allgather | deepep_ht | deepep_ll
  std::int64_t ll_max_tokens = 128;         // DeepEP LL num_max_dispatch_tokens_per_rank
  std::int64_t max_num_tokens = 0;          // max_num_batched_tokens per DP rank (0 = unknown)
  bool synthetic = true;                    // add the engine's synthetic worst-case calls
  std::string tactic;
  std::string trtllm_class = "auto";        // auto | monolithic | modular
  bool threshold = false;                   // exact first failing tokens per call of every finding
  std::int64_t threshold_cap = std::int64_t(1) << 27;
  std::string models_dir;                   // "" = moesim::models_dir()
};

struct CheckResult {
  check::Workload workload;                     // what was checked (model, context, calls)
  check::CheckReport report;                    // findings, targets, notes
  std::optional<oracle::OracleDecision> decision;  // the framework oracle's pick, when consulted
  bool has_error() const;                       // an error-severity finding
};

// The workload a request describes (reads the trace or the preset). InputError on bad input.
check::Workload load_workload(const CheckRequest& r);

// The whole job. Throws InputError on bad input (unknown device, version, preset, ...).
CheckResult run_check(const CheckRequest& r);
// Same, on a workload already built (repro varies its token counts).
CheckResult run_check(const CheckRequest& r, check::Workload w);

}  // namespace moesim::workflows
