#include "models/lib/oracle_glue.hpp"

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace {
std::map<std::string, std::string> string_map(const Node& n) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : n.members()) m[k] = v.as_string();
  return m;
}
}  // namespace

OracleGlue OracleGlue::load(const std::string& models_dir) {
  OracleGlue g;
  g.file = models_dir + "/check/oracle_glue.json";
  Document doc = Document::load(g.file);
  Node root = doc.root();
  if (root.at("schema").as_string() != "moesim-check-oracle-glue-1") root.at("schema").fail("expected moesim-check-oracle-glue-1");
  for (const auto& [fw, m] : root.at("quant").members())
    if (fw != "source") g.quant[fw] = string_map(m);
  for (const auto& [fw, modes] : root.at("dispatch_traits").members()) {
    if (fw == "source") continue;
    for (const auto& [mode, t] : modes.members()) g.dispatch_traits[fw][mode] = string_map(t);
  }
  for (const auto& [fw, r] : root.at("routing_traits").members()) {
    if (fw == "source") continue;
    g.routing_trait[fw] = r.at("trait").as_string();
    g.routing_values[fw] = string_map(r.at("values"));
  }
  for (const auto& [fw, presets] : root.at("preset_traits").members()) {
    if (fw == "source") continue;
    for (const auto& [p, t] : presets.members()) g.preset_traits[fw][p] = string_map(t);
  }
  for (const Node& c : root.at("candidate_quant").items())
    g.candidate_quant.push_back({c.at("framework").as_string(), c.at("candidate_contains").as_string(), c.at("quant").as_string()});
  for (const auto& [b, f] : root.at("backend_family").members())
    if (b != "source") g.backend_family[b] = f.as_string();
  return g;
}

std::string OracleGlue::oracle_quant(const std::string& fw, const std::string& q) const {
  auto it = quant.find(fw);
  if (it == quant.end()) throw InputError(file, "no quant table for framework '" + fw + "'");
  if (auto j = it->second.find(q); j != it->second.end()) return j->second;
  std::string known;
  for (const auto& [k, v] : it->second) known += (known.empty() ? "" : ", ") + k;
  throw InputError("--quant", "quant '" + q + "' has no " + fw + " oracle spelling (known: " + known + ")");
}

OracleGlue::Traits OracleGlue::traits_for(const std::string& fw, const std::string& mode, const std::string& routing,
                                          const std::string& preset) const {
  Traits t;
  if (auto it = dispatch_traits.find(fw); it != dispatch_traits.end())
    if (auto j = it->second.find(mode); j != it->second.end()) t = j->second;
  if (auto it = routing_trait.find(fw); it != routing_trait.end() && !routing.empty())
    if (auto j = routing_values.at(fw).find(routing); j != routing_values.at(fw).end()) t[it->second] = j->second;
  if (auto it = preset_traits.find(fw); it != preset_traits.end())
    if (auto j = it->second.find(preset); j != it->second.end())
      for (const auto& [k, v] : j->second) t[k] = v;
  return t;
}

std::string OracleGlue::candidate_quant_of(const std::string& fw, const std::string& candidate) const {
  for (const auto& c : candidate_quant)
    if (c.framework == fw && candidate.find(c.contains) != std::string::npos) return c.quant;
  return "";
}

std::string OracleGlue::family_of(const std::string& backend) const {
  auto it = backend_family.find(backend);
  return it == backend_family.end() ? backend : it->second;
}

}  // namespace moesim::models
