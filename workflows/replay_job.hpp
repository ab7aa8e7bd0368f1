#pragma once
// The replay job: a trace's recorded routing and weights through a kernel variant on emulated
// memory, diffed per call and stage against the fp64 reference, the trace's golden GPU outputs,
// or another variant (optionally replayed as another FlashInfer version). `moesim replay` is
// parse -> ReplayRequest -> run_replay -> reports::to_text/to_json/to_markdown.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::workflows {

struct ReplayRequest {
  std::string trace;               // HDF5 trace with routing, hidden_states and weights
  std::string variant;             // "" = the trace's context backend, else triton_bf16
  std::string against;             // reference | golden | none | VARIANT; "" = golden if recorded, else reference
  std::string call = "all";        // call index or "all"
  int threads = 0;                 // OpenMP threads (0 = all); results bit-identical for any count
  std::string flashinfer;          // version whose behaviour to replay ("" = the trace's context)
  std::string against_flashinfer;  // replay the other side as this FlashInfer version (version bump)
  std::string triton_config;       // "BM,BN,BK[,GM]" ("" = the trace's tactic, else the variant's)
  bool keep_buffers = false;       // keep the candidate's stage buffers in the result (regress hashes them)
  // Progress: (variant id, call index, stages done, stages total, stage name). Never prints itself.
  std::function<void(const std::string&, std::size_t, std::size_t, std::size_t, const std::string&)> on_stage;
};

struct CallReport {
  std::size_t call = 0;
  std::int64_t num_tokens = 0;
  replay::ReplayResult result;             // candidate replay (buffers dropped unless keep_buffers)
  std::optional<replay::ReplayDiff> diff;  // absent with --against none
};

struct ReplayReport {
  std::string trace;
  std::string variant;
  std::string fidelity;
  std::vector<std::string> assumptions;
  std::string against;  // "reference_fp64", "golden", a variant id, or ""
  int threads = 1;
  std::vector<CallReport> calls;
  bool all_bit_identical() const;
  std::size_t error_findings() const;
};

// "BM,BN,BK[,GM]" onto a Triton variant's params; InputError otherwise.
void apply_triton_config(kernels::VariantSpec& spec, const std::string& cfg);

// Throws InputError on bad input (trace without weights, unknown variant or version, bad call).
ReplayReport run_replay(const ReplayRequest& r);

}  // namespace moesim::workflows
