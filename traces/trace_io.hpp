#pragma once
// Reader, writer and validator for HDF5 trace format v1 (docs/trace-format.md).
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::h5 {
class File;
}

namespace moesim::traces {

struct ReadOptions {
  bool load_activations = true;   // hidden_states, golden outputs, intermediates
  bool validate = true;           // run validate() and throw InputError on the first problem
  bool isolate = true;            // parse in the isolated child (sim/core/isolate.hpp)
  bool verify_weights = false;    // also read every weight row once (WeightReader sets it)
  // Multi-layer traces: verify only these layers' weights (unset = all). A rank of an MPI run
  // reads only the layers it replays (docs/scale-out.md).
  std::optional<std::set<std::int64_t>> verify_layers;
  // Load activations (hidden_states, goldens, intermediates) only for these call indices
  // (unset = all); the other calls keep their routing.
  std::optional<std::set<std::size_t>> activations_for_calls;
};

// Reads everything except weights (see WeightReader). Throws InputError naming file,
// dataset and problem for any corrupt, truncated or inconsistent content. The file is parsed
// in an isolated child process (docs/hardening.md): a crash, hang or memory blow-up inside
// libhdf5 is a one-line InputError too.
Trace read_trace(const std::string& path, const ReadOptions& opt = {});
// The same parse in this process, without isolation: what the child runs; also used by the
// fuzz harness and the isolation bench. Never call it on untrusted input outside a sandbox.
Trace read_trace_in_process(const std::string& path, const ReadOptions& opt = {});
// Both halves of the isolated read (the child's parse + plan, the parent's pread fill +
// validation) in this process, for the fuzz harness.
Trace read_trace_split_in_process(const std::string& path, const ReadOptions& opt = {});

// The parent's half of the isolated read, public for the fuzz harness (fuzz/fuzz_decode.cpp):
// decodes the child's result (untrusted: any bytes give an InputError naming `path`, never a
// crash or an allocation beyond the file's size and the budget), fills the planned datasets
// from `fd` (open on `path`) with pread, then re-checks on the decoded values everything the
// child checked (validate_structure, the context rules) and the content (validate).
Trace decode_isolated_result(const std::string& path, int fd, const std::uint8_t* data, std::size_t size, const ReadOptions& opt = {});
// The child's half: parse + plan, encoded as the parent receives it (for the harness's seeds).
std::vector<std::uint8_t> encode_isolated_result(const std::string& path, const ReadOptions& opt = {});

// Writes a trace (without weights; see WeightWriter for streaming weights expert by expert).
// The file is written atomically (temporary + rename, sim/core/atomic_file.hpp) with HDF5
// metadata checksums and Fletcher32 on chunked datasets; an output that is one of the
// process's inputs is refused. `extra` (if set) writes more into the open file -- e.g. a
// WeightWriter on it -- before the rename, so the output appears complete or not at all.
void write_trace(const Trace& trace, const std::string& path);
void write_trace(const Trace& trace, const std::string& path, const std::function<void(h5::File&)>& extra);

// Checks shapes, dtypes, id ranges, NaN routing weights, counts consistency.
// Returns problems as "dataset: problem" strings (empty = valid).
std::vector<std::string> validate(const Trace& trace);
// What the reader checks before data is used, re-checked on a Trace's values: shape attribute
// ranges, at least one call, num_tokens >= 0, expert_counts [num_experts], every tensor's
// dtype known and bytes = shape x storage size, weight shapes. Same "dataset: problem" form.
std::vector<std::string> validate_structure(const Trace& trace);

}  // namespace moesim::traces
