#pragma once
// What `moesim check` checks: a model shape, a recording context and, per MoE call, the token
// count and what is known about routing (per-expert loads, id range) and scale tensors. Built
// from a traces::Trace or directly (shape-only questions, tests, benchmarks).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::check {

struct CallLoad {
  std::int64_t num_tokens = 0;
  std::int64_t layer = -1;
  std::vector<std::int64_t> per_rank_tokens;  // tokens per DP rank; empty = all on one rank
  std::vector<std::int64_t> expert_counts;    // [E] routed slots per expert; empty = unknown
  std::optional<std::int64_t> max_expert_id, min_expert_id;
  bool ids_masked = false;
};

struct Workload {
  traces::ModelShape model;
  traces::RecordingContext context;
  std::string routing = "renormalize";  // renormalize | deepseek (routing-kernel family)
  std::vector<CallLoad> calls;
  // Scale facts (from the trace's tensors) — absent = unknown.
  std::optional<std::int64_t> act_global_scale_numel;
  std::string act_global_scale_dtype, act_scale_layout;
  std::string weight_scale_dtype, weight_scale_layout;
  std::optional<std::int64_t> weight_rows;
  std::string source;  // trace path or "preset <name>"
};

// From a trace read with traces::read_trace. Does not keep tensors, only their shapes.
Workload workload_from_trace(const traces::Trace& t);

// One call of `tokens` tokens, shape only.
Workload shape_only_workload(const traces::ModelShape& m, std::int64_t tokens);

// "sigmoid_grouped_topk", "deepseek_v3", "grouped_topk" -> deepseek; everything else -> renormalize.
std::string routing_family(const std::string& routing_method);

}  // namespace moesim::check
