#pragma once
// Reader, writer and validator for HDF5 trace format v1 (docs/trace-format.md).
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::traces {

struct ReadOptions {
  bool load_activations = true;   // hidden_states, golden outputs, intermediates
  bool validate = true;           // run validate() and throw InputError on the first problem
};

// Reads everything except weights (see WeightReader). Throws InputError naming file,
// dataset and problem for any corrupt, truncated or inconsistent content.
Trace read_trace(const std::string& path, const ReadOptions& opt = {});

struct WeightsToWrite;  // defined in traces/trace_writer.hpp

// Writes a trace (without weights; see TraceWriter for streaming weights expert by expert).
void write_trace(const Trace& trace, const std::string& path);

// Checks shapes, dtypes, id ranges, NaN routing weights, counts consistency.
// Returns problems as "dataset: problem" strings (empty = valid).
std::vector<std::string> validate(const Trace& trace);

}  // namespace moesim::traces
