#pragma once
// A regression suite (docs/suite-format.md): named cases, each a set of traces (globs) or a
// model preset, the variants, devices, library and framework versions to run them under, and
// what must hold. Loaded from JSON with every error naming the file and JSON pointer; unknown
// keys are errors, not ignored.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moesim::workflows {

// Numeric bounds of a variant's output against the fp64 reference or another variant.
struct Bounds {
  std::string against = "reference";          // "reference" or a variant id
  std::optional<double> max_rel_l2;           // ||a-b|| / ||b||
  std::optional<std::int64_t> max_ulp;        // every element within this many ULPs (a histogram edge)
  std::optional<double> min_bit_identical_pct;
  std::optional<std::int64_t> max_nan, max_inf;  // NaN / Inf elements in the candidate's output
};

struct Expectation {
  bool bit_identical_to_golden = false;  // every stage and the output equal the trace's recorded GPU bits
  std::optional<Bounds> bounds;
  bool no_error_findings = false;        // `check` reports no error-severity finding
  std::vector<std::string> findings;     // finding ids `check` must report (a known crash stays known)
  std::string backend;                   // the framework oracle must pick this backend id
};

struct SuiteCase {
  std::string name;
  std::vector<std::string> trace_globs;  // as written (relative to the suite file)
  std::vector<std::string> traces;       // resolved, sorted, deduplicated
  std::string preset;                    // shape-only case (check / oracle only)
  std::int64_t tokens = 0;
  std::vector<std::string> variants;     // replay variants ("" = the trace's context backend)
  std::vector<std::string> devices;      // check / oracle devices ("" = the trace's context)
  std::vector<std::string> flashinfer;   // FlashInfer versions ("" = the trace's context)
  std::string framework;                 // "vllm@REV" / "sglang@REV" for check and the oracle
  std::string quant;                     // quant override for check
  std::int64_t global_scale_numel = 0;   // numel of the activation global scale passed to the kernel (check)
  Expectation expect;
  std::vector<std::string> allow_changes;  // baseline changes allowed: output, metrics, findings, backend
  bool needs_replay() const { return expect.bit_identical_to_golden || expect.bounds.has_value(); }
  bool needs_check() const { return expect.no_error_findings || !expect.findings.empty() || !expect.backend.empty(); }
  bool allows(const std::string& what) const;
};

struct Suite {
  std::string path;          // the suite file
  std::string name, description;
  std::string baseline;      // baseline directory (resolved; "" = none)
  std::vector<SuiteCase> cases;
};

// Throws InputError naming file and pointer: malformed JSON, unknown keys, a glob matching no
// file, duplicate case names, a case with nothing to check, bounds that are not histogram edges.
Suite load_suite(const std::string& path);

// ULP histogram edges a max_ulp bound may name (replay/diff.hpp buckets).
const std::vector<std::int64_t>& ulp_bound_edges();

}  // namespace moesim::workflows
