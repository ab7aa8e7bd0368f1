#include "replay/dispatch/dispatch.hpp"

#include <algorithm>
#include <numeric>

#include "sim/core/error.hpp"
#include "traces/context_rules.hpp"

namespace moesim::dispatch {

Mode parse_mode(const std::string& s) {
  if (s == "none") return Mode::none;
  if (s == "allgather" || s == "naive" || s == "agrs") return Mode::allgather;
  if (s == "deepep_ht" || s == "deepep_high_throughput") return Mode::deepep_ht;
  if (s == "deepep_ll" || s == "deepep_low_latency") return Mode::deepep_ll;
  throw InputError("--dispatch", "unknown dispatch mode '" + s + "' (none | allgather | deepep_ht | deepep_ll)");
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::none: return "none";
    case Mode::allgather: return "allgather";
    case Mode::deepep_ht: return "deepep_ht";
    case Mode::deepep_ll: return "deepep_ll";
  }
  return "?";
}

namespace {
std::int64_t local_experts(const ParallelConfig& pc, std::int64_t e) {
  return pc.ep > 1 ? (e + pc.ep - 1) / pc.ep : e;
}
}  // namespace

std::vector<KernelCall> dispatch_call(const ParallelConfig& pc, const std::vector<std::int64_t>& per_rank,
                                      std::int64_t e, std::int64_t k, const std::vector<std::int64_t>& counts,
                                      const std::string& origin) {
  // Same rule as a trace's /context@tp/ep/dp (traces/context_rules.hpp).
  traces::check_parallel_size("--ep", "ep", pc.ep);
  traces::check_parallel_size("--dp", "dp", pc.dp);
  traces::check_parallel_size("--tp", "tp", pc.tp);
  const std::int64_t total = std::accumulate(per_rank.begin(), per_rank.end(), std::int64_t{0});
  const std::int64_t local = local_experts(pc, e);
  std::vector<KernelCall> out;
  switch (pc.mode) {
    case Mode::none:
      for (std::size_t r = 0; r < per_rank.size(); ++r)
        out.push_back({per_rank[r], local, k, std::int64_t(r), true, origin + (per_rank.size() > 1 ? " rank " + std::to_string(r) : ""),
                       "M = tokens on the rank"});
      break;
    case Mode::allgather:
      // Every rank's MoE runs on the all-gathered batch; non-local experts are masked.
      out.push_back({total, local, k, 0, true, origin + " (all-gathered over " + std::to_string(per_rank.size()) + " DP ranks)",
                     "M = sum of per-rank tokens = " + std::to_string(total)});
      break;
    case Mode::deepep_ht: {
      // A token is sent once to each rank holding one of its experts. Upper bound per rank:
      // min(total tokens, routed slots landing on that rank's experts).
      for (std::int64_t r = 0; r < std::max<std::int64_t>(pc.ep, 1); ++r) {
        std::int64_t bound = total;
        std::string how = "M <= total tokens " + std::to_string(total);
        if (static_cast<std::int64_t>(counts.size()) == e) {
          std::int64_t slots = 0;
          for (std::int64_t x = r * local; x < std::min(e, (r + 1) * local); ++x) slots += counts[x];
          if (slots < bound) {
            bound = slots;
            how = "M <= routed slots on rank's experts = " + std::to_string(slots);
          }
        }
        out.push_back({bound, local, k, r, true, origin + " EP rank " + std::to_string(r) + " (DeepEP HT)", how});
        if (static_cast<std::int64_t>(counts.size()) != e) break;  // identical bound on every rank
      }
      break;
    }
    case Mode::deepep_ll: {
      // Batched (masked) layout: each local expert has num_max_dispatch_tokens_per_rank * ranks rows.
      const std::int64_t m = pc.ll_max_dispatch_tokens_per_rank * std::max<std::int64_t>(pc.ep, pc.dp);
      out.push_back({m, local, 1, 0, false, origin + " (DeepEP LL batched layout)",
                     "M per expert = num_max_dispatch_tokens_per_rank * ranks = " + std::to_string(m)});
      break;
    }
  }
  return out;
}

std::vector<KernelCall> synthetic_worst_cases(const ParallelConfig& pc, std::int64_t e, std::int64_t k) {
  std::vector<KernelCall> out;
  if (pc.max_num_tokens <= 0) return out;
  const std::int64_t local = local_experts(pc, e);
  const std::int64_t ranks = std::max<std::int64_t>(pc.dp, 1);
  // Profile run: every DP rank runs max_num_tokens dummy tokens routed to the same experts,
  // so one EP rank receives all of them (HT) / every rank sees the all-gathered batch.
  const std::int64_t all = pc.max_num_tokens * ranks;
  if (pc.mode == Mode::deepep_ll) {
    const std::int64_t m = pc.ll_max_dispatch_tokens_per_rank * std::max<std::int64_t>(pc.ep, pc.dp);
    out.push_back({m, local, 1, 0, false, "profile run (DeepEP LL)", "M per expert = " + std::to_string(m)});
  } else {
    out.push_back({pc.mode == Mode::none ? pc.max_num_tokens : all, local, k, 0, true,
                   "profile run (all tokens on the same experts)",
                   pc.mode == Mode::none ? "M = max_num_tokens = " + std::to_string(pc.max_num_tokens)
                                         : "M = dp * max_num_tokens = " + std::to_string(ranks) + " * " +
                                               std::to_string(pc.max_num_tokens) + " = " + std::to_string(all)});
  }
  // Autotune warm-up: every DP rank at max_num_tokens at once (all-gather / HT sees the sum).
  if (pc.mode == Mode::allgather || pc.mode == Mode::deepep_ht)
    out.push_back({all, local, k, 0, true, "autotune warm-up (every DP rank at max_num_tokens)",
                   "M = dp * max_num_tokens = " + std::to_string(all)});
  return out;
}

}  // namespace moesim::dispatch
