#pragma once
// Framework backend-selection oracles as data (models/frameworks/<name>.json).
//
// A framework file holds:
//  * revisions: named points in the framework's history (PR merges, a main-branch baseline),
//    in merge order. "vllm@pr40808" means "the tree just after #40808 merged".
//  * quant schemes the oracle knows (canonical name + aliases),
//  * traits: model / deployment facts a rule may consult (activation, dp_size, ...), each with
//    a type and a default,
//  * selectors: one decision each (vLLM: the MoE backend per quant family; SGLang: MoE runner,
//    FP4 GEMM runner, DeepGEMM gate, FlashInfer autotune). A selector has a priority list of
//    candidates, list operations (filters, reorders), overrides (env vars, explicit options),
//    and per-candidate requirement predicates. Every rule carries since/until revisions and the
//    upstream source it models.
// This header only describes and loads the data; replay/oracle evaluates it.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/framework_version.hpp"

namespace moesim::models {

// Half-open range of revision indices [since, until) in which a rule is in force.
struct RevRange {
  int since = 0;             // index into Framework::revisions
  int until = 1 << 30;       // exclusive
  std::string since_name, until_name;  // as written ("" = open end)
  bool contains(int rev) const { return rev >= since && rev < until; }
};

// Predicate expression tree. Ops (JSON key -> op):
//   all/any: children; not: one child; always: bool
//   sm_in, sm_not_in, sm_family_in, sm_major_in: ints; sm_ge, sm_lt: int
//   platform_in, quant_in: strings
//   flashinfer_installed: bool; flashinfer_ge, flashinfer_lt: version
//   env_set, env_unset: name; env_in: {name, values}; env_not_in: {name, values}
//   trait_in, trait_not_in: {name, values}; trait_ge, trait_lt: {name, value}
//   result_in: {selector, values}
struct Expr {
  std::string op;
  std::vector<Expr> children;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strs;
  std::string name;       // env / trait / selector name
  std::int64_t num = 0;   // sm_ge, sm_lt, trait_ge, trait_lt
  bool flag = false;      // always, flashinfer_installed
  std::optional<PyVersion> version;
  std::string where;      // file:/json/pointer, for messages
};

// A named predicate: what a trail prints for one check.
struct PredRule {
  std::string id;      // e.g. "fi_cutlass.device"
  std::string text;    // human text
  std::string source;  // upstream file/function/PR it models
  RevRange range;
  Expr expr;
};

struct Property {
  std::string name;
  std::string value;     // literal value, or
  std::string compute;   // name of a formula implemented in replay/oracle (e.g. trtllm_nvfp4_chunk_size)
  std::string source;
  RevRange range;
  std::optional<Expr> when;
};

struct Candidate {
  std::string id;        // framework's own name (enum member), unique within the selector
  std::string backend;   // canonical kernel-variant id shared with the kernel catalogue
  std::string title;
  std::string source;
  RevRange range;
  std::vector<PredRule> requires_;  // all must hold (in force at the revision) for acceptance
  std::vector<Property> properties;
};

struct OrderEntry {
  std::string candidate;
  RevRange range;
};

// List operation applied before the walk. op: "remove" (drop listed), "keep_only",
// "move_to_back", "move_to_front" (listed candidates, in the order given).
struct ListOp {
  PredRule when;
  std::string op;
  std::vector<std::string> candidates;
};

// Override taken before the walk when `when` holds. action:
//   "walk": walk only `candidates` (in order); exhaustion raises `message`;
//   "walk_trait": walk the single candidate named by trait `trait` (mapped through `map`);
//   "error": the framework raises `message`.
struct Override {
  PredRule when;
  std::string action;
  std::vector<std::string> candidates;
  std::string trait;
  std::map<std::string, std::string> map;  // trait value -> candidate id
  std::string message;
};

struct Selector {
  std::string id;
  std::string title;
  std::string source;
  RevRange range;
  std::optional<Expr> applies_when;  // e.g. quant_in [...]
  std::string unmodelled_message;    // shown when the query falls outside `range`
  std::vector<OrderEntry> order;
  std::vector<ListOp> list_ops;
  std::vector<Override> overrides;
  std::map<std::string, Candidate> candidates;
  std::string exhausted_action;  // "error" or "value"
  std::string exhausted_value;   // value when action is "value"
  std::string exhausted_message;
  bool primary = false;          // the first applicable primary selector is the decision `moesim check` maps to a kernel
};

struct Revision {
  std::string id;        // "pr40808", "main-52a31cc"
  std::vector<std::string> aliases;
  std::string commit;    // upstream commit (may be empty when unknown)
  std::string date;      // YYYY-MM-DD or "" when unknown
  std::string title;
  std::string flashinfer_pin;  // pinned flashinfer-python at that point ("" unknown)
  std::string note;
};

// A release tag as users name it ("v0.19.0"). `revision` is the modelled revision whose rules
// the tag's tree holds (established from its branch point, see `derivation`), or "" when it
// cannot be established (then `unresolved` says why and resolving the tag is an error).
struct TagDef {
  std::string tag;
  std::string date;          // release date (YYYY-MM-DD) or ""
  std::string commit;        // tag commit, "" when no public record names it
  std::string branch_point;  // main commit the release branch was cut from, "" unknown
  std::string revision;      // modelled revision id, "" = not resolvable
  std::string unresolved;    // why not (when revision is "")
  std::string derivation;    // how revision was established
  std::string source;        // where tag/date/commit come from
};

// An environment variable the selection code reads. type: "int_bool" (Python
// bool(int(os.getenv(NAME, default)))), "choices" (vLLM env_with_choices / a fixed value set),
// "bool_str" (SGLang EnvBool: true/false/1/0 ...). Read only in `range`.
struct EnvDef {
  std::string name;
  std::string type;
  std::vector<std::string> choices;  // "choices"
  std::string dflt;                  // value used when unset ("" = none)
  RevRange range;
  std::string source;                // upstream file:line@commit of the definition
  std::string text;
};

struct QuantScheme {
  std::string id;
  std::vector<std::string> aliases;
  std::string text;
};

struct TraitDef {
  std::string name;
  std::string type;  // "enum", "int", "bool"
  std::vector<std::string> values;  // enum choices
  std::string dflt;
  std::string text;
};

struct Framework {
  std::string name;  // "vllm", "sglang"
  std::string file;
  std::string repository;
  std::vector<Revision> revisions;
  std::vector<QuantScheme> quants;
  std::vector<TraitDef> traits;
  std::vector<EnvDef> envs;           // every env var any rule consults, with type/default/range
  std::vector<TagDef> tags;           // release tags, oldest first
  std::string history_file;           // first-parent main history (commit -> revision), "" none
  std::string history_note;           // what the history file covers
  std::vector<Selector> selectors;    // evaluated in file order

  int find_revision(const std::string& name) const;  // -1 if unknown (matches id or alias)
  const QuantScheme* find_quant(const std::string& name) const;
  const TraitDef* find_trait(const std::string& name) const;
  const EnvDef* find_env(const std::string& name) const;
};

// Loads and cross-checks one framework file: every candidate referenced by an order entry,
// list op or override exists; every revision named by since/until exists; every op is known.
// Throws InputError naming file and JSON pointer.
Framework load_framework(const std::string& path);

// Loads models_dir/frameworks/<name>.json; InputError listing the known frameworks if absent.
Framework load_framework_by_name(const std::string& models_dir, const std::string& name);
std::vector<std::string> known_frameworks(const std::string& models_dir);

}  // namespace moesim::models
