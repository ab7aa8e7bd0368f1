#pragma once
// The bump job: a library (FlashInfer A -> B) or framework revision bump over a suite. Per case
// instance: the backend each side's framework oracle picks and which predicates changed; the
// findings that appear, disappear or change threshold or severity (known-bad entries fixed or
// introduced among them); and the numerics of each variant replayed as A and as B, per stage,
// with the first divergent stage, plus each side against the fp64 reference (histograms,
// per-expert errors). reports/bump_report renders HTML (inline SVG), Markdown and JSON.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "replay/oracle/oracle.hpp"
#include "sim/kernels/finding.hpp"
#include "workflows/replay_job.hpp"
#include "workflows/suite.hpp"

namespace moesim::workflows {

struct BumpRequest {
  std::string suite;
  std::string from, to;                      // FlashInfer versions ("" = the case's / trace's)
  std::string from_framework, to_framework;  // "vllm@pr39959" ("" = the case's framework)
  int threads = 0;
  std::function<void(std::size_t, std::size_t, const std::string&)> on_case;
};

struct OracleSide {
  bool consulted = false;
  std::string framework;  // name@revision asked
  std::string backend;    // "" when it raises
  bool error = false;
  std::string error_message;
  std::string flashinfer;  // version the oracle saw
};

struct FindingChange {
  std::string key;     // "ID kernel/stage"
  std::string change;  // appeared | disappeared | threshold | severity | unchanged
  std::optional<kernels::Finding> a, b;
};

struct VariantNumerics {
  std::string variant;
  std::string status;  // compared | unchanged-model | a-unavailable | b-unavailable | unavailable
  std::string note;    // why, in one line (version tables, layouts, refusals)
  std::string layout_a, layout_b;  // SM90 interleave layout each side runs ("" = n/a, "absent" = no such helper)
  std::optional<ReplayReport> a_vs_b;        // A as candidate, B as the other side
  std::optional<ReplayReport> a_vs_ref, b_vs_ref;
  std::optional<std::string> first_divergence;
};

struct BumpCase {
  std::string id, case_name, trace;
  OracleSide oracle_a, oracle_b;
  std::vector<std::string> oracle_why;  // predicates whose outcome differs between the sides
  std::vector<FindingChange> findings;  // every finding key of either side
  std::vector<std::string> known_bad_fixed, known_bad_introduced;
  std::vector<VariantNumerics> numerics;
  std::vector<std::string> notes;
  std::string error;                    // bad input for this case ("" = ran)
  double seconds = 0.0;
  bool changed() const;
};

struct BumpResult {
  std::string suite_path, suite_name, description;
  std::string from, to, from_framework, to_framework;
  std::vector<BumpCase> cases;
  double seconds = 0.0;
};

// InputError for a bad suite or a request naming no change (A == B and no framework bump).
BumpResult run_bump(const BumpRequest& r);

}  // namespace moesim::workflows
