#pragma once
// How `moesim check` talks to the framework oracle (models/check/oracle_glue.json): moesim quant
// ids, dispatch modes, routing families and presets -> the oracle's quant schemes and traits;
// the oracle's chosen candidate and backend -> the quant and check family to run.
#include <map>
#include <string>
#include <vector>

namespace moesim::models {

struct OracleGlue {
  using Traits = std::map<std::string, std::string>;
  std::map<std::string, std::map<std::string, std::string>> quant;          // framework -> moesim quant -> oracle quant
  std::map<std::string, std::map<std::string, Traits>> dispatch_traits;     // framework -> dispatch mode -> traits
  std::map<std::string, std::string> routing_trait;                         // framework -> trait name
  std::map<std::string, std::map<std::string, std::string>> routing_values; // framework -> preset routing -> value
  std::map<std::string, std::map<std::string, Traits>> preset_traits;       // framework -> preset name -> traits
  struct CandidateQuant {
    std::string framework, contains, quant;
  };
  std::vector<CandidateQuant> candidate_quant;
  std::map<std::string, std::string> backend_family;  // oracle backend id -> check family id (identity when absent)
  std::string file;

  static OracleGlue load(const std::string& models_dir);
  // InputError naming the framework and the known ids when `q` has no oracle spelling.
  std::string oracle_quant(const std::string& framework, const std::string& q) const;
  Traits traits_for(const std::string& framework, const std::string& dispatch_mode, const std::string& preset_routing,
                    const std::string& preset) const;
  // The quant the chosen candidate implies ("" = keep the workload's).
  std::string candidate_quant_of(const std::string& framework, const std::string& candidate) const;
  std::string family_of(const std::string& backend) const;
};

}  // namespace moesim::models
