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
  if (fixed_in && !(v < *fixed_in)) return false;
  if (!sms.empty() && std::find(sms.begin(), sms.end(), sm) == sms.end()) return false;
  return in_list(quant, q);
}

std::string KnownBadConditions::text() const {
  std::string r;
  auto add = [&](const std::string& s) { r += (r.empty() ? "" : ", ") + s; };
  if (min_tokens_per_call > 0) add("tokens per call >= " + std::to_string(min_tokens_per_call));
  if (min_avg_tokens_per_expert > 0) {
    std::string d = std::to_string(min_avg_tokens_per_expert);
    d.erase(d.find_last_not_of('0') + 1);
    if (!d.empty() && d.back() == '.') d.pop_back();
    add("T*K/local_E > " + d);
  }
  if (!activations.empty()) {
    std::string a;
    for (const auto& x : activations) a += (a.empty() ? "" : "|") + x;
    add("activation " + a);
  }
  if (!routings.empty()) {
    std::string a;
    for (const auto& x : routings) a += (a.empty() ? "" : "|") + x;
    add("routing " + a);
  }
  for (const auto& [k, v] : traits) add("trait " + k + "=" + v);
  return r;
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
  if (root.at("schema").as_string() != "moesim-known-bad-2") root.at("schema").fail("expected schema moesim-known-bad-2");
  for (const Node& n : root.at("entries").items()) {
    KnownBadEntry e;
    e.id = n.at("id").as_string();
    e.library = n.at("library").as_string();
    e.variant = n.at("variant").as_string();
    e.min = PyVersion::parse(n.at("min").as_string(), n.at("min").where());
    if (n.has("max")) n.at("max").fail("'max' was replaced by 'fixed_in' (first fixed release, exclusive) in moesim-known-bad-2");
    if (!n.has("fixed_in")) n.fail("missing 'fixed_in' (first release with the fix, or null when unfixed)");
    if (Node fx = n.at("fixed_in"); !fx.is_null()) e.fixed_in = PyVersion::parse(fx.as_string(), fx.where());
    if (e.fixed_in && !(e.min < *e.fixed_in)) n.at("fixed_in").fail("fixed_in must be after min");
    e.fix = n.get_string("fix", "");
    if (auto c = n.find("conditions")) {
      for (const auto& [k, v] : c->members()) {
        if (k == "min_tokens_per_call") e.conditions.min_tokens_per_call = v.as_int();
        else if (k == "min_avg_tokens_per_expert") e.conditions.min_avg_tokens_per_expert = v.as_double();
        else if (k == "activations") e.conditions.activations = v.as_string_vector();
        else if (k == "routings") e.conditions.routings = v.as_string_vector();
        else if (k == "traits") for (const auto& [tk, tv] : v.members()) e.conditions.traits[tk] = tv.as_string();
        else v.fail("unknown condition (min_tokens_per_call | min_avg_tokens_per_expert | activations | routings | traits)");
      }
    }
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
