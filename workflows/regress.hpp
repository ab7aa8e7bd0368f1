#pragma once
// The regress job: a suite (workflows/suite.hpp) x a baseline -> a verdict per case instance
// (one trace x variant x FlashInfer version of a case). Each instance replays what the case's
// numeric expectations need, runs `check` (and through it the framework oracle) when the case
// expects findings or a backend, and compares what it recorded — SHA-256 of the output bits,
// the metrics, the findings, the backend — with the baseline. reports/regress_report renders
// the verdict as JUnit XML, Markdown, JSON and text.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "workflows/suite.hpp"

namespace moesim::workflows {

// What a case instance recorded (the baseline holds exactly this).
struct Recorded {
  std::string output_sha256;       // of every replayed call's output bytes, in call order ("" = no replay)
  // Output metrics of the primary comparison (golden if expected, else the bounds' side), worst over calls.
  bool has_metrics = false;
  double rel_l2 = 0.0, bit_identical_pct = 100.0;
  std::int64_t max_ulp = 0;        // upper edge of the highest non-empty ULP bucket (-1: NaN/Inf bucket)
  std::int64_t nan = 0, inf = 0;   // in the candidate output
  std::vector<std::string> findings;  // "ID kernel/stage [severity]", sorted, from replay and check
  std::string backend;             // the oracle's pick ("" = not consulted)
};

struct CaseResult {
  std::string id;                  // case/trace-stem[/variant][@flashinfer]
  std::string case_name, trace, variant, flashinfer;
  enum class Status { pass, fail, error } status = Status::pass;
  std::vector<std::string> failures;      // one line each; the first names the stage or the finding
  std::optional<std::string> first_divergence;  // first divergent stage against golden / bounds side
  std::vector<std::string> notes;
  Recorded recorded;
  bool baseline_compared = false;
  double seconds = 0.0;
};

struct RegressRequest {
  std::string suite;               // suite file
  std::string baseline;            // compare with this directory ("" = the suite's "baseline")
  std::string update_baseline;     // write the baseline here instead of comparing
  bool no_baseline = false;        // compare with no baseline (expectations only)
  int threads = 0;
  // Progress: (instances done, total, instance id). Never prints itself.
  std::function<void(std::size_t, std::size_t, const std::string&)> on_case;
};

struct RegressResult {
  std::string suite_path, suite_name, description;
  std::string baseline;            // directory compared with or written ("" = none)
  bool baseline_updated = false;
  std::vector<CaseResult> cases;
  double seconds = 0.0;
  std::size_t count(CaseResult::Status s) const;
  // 0 pass, 1 a regression, 2 a case could not run (bad input).
  int exit_code() const;
};

// Throws InputError for a bad suite (every other bad input is a per-case error).
RegressResult run_regress(const RegressRequest& r);

// Baseline file of one instance inside a baseline directory.
std::string baseline_file(const std::string& dir, const std::string& instance_id);

}  // namespace moesim::workflows
