#pragma once
// The repro job: the error text a user saw + a trace or a preset with a token count + the
// deployment (the same options as `moesim check`) -> the findings whose GPU error text matches,
// the exact first failing token count, the smallest failing configuration (greedy reduction
// in the spirit of `git bisect`: tokens to the threshold, then parallelism and engine limits
// back to their defaults while the error still fires), and optionally a minimal shape-only
// trace that reproduces it on its own. When nothing matches it says so and lists what it checked.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "workflows/check_job.hpp"

namespace moesim::workflows {

struct ReproRequest {
  std::string error_text;   // what the GPU / framework printed (any excerpt; numbers may be elided with ...)
  CheckRequest deployment;  // trace or preset + tokens, devices, versions, framework, parallelism
  std::string output;       // write the minimal trace here ("" = do not write)
};

struct Explanation {
  kernels::Finding finding;  // with first_failing_tokens where the threshold was searched
  int score = 0;             // words of the error text matched (higher = closer)
};

struct ReproResult {
  std::string error_text;
  std::vector<Explanation> explanations;  // best first; empty = nothing explains the error
  std::optional<std::int64_t> first_failing_tokens;  // of the best explanation (tokens per kernel call)
  std::string first_failing_basis;        // how it was obtained
  std::vector<std::pair<std::string, std::string>> smallest;  // the smallest failing configuration
  std::string smallest_command;           // that configuration as a `moesim check` command line
  std::string minimal_trace;              // path written ("" = none)
  std::int64_t minimal_tokens = 0;
  bool minimal_reproduces = false;        // `moesim check MIN.h5` alone fires the explaining finding
  std::string minimal_note;
  // What was checked: targets, and every finding evaluated with the error text it prints.
  std::vector<std::string> checked_targets;
  std::vector<std::pair<std::string, std::string>> checked_findings;  // (one-line finding, its GPU error text or "")
  std::vector<std::string> notes;
  bool explained() const { return !explanations.empty(); }
};

// Words of `error_text` matched by the GPU error text of a finding (0 = no match). Numbers are
// ignored on both sides (a user may elide them), so "Unsupported tile shape config ... for MoE
// gemm" matches "Unsupported tile shape config 256256128 for MoE gemm.".
int match_error_text(const std::string& error_text, const std::string& gpu_error);

// InputError on bad input (empty error text, unknown device, ...).
ReproResult run_repro(const ReproRequest& r);

}  // namespace moesim::workflows
