#include "models/lib/known_bad.hpp"

#include <algorithm>

#include "models/lib/json_node.hpp"

namespace moesim::models {

namespace {
bool in_list(const std::vector<std::string>& v, const std::string& s) {
  return v.empty() || std::find(v.begin(), v.end(), s) != v.end();
}
std::string severity(const Node& n) {
  std::string s = n.at("severity").as_string();
  if (s != "error" && s != "warning" && s != "info") n.at("severity").fail("severity must be error|warning|info");
  return s;
}
}  // namespace

bool KnownBadEntry::matches(const std::string& var, const PyVersion& v, int sm, const std::string& q) const {
  if (var != variant) return false;
  if (v < min) return false;
  if (max && *max < v) return false;
  if (!sms.empty() && std::find(sms.begin(), sms.end(), sm) == sms.end()) return false;
  return in_list(quant, q);
}

bool EmpiricalCrashRegion::matches_shape(const std::string& var, const std::string& q, std::int64_t e,
                                         std::int64_t k) const {
  if (var != variant || !in_list(quant, q)) return false;
  if (num_experts != 0 && e != num_experts) return false;
  if (top_k != 0 && k != top_k) return false;
  return true;
}

KnownBadTable KnownBadTable::load(const std::string& models_dir) {
  KnownBadTable t;
  t.file = models_dir + "/known_bad.json";
  Document doc = Document::load(t.file);
  Node root = doc.root();
  for (const Node& n : root.at("entries").items()) {
    KnownBadEntry e;
    e.id = n.at("id").as_string();
    e.library = n.at("library").as_string();
    e.variant = n.at("variant").as_string();
    e.min = PyVersion::parse(n.at("min").as_string(), n.at("min").where());
    if (auto m = n.find("max")) e.max = PyVersion::parse(m->as_string(), m->where());
    for (auto s : n.at("sms").as_int_vector()) e.sms.push_back(static_cast<int>(s));
    e.quant = n.at("quant").as_string_vector();
    e.severity = severity(n);
    e.title = n.at("title").as_string();
    e.symptom = n.get_string("symptom", "");
    e.gpu_error = n.get_string("gpu_error", "");
    e.upstream = n.at("upstream").as_string();
    t.entries.push_back(std::move(e));
  }
  for (const Node& n : root.at("empirical_crash_regions").items()) {
    EmpiricalCrashRegion r;
    r.id = n.at("id").as_string();
    r.library = n.at("library").as_string();
    r.variant = n.at("variant").as_string();
    r.quant = n.at("quant").as_string_vector();
    r.num_experts = n.get_int("num_experts", 0);
    r.top_k = n.get_int("top_k", 0);
    r.min_tokens_per_call = n.at("min_tokens_per_call").as_int();
    if (r.min_tokens_per_call <= 0) n.at("min_tokens_per_call").fail("must be positive");
    r.severity = severity(n);
    r.title = n.at("title").as_string();
    r.gpu_error = n.get_string("gpu_error", "");
    r.upstream = n.at("upstream").as_string();
    t.regions.push_back(std::move(r));
  }
  return t;
}

}  // namespace moesim::models
