#pragma once
// Synthetic traces from model presets: seeded, reproducible routing (and optionally
// activations and random weights) for shape-only checks, replay tests and benchmarks.
#include <cstdint>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::traces {

struct SynthOptions {
  std::string preset;                 // models/presets/<preset>.json
  std::vector<std::int64_t> tokens{256};  // one MoE call per entry
  std::string routing = "uniform";    // uniform | zipf:S | hot[:P] | same
  std::string mode = "routing";       // routing (topk ids+weights) | counts (per-expert counts only)
  std::uint64_t seed = 0;
  bool activations = false;           // bf16 hidden_states ~ N(0,1)
  std::string weights = "none";       // none | bf16 (fp8/nvfp4/mxfp4 go through sim/quant)
  // 0: a single-layer trace. N >= 1: a multi-layer trace of layers 0..N-1, each with one call
  // per `tokens` entry (layer-major) and its own weights; layer 0 equals the single-layer trace.
  std::int64_t layers = 0;
  // Overrides for small replayable traces (0 = preset value).
  std::int64_t num_experts = 0, top_k = 0, hidden = 0, intermediate = 0;
  RecordingContext context;
};

// Builds the in-memory trace (routing, activations; not weights).
Trace synthesize(const SynthOptions& opt, const std::string& models_dir);

// synthesize + write_trace + stream weights expert by expert if requested.
Trace synthesize_to_file(const SynthOptions& opt, const std::string& models_dir, const std::string& path);

// Routing sampler, exposed for tests: fills ids/weights [T*K] for one call.
void sample_routing(const std::string& routing, std::int64_t num_experts, std::int64_t top_k, std::int64_t tokens,
                    std::uint64_t seed, std::uint64_t call_index, std::vector<std::int32_t>& ids,
                    std::vector<float>& weights);

}  // namespace moesim::traces
