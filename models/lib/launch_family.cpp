#include "models/lib/launch_family.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace kl = kernels::launch;

namespace {

expr::Expr parse_expr(const Node& n) { return expr::Expr::parse(n.as_string(), n.where()); }

std::vector<kl::Let> parse_lets(const Node& parent) {
  std::vector<kl::Let> out;
  if (auto l = parent.find("let"))
    for (const Node& x : l->items()) {
      if (!x.is_array() || x.size() != 2) x.fail("expected [name, expression]");
      out.push_back({x.at(0).as_string(), parse_expr(x.at(1))});
    }
  return out;
}

kl::Hazard parse_hazard(const Node& n) {
  kl::Hazard h;
  h.id = n.at("id").as_string();
  h.removed = n.get_bool("removed", false);
  if (h.removed) return h;
  h.finding = n.at("finding").as_string();
  h.severity = n.get_string("severity", "error");
  if (h.severity != "info" && h.severity != "warning" && h.severity != "error") n.at("severity").fail("expected info | warning | error");
  h.stage = n.at("stage").as_string();
  if (auto w = n.find("when")) h.when = parse_expr(*w);
  h.value = parse_expr(n.at("value"));
  h.cmp = n.get_string("cmp", "<=");
  static const std::set<std::string> cmps = {"<=", "<", "==", ">=", "%"};
  if (!cmps.count(h.cmp)) n.at("cmp").fail("expected one of <=, <, ==, >=, % (multiple of)");
  h.limit = parse_expr(n.at("limit"));
  h.limit_text = n.get_string("limit_text", "");
  h.message = n.at("message").as_string();
  h.error_text = n.get_string("error_text", "");
  h.upstream = n.at("upstream").as_string();
  h.basis = n.get_string("basis", "source");
  if (h.basis != "source" && h.basis != "empirical" && h.basis != "model") n.at("basis").fail("expected source | empirical | model");
  return h;
}

}  // namespace

kl::FamilyData load_launch_family_file(const std::string& path) {
  Document doc = Document::load(path);
  Node root = doc.root();
  if (root.at("schema").as_string() != "moesim-launch-family-1") root.at("schema").fail("expected moesim-launch-family-1");
  kl::FamilyData f;
  f.file = path;
  f.id = root.at("id").as_string();
  f.description = root.at("description").as_string();
  f.framework = root.at("framework").as_string();
  if (f.framework != "vllm" && f.framework != "sglang") root.at("framework").fail("expected vllm | sglang");
  if (auto q = root.find("quants")) f.quants = q->as_string_vector();
  f.min_sm = static_cast<int>(root.get_int("min_sm", 0));
  f.max_sm = static_cast<int>(root.get_int("max_sm", 0));
  f.availability = root.get_string("availability", "");
  if (auto in = root.find("inputs"))
    for (const auto& [name, n] : in->members()) {
      kl::Input i;
      i.name = name;
      if (auto d = n.find("default")) i.dflt = d->as_int();
      i.doc = n.at("doc").as_string();
      f.inputs.push_back(i);
    }
  f.lets = parse_lets(root);
  std::set<std::string> rev_ids;
  for (const Node& r : root.at("revisions").items()) {
    kl::Revision rev;
    rev.id = r.at("id").as_string();
    if (!rev_ids.insert(rev.id).second) r.at("id").fail("duplicate revision id");
    rev.release = r.get_string("release", "");
    rev.date = r.get_string("date", "");
    rev.commit = r.get_string("commit", "");
    rev.source = r.at("source").as_string();
    rev.note = r.get_string("note", "");
    rev.lets = parse_lets(r);
    std::set<std::string> hz;
    if (auto hs = r.find("hazards"))
      for (const Node& h : hs->items()) {
        rev.hazards.push_back(parse_hazard(h));
        if (!hz.insert(rev.hazards.back().id).second) h.at("id").fail("duplicate hazard id in one revision");
      }
    f.revisions.push_back(std::move(rev));
  }
  if (f.revisions.empty()) root.at("revisions").fail("no revisions");
  if (auto nm = root.find("not_modelled")) f.not_modelled = nm->as_string_vector();
  return f;
}

kl::FamilyTable load_launch_families(const std::string& models_dir) {
  kl::FamilyTable t;
  const std::filesystem::path dir = std::filesystem::path(models_dir) / "launch";
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  if (ec) throw InputError(dir.string(), "cannot list launch-family data: " + ec.message());
  std::sort(files.begin(), files.end());
  std::set<std::string> ids;
  for (const auto& p : files) {
    t.families.push_back(load_launch_family_file(p));
    if (!ids.insert(t.families.back().id).second) throw InputError(p, "duplicate family id '" + t.families.back().id + "'");
  }
  return t;
}

}  // namespace moesim::models
