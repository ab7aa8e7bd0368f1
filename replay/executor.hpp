#pragma once
// Runs a variant's replay plan on one MoE call: input buffers in, every stage in
// topological order on emulated memory, findings out. OpenMP inside the stages; bit-identical
// results for any thread count (static partitioning, no cross-thread reductions).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "replay/replay_finding.hpp"
#include "replay/stage_graph.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::replay {

// The activations and routing of one call (weights come from a WeightProvider).
struct CallInputs {
  kernels::MoeProblem problem;
  std::vector<std::uint16_t> hidden_states;  // [T, H] bf16 bits
  std::vector<std::int32_t> topk_ids;        // [T, K]
  std::vector<float> topk_weights;           // [T, K]
};

struct StageTiming {
  std::string stage;
  double seconds = 0.0;
};

struct ReplayOptions {
  int threads = 0;  // 0 = OpenMP default
  // Called after each stage: (stage index in run order, stage count, stage id).
  std::function<void(std::size_t, std::size_t, const std::string&)> on_stage;
};

struct ReplayResult {
  std::string variant;
  std::vector<std::string> stage_order;                // stage ids in run order
  std::map<std::string, kernels::EmuBuffer> buffers;   // every buffer, by name
  std::map<std::string, std::string> stage_output;     // stage id -> primary output buffer
  std::vector<ReplayFinding> findings;
  std::vector<StageTiming> timings;
  double seconds = 0.0;
  const kernels::EmuBuffer* stage_buffer(const std::string& stage_id) const;
  const kernels::EmuBuffer& output() const;  // the last stage's primary output
};

ReplayResult run_replay(const kernels::VariantSpec& spec, const CallInputs& inputs,
                        const kernels::WeightProvider& weights, const ReplayOptions& opt = {});

// Same, with an explicit implementation (fault-injection tests, out-of-tree variants).
ReplayResult run_replay(const kernels::VariantSpec& spec, kernels::VariantImpl& impl, const CallInputs& inputs,
                        const kernels::WeightProvider& weights, const ReplayOptions& opt = {});

// The thread count a replay uses for `requested` (0 = OpenMP default).
int resolve_threads(int requested);

// Checks inputs against the problem shape (InputError naming `where`).
void validate_inputs(const CallInputs& in, const std::string& where);

}  // namespace moesim::replay
