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
#include "traces/trace.hpp"

namespace moesim::workflows {

struct ReplayRequest {
  std::string trace;               // HDF5 trace with routing, hidden_states and weights
  std::string variant;             // "" = the trace's context backend, else triton_bf16
  std::string against;             // reference | golden | none | VARIANT; "" = golden if recorded, else reference
  std::string call = "all";        // call index or "all"
  std::string layer = "all";       // multi-layer traces: a layer index or "all"
  int threads = 0;                 // OpenMP threads (0 = all); results bit-identical for any count
  std::string flashinfer;          // version whose behaviour to replay ("" = the trace's context)
  std::string against_flashinfer;  // replay the other side as this FlashInfer version (version bump)
  std::string triton_config;       // "BM,BN,BK[,GM]" ("" = the trace's tactic, else the variant's)
  bool keep_buffers = false;       // keep the candidate's stage buffers in the result (regress hashes them)
  bool no_timings = false;         // report 0 s for every wall-clock time (byte-comparable reports)
  bool local = false;              // replay every selected call in this process, even under MPI (regress distributes whole cases)
  // Progress: (variant id, call index, stages done, stages total, stage name). Never prints itself.
  std::function<void(const std::string&, std::size_t, std::size_t, std::size_t, const std::string&)> on_stage;
};

struct CallReport {
  std::size_t call = 0;
  std::int64_t layer = -1;                 // multi-layer traces: the call's layer; -1 otherwise
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
  bool multi_layer = false;  // calls carry their layer; reports add a per-layer summary
  std::vector<CallReport> calls;  // in trace call order
  bool all_bit_identical() const;
  std::size_t error_findings() const;
};

// "BM,BN,BK[,GM]" onto a Triton variant's params; InputError otherwise.
void apply_triton_config(kernels::VariantSpec& spec, const std::string& cfg);

// Throws InputError on bad input (trace without weights, unknown variant or version, bad call).
// Under MPI (replay/ranks.hpp, more than one rank) the selected calls are split over the ranks
// (replay_partition); every rank replays its share, rank 0 gathers the call reports in call
// order and returns the whole report, the others return an empty one (docs/scale-out.md).
ReplayReport run_replay(const ReplayRequest& r);

// The calls a replay request selects, in trace call order ((call index, layer) pairs; layer -1
// for single-layer traces). InputError for a bad --call / --layer.
std::vector<std::pair<std::size_t, std::int64_t>> selected_calls(const traces::Trace& t, const ReplayRequest& r);

// Static partition of `n` items (the selected calls, ordered by (layer, call index)) over
// `ranks`: rank r gets the contiguous block [r*n/ranks, (r+1)*n/ranks). Contiguous blocks keep
// a rank's calls on as few layers as possible, so it opens as few layers' weights as possible.
std::vector<std::size_t> replay_partition(std::size_t n, int ranks, int rank);

}  // namespace moesim::workflows
