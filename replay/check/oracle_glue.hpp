#pragma once
// check -> oracle glue: the query `moesim check` sends the framework oracle for a revision
// (quant spelled for that framework, traits from the model, the dispatch mode, the preset and the
// user's --trait values the oracle reads), and how its decision becomes the check's targets (the
// family that runs, the quant the chosen candidate implies, the FlashInfer release it pins).
// Spellings are data: models/check/oracle_glue.json.
#include <map>
#include <string>
#include <vector>

#include "models/lib/framework_rules.hpp"
#include "models/lib/oracle_glue.hpp"
#include "replay/check/engine.hpp"
#include "replay/check/workload.hpp"
#include "replay/oracle/oracle.hpp"

namespace moesim::check {

struct OracleContext {
  std::string framework, revision;  // "vllm", "pr43599" ("" = main)
  std::string device;               // one device id or alias
  std::string flashinfer;           // requested release ("" = the revision's pin)
  std::string preset, preset_routing;  // preset name and its routing string ("" for traces)
};

oracle::OracleQuery oracle_query(const models::OracleGlue& glue, const models::Framework& rules, const Workload& w,
                                 const CheckOptions& opt, const OracleContext& ctx, const models::DeviceTable& devices);

struct OracleChoice {
  std::vector<std::string> backends;  // the family to check; empty: nothing modelled to check
  std::string quant;                  // quant the chosen candidate implies ("" = keep the workload's)
  std::string flashinfer;             // release the revision pins ("" = none known: check every release)
  std::string trtllm_class;           // "" = keep
  std::vector<std::string> notes;
};

OracleChoice apply_decision(const models::OracleGlue& glue, const oracle::OracleDecision& d, const Workload& w);

// --trait names must be read by someone: the framework oracle, a known-bad condition, or a kernel
// family (`family_traits`). InputError listing the known names otherwise.
void validate_traits(const std::map<std::string, std::string>& traits, const models::Framework* rules,
                     const models::KnownBadTable& known_bad, const std::vector<std::string>& family_traits);

}  // namespace moesim::check
