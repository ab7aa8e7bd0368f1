#pragma once
// What every importer hands back for rendering: the trace it wrote and the loud notes about
// inputs the trace (or moesim's models) does not carry.
#include <cstdint>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::traces::import {

struct ImportResult {
  std::string kind;                 // importer name: hf-checkpoint, vllm-routed-experts, ...
  std::string output;               // trace written
  std::vector<std::string> inputs;  // files read
  ModelShape model;
  std::size_t calls = 0;
  std::int64_t tokens = 0;
  bool weights = false;
  std::vector<std::string> notes;   // "not modelled: ..." / provenance the user must know
};

// Writes `t` (and, through `write_weights`, its weights) to a temp file beside `output`,
// then renames it into place, so a failed import never leaves a half-written trace.
// Refuses to overwrite any of `inputs`.
template <class WriteWeights>
void write_atomically(const Trace& t, const std::string& output, const std::vector<std::string>& inputs,
                      WriteWeights&& write_weights);

void check_output_path(const std::string& output, const std::vector<std::string>& inputs);
std::string temp_path_for(const std::string& output);
void commit_temp(const std::string& tmp, const std::string& output);
void discard_temp(const std::string& tmp);

}  // namespace moesim::traces::import

#include "traces/trace_io.hpp"

namespace moesim::traces::import {
template <class WriteWeights>
void write_atomically(const Trace& t, const std::string& output, const std::vector<std::string>& inputs,
                      WriteWeights&& write_weights) {
  check_output_path(output, inputs);
  const std::string tmp = temp_path_for(output);
  try {
    write_trace(t, tmp);
    write_weights(tmp);
  } catch (...) {
    discard_temp(tmp);
    throw;
  }
  commit_temp(tmp, output);
}
}  // namespace moesim::traces::import
