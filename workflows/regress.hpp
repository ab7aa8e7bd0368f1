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
  bool no_timings = false;         // 0 s for every wall-clock time (byte-comparable reports)
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
// Under MPI (replay/ranks.hpp) case instance i runs on rank i mod N (regress_partition); rank 0
// gathers the case results, writes the baseline (--update-baseline) and returns the whole
// result in instance order, the other ranks an empty one (docs/scale-out.md). A rank that
// fails other than by bad input ends the run with InputError naming the rank and the case.
RegressResult run_regress(const RegressRequest& r);

// Static partition of `n` case instances over `ranks`: rank r gets r, r + N, r + 2N, ...
// (round robin: a suite's instances of one case, often of similar cost, spread over ranks).
std::vector<std::size_t> regress_partition(std::size_t n, int ranks, int rank);

// Baseline file of one instance inside a baseline directory.
std::string baseline_file(const std::string& dir, const std::string& instance_id);

}  // namespace moesim::workflows
