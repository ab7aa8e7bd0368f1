#pragma once
// EP/DP dispatch: turns the tokens each DP rank holds into the M (tokens per call) and local
// expert count each MoE kernel call sees, for the all-gather ("naive"/AG-RS) path and DeepEP
// high-throughput / low-latency, plus the synthetic worst cases engines create themselves
// (profile run with every token on the same experts; autotune warm-up with every DP rank at
// max_num_tokens).
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::dispatch {

enum class Mode { none, allgather, deepep_ht, deepep_ll };
Mode parse_mode(const std::string& s);  // none | allgather | naive | deepep_ht | deepep_ll; InputError otherwise
const char* mode_name(Mode m);

struct ParallelConfig {
  std::int64_t tp = 1, ep = 1, dp = 1;
  Mode mode = Mode::none;
  std::int64_t max_num_tokens = 0;  // per DP rank (max_num_batched_tokens); 0 = unknown
  std::int64_t ll_max_dispatch_tokens_per_rank = 128;  // DeepEP LL num_max_dispatch_tokens_per_rank
};

struct KernelCall {
  std::int64_t tokens = 0;         // M the kernel sees
  std::int64_t local_experts = 0;  // experts held by the rank
  std::int64_t top_k = 0;          // slots per token as the kernel sees them (1 for LL batched layout)
  std::int64_t rank = 0;           // EP rank
  bool chunkable = true;           // the framework may split this call by rows
  std::string origin;              // "trace call 3", "profile run", "autotune warm-up", ...
  std::string formula;             // how tokens was obtained
};

// One trace call. per_rank_tokens: tokens on each DP rank (size dp, or 1 = all on one rank).
// expert_counts (optional, size E): routed (token, k) slots per global expert, for EP ranks'
// upper bounds under DeepEP HT.
std::vector<KernelCall> dispatch_call(const ParallelConfig& pc, const std::vector<std::int64_t>& per_rank_tokens,
                                      std::int64_t num_experts, std::int64_t top_k,
                                      const std::vector<std::int64_t>& expert_counts, const std::string& origin);

// Worst cases the engine produces without any user traffic.
std::vector<KernelCall> synthetic_worst_cases(const ParallelConfig& pc, std::int64_t num_experts, std::int64_t top_k);

}  // namespace moesim::dispatch
