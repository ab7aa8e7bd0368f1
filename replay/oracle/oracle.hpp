#pragma once
// Backend-selection oracle emulation: which MoE kernel a framework revision picks for a
// device, quant scheme, FlashInfer version, env vars and model traits, with the reasoning.
// The rules are data (models/frameworks/*.json); see docs/oracle.md.
//
// Stable API for `moesim check` and others:
//   OracleDecision d = moesim::oracle::decide(query, moesim::models_dir());
//   d.backend  -> canonical kernel-variant id ("flashinfer_cutlass", "triton", ...), or "" when
//                 the framework itself would raise (then d.error says what it raises).
#include <map>
#include <string>
#include <vector>

namespace moesim::oracle {

struct OracleQuery {
  std::string framework;            // "vllm@pr40808", "sglang@main-d55f1c2" (name@revision)
  std::string device;               // "sm110", "h100", "b200", "sm_121a", ...
  std::string quant;                // "bf16", "fp8", "fp8_block", "nvfp4", "mxfp4", "modelopt_fp4", ...
  std::string flashinfer_version;   // "" = the revision's pinned version; "none" = not installed
  std::map<std::string, std::string> env;     // environment variables as the framework sees them
  std::map<std::string, std::string> traits;  // model/deployment traits (activation, dp_size, ...)
};

// One evaluated step of the walk: a predicate on an edge of the decision graph, or a list
// operation / override that fired or did not.
struct TrailStep {
  std::string selector;      // selector id
  std::string candidate;     // candidate id ("" for list ops and overrides)
  std::string edge;          // "list_op", "override", "accept"
  std::string predicate_id;  // e.g. "fi_cutlass.device"
  std::string text;          // human text of the predicate
  std::string observed;      // the values it saw, e.g. "sm=110 (family 110); family in {100,120}"
  std::string source;        // upstream location it models
  bool passed = false;
};

struct SelectorResult {
  std::string selector;
  std::string title;
  bool applicable = true;    // false: not modelled at this revision (error_message says why)
  bool error = false;        // the framework would raise here
  std::string error_message;
  std::string candidate;     // framework's own name of the chosen candidate
  std::string value;         // canonical backend id / gate value
  std::vector<std::string> walk_order;  // the candidate list actually walked
  std::vector<std::pair<std::string, std::string>> properties;  // e.g. kernel_class, chunk_size
};

struct OracleDecision {
  std::string framework;          // "vllm"
  std::string revision;           // resolved revision id ("pr40808")
  std::string revision_commit;    // upstream commit of that marker ("" when unknown)
  std::string revision_spec;      // as the query named it (tag, commit, alias, id)
  std::string revision_note;      // how a tag or commit resolved ("" for a revision id)
  std::string device;             // alias as resolved ("sm110")
  int sm = 0;                     // 110
  std::string quant;              // canonical quant id
  std::string flashinfer_version; // version used ("none" when not installed)
  std::string flashinfer_origin;  // "query" or "pinned by <revision>"
  std::string backend;            // primary selector's value; "" if it raised
  std::string candidate;          // primary selector's candidate id
  bool error = false;             // primary selector raised
  std::string error_message;
  std::vector<SelectorResult> results;  // every selector, in evaluation order
  std::vector<TrailStep> trail;
  // The inputs the evaluated rules read: "device", "quant", "flashinfer", "env:NAME",
  // "trait:NAME". An input given in the query but absent here did not decide the answer.
  std::vector<std::string> decided_by;
};

// Throws moesim::InputError for an unknown framework, revision (id, tag or commit), device,
// quant scheme, trait or env var, an env var the revision does not read, an env value upstream
// would reject,
// a malformed flashinfer version, or malformed data under models_dir.
OracleDecision decide(const OracleQuery& query, const std::string& models_dir);

// The decision graph (Boost.Graph) of one selector as built for a query, in Graphviz DOT.
std::string decision_graph_dot(const OracleQuery& query, const std::string& models_dir);

// Renderings (text, JSON) live in reports/oracle_report.hpp.

// "K=V" -> (K, V); InputError(where, ...) when there is no '=' or K is empty.
std::pair<std::string, std::string> parse_assignment(const std::string& kv, const std::string& where);

}  // namespace moesim::oracle
