#pragma once
// Numeric diffs between two buffers (a candidate and the side it is measured against), and
// stage-by-stage between two replays or a replay and golden intermediates, with the first
// stage (in topological order) whose outputs stop being bit-identical.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "replay/executor.hpp"
#include "sim/kernels/emulated_memory.hpp"

namespace moesim::replay {

// ULP buckets, in units of the coarser format's spacing at the reference value.
inline constexpr const char* kUlpBucketNames[] = {"0",      "(0,1]",   "(1,2]",     "(2,4]",  "(4,8]",
                                                  "(8,16]", "(16,64]", "(64,256]", ">256",   "nan/inf"};
inline constexpr std::size_t kUlpBuckets = 10;

struct GroupDiff {
  std::int64_t group = 0;  // expert id or token id
  std::int64_t count = 0, identical = 0;
  double max_abs = 0.0;
  double rel_l2 = 0.0;
};

struct BufferDiff {
  std::string a_type, b_type;
  std::int64_t rows = 0, cols = 0;
  std::int64_t count = 0;
  std::int64_t identical = 0;     // bit-identical (same type) or equal values (mixed types)
  std::int64_t nan_a = 0, nan_b = 0, inf_a = 0, inf_b = 0;
  double max_abs = 0.0;
  std::int64_t max_abs_index = -1;
  double max_abs_a = 0.0, max_abs_b = 0.0;  // the two values at max_abs_index
  std::int64_t first_mismatch = -1;
  double rel_l2 = 0.0;  // ||a - b|| / ||b|| over elements finite on both sides
  std::array<std::int64_t, kUlpBuckets> ulp_hist{};
  std::vector<GroupDiff> per_expert;    // slot buffers only
  std::vector<GroupDiff> worst_tokens;  // tokens sorted by max_abs, at most 8
  double identical_pct() const { return count ? 100.0 * double(identical) / double(count) : 100.0; }
  bool bit_identical() const { return identical == count; }
};

// Row grouping: rows are slots (token*K + k) or tokens.
struct RowMap {
  std::int64_t num_tokens = 0, top_k = 1;
  const std::vector<std::int32_t>* topk_ids = nullptr;
};

// Shapes must match (InputError naming a and b otherwise).
BufferDiff diff_buffers(const kernels::EmuBuffer& a, const kernels::EmuBuffer& b, const RowMap& rows);

struct StageDiff {
  std::string stage;
  bool compared = false;
  std::string note;  // why not compared
  BufferDiff diff;
};

struct ReplayDiff {
  std::string a_name, b_name;      // e.g. "triton_bf16", "golden (H100)"
  std::vector<StageDiff> stages;   // in a's topological order
  std::optional<std::string> first_divergence;  // first compared stage that is not bit-identical
  bool output_compared = false;
  BufferDiff output;
};

// Stage-by-stage diff of two replays of the same call.
ReplayDiff diff_replays(const ReplayResult& a, const ReplayResult& b, const CallInputs& call);
// Replay against golden buffers by stage id (golden "output" = the final output).
ReplayDiff diff_against_golden(const ReplayResult& a, const std::map<std::string, kernels::EmuBuffer>& golden,
                               const CallInputs& call, const std::string& golden_name);

}  // namespace moesim::replay
