#pragma once
// What a trace holds and what it is good for: per-call expert-load statistics and the
// analyses each missing piece rules out.
#include <cstdint>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::traces {

struct LoadStats {
  std::int64_t assignments = 0;   // routed (token, expert) pairs
  std::int64_t max_load = 0, min_load = 0;
  double mean_load = 0;
  double imbalance = 0;           // max / mean (1.0 = perfectly balanced)
  double cv = 0;                  // coefficient of variation of per-expert load
  std::int64_t empty_experts = 0;
  std::int64_t hottest_expert = -1;
  std::vector<std::int64_t> per_expert;         // tokens per expert
  std::vector<std::int64_t> histogram;          // experts per load bucket
  std::vector<std::int64_t> histogram_edges;    // bucket lower edges (bucket i: [edges[i], edges[i+1]))
};

struct CallSummary {
  std::int64_t num_tokens = 0;
  std::int64_t layer = -1;   // the call's layer attribute (-1 = none)
  bool routing = false, counts = false, activations = false, golden = false;
  std::string activation_dtype;
  std::vector<std::string> intermediates;
  LoadStats load;
};

struct Capability {
  std::string analysis;  // e.g. "moesim check (shape hazards)"
  bool available = false;
  std::string missing;   // what the trace lacks for it ("" if available)
};

// A multi-layer trace's layer: its calls together (per-expert loads summed over them).
struct LayerSummary {
  std::int64_t index = 0;
  std::int64_t calls = 0, tokens = 0;
  bool weights = false;
  LoadStats load;
};

struct TraceSummary {
  std::vector<CallSummary> calls;
  std::vector<LayerSummary> layers;  // empty for a single-layer trace
  std::vector<Capability> capabilities;
};

LoadStats load_stats(const std::vector<std::int64_t>& per_expert, int buckets = 10);
TraceSummary summarize(const Trace& t);

}  // namespace moesim::traces
