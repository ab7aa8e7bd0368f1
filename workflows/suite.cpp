#include "workflows/suite.hpp"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::workflows {
namespace {

namespace fs = std::filesystem;

void only_keys(const models::Node& n, std::initializer_list<const char*> keys) {
  for (const auto& [k, v] : n.members()) {
    bool ok = false;
    for (const char* a : keys) ok = ok || k == a;
    if (!ok) {
      std::string known;
      for (const char* a : keys) known += std::string(known.empty() ? "" : ", ") + a;
      v.fail("unknown key '" + k + "' (known: " + known + ")");
    }
  }
}

std::vector<std::string> strings(const models::Node& n, const std::string& key) {
  auto v = n.find(key);
  if (!v) return {};
  if (v->is_string()) return {v->as_string()};
  return v->as_string_vector();
}

std::vector<std::string> expand(const models::Node& at, const std::string& dir, const std::string& pattern) {
  const std::string full = fs::path(pattern).is_absolute() ? pattern : (fs::path(dir) / pattern).string();
  glob_t g{};
  const int rc = ::glob(full.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.push_back(fs::path(g.gl_pathv[i]).lexically_normal().string());
  globfree(&g);
  if (out.empty()) at.fail("trace glob '" + pattern + "' matches no file (relative to " + dir + ")");
  return out;
}

}  // namespace

const std::vector<std::int64_t>& ulp_bound_edges() {
  static const std::vector<std::int64_t> e = {0, 1, 2, 4, 8, 16, 64, 256};
  return e;
}

bool SuiteCase::allows(const std::string& what) const {
  return std::find(allow_changes.begin(), allow_changes.end(), what) != allow_changes.end();
}

Suite load_suite(const std::string& path) {
  const models::Document doc = models::Document::load(path);
  const models::Node root = doc.root();
  if (!root.is_object()) root.fail("a suite is a JSON object with \"cases\"");
  only_keys(root, {"suite", "description", "baseline", "cases"});
  Suite s;
  s.path = path;
  const std::string dir = fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string();
  s.name = root.get_string("suite", fs::path(path).stem().string());
  s.description = root.get_string("description", "");
  if (root.has("baseline")) s.baseline = (fs::path(dir) / root.at("baseline").as_string()).lexically_normal().string();
  const models::Node cases = root.at("cases");
  if (!cases.is_array() || cases.size() == 0) cases.fail("expected a non-empty array of cases");
  std::set<std::string> names;
  for (const models::Node& c : cases.items()) {
    if (!c.is_object()) c.fail("a case is a JSON object");
    only_keys(c, {"name", "description", "traces", "preset", "tokens", "variants", "devices", "flashinfer", "framework",
                  "quant", "global_scale_numel", "expect", "allow_changes"});
    SuiteCase sc;
    sc.name = c.at("name").as_string();
    if (sc.name.empty() || sc.name.find_first_of("/\\ \t") != std::string::npos)
      c.at("name").fail("a case name is non-empty and has no '/', '\\' or spaces");
    if (!names.insert(sc.name).second) c.at("name").fail("duplicate case name '" + sc.name + "'");
    sc.trace_globs = strings(c, "traces");
    sc.preset = c.get_string("preset", "");
    sc.tokens = c.get_int("tokens", 0);
    if (sc.trace_globs.empty() == sc.preset.empty()) c.fail("give \"traces\" (globs) or \"preset\" with \"tokens\", not both");
    if (!sc.preset.empty() && sc.tokens <= 0) c.fail("\"preset\" needs a positive \"tokens\"");
    std::set<std::string> seen;
    for (const auto& g : sc.trace_globs)
      for (auto& t : expand(c.at("traces"), dir, g))
        if (seen.insert(t).second) sc.traces.push_back(t);
    std::sort(sc.traces.begin(), sc.traces.end());
    sc.variants = strings(c, "variants");
    sc.devices = strings(c, "devices");
    sc.flashinfer = strings(c, "flashinfer");
    sc.framework = c.get_string("framework", "");
    if (!sc.framework.empty()) {
      const auto at = sc.framework.find('@');
      const std::string fw = sc.framework.substr(0, at);
      if ((fw != "vllm" && fw != "sglang") || at == std::string::npos || at + 1 == sc.framework.size())
        c.at("framework").fail("expected vllm@REVISION or sglang@REVISION, got '" + sc.framework + "'");
    }
    sc.quant = c.get_string("quant", "");
    sc.global_scale_numel = c.get_int("global_scale_numel", 0);
    const models::Node e = c.at("expect");
    if (!e.is_object()) e.fail("expected an object");
    only_keys(e, {"bit_identical_to_golden", "bounds", "no_error_findings", "findings", "backend"});
    sc.expect.bit_identical_to_golden = e.get_bool("bit_identical_to_golden", false);
    if (auto b = e.find("bounds")) {
      only_keys(*b, {"against", "max_rel_l2", "max_ulp", "min_bit_identical_pct", "max_nan", "max_inf"});
      Bounds bd;
      bd.against = b->get_string("against", "reference");
      if (b->has("max_rel_l2")) bd.max_rel_l2 = b->at("max_rel_l2").as_double();
      if (b->has("max_ulp")) {
        bd.max_ulp = b->at("max_ulp").as_int();
        const auto& edges = ulp_bound_edges();
        if (std::find(edges.begin(), edges.end(), *bd.max_ulp) == edges.end())
          b->at("max_ulp").fail("max_ulp must be a ULP histogram edge: 0, 1, 2, 4, 8, 16, 64 or 256");
      }
      if (b->has("min_bit_identical_pct")) bd.min_bit_identical_pct = b->at("min_bit_identical_pct").as_double();
      if (b->has("max_nan")) bd.max_nan = b->at("max_nan").as_int();
      if (b->has("max_inf")) bd.max_inf = b->at("max_inf").as_int();
      if (!bd.max_rel_l2 && !bd.max_ulp && !bd.min_bit_identical_pct && !bd.max_nan && !bd.max_inf)
        b->fail("bounds state at least one of max_rel_l2, max_ulp, min_bit_identical_pct, max_nan, max_inf");
      sc.expect.bounds = bd;
    }
    sc.expect.no_error_findings = e.get_bool("no_error_findings", false);
    sc.expect.findings = strings(e, "findings");
    sc.expect.backend = e.get_string("backend", "");
    if (!sc.needs_replay() && !sc.needs_check()) e.fail("the case expects nothing");
    if (!sc.needs_replay() && !sc.variants.empty()) c.at("variants").fail("\"variants\" are replayed only for numeric expectations (bit_identical_to_golden, bounds)");
    if (sc.needs_replay() && sc.traces.empty()) e.fail("numeric expectations need traces with weights, not a preset");
    if (!sc.expect.backend.empty() && sc.framework.empty()) e.at("backend").fail("\"backend\" needs the case's \"framework\"");
    if (sc.expect.no_error_findings && !sc.expect.findings.empty())
      e.fail("\"no_error_findings\" and \"findings\" contradict each other");
    for (const auto& a : strings(c, "allow_changes")) {
      if (a != "output" && a != "metrics" && a != "findings" && a != "backend")
        c.at("allow_changes").fail("unknown change '" + a + "' (output, metrics, findings, backend)");
      sc.allow_changes.push_back(a);
    }
    s.cases.push_back(std::move(sc));
  }
  return s;
}

}  // namespace moesim::workflows
