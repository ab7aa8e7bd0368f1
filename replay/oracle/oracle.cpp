#include "replay/oracle/oracle.hpp"

#include <algorithm>
#include <cctype>
#include <boost/json.hpp>
#include <sstream>

#include "models/lib/framework_devices.hpp"
#include "models/lib/framework_revision.hpp"
#include "models/lib/framework_rules.hpp"
#include "replay/oracle/context.hpp"
#include "replay/oracle/decision_graph.hpp"
#include "sim/core/error.hpp"

namespace moesim::oracle {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// The value an env var has for the rules, as upstream parses it; InputError for a name the
// model does not know, a variable the revision does not read, or a value upstream rejects.
std::string normalise_env(const models::Framework& fw, int rev, const std::string& k, const std::string& v) {
  const models::EnvDef* e = fw.find_env(k);
  const std::string where = "--env " + k;
  if (!e) {
    std::vector<std::string> names;
    for (const auto& d : fw.envs) names.push_back(d.name);
    throw InputError(where, "not an environment variable the " + fw.name +
                                " selection code reads (modelled: " + join(names) + ")");
  }
  if (!e->range.contains(rev)) {
    std::string when = rev < e->range.since ? "first read at " + e->range.since_name
                                            : "no longer read from " + e->range.until_name;
    throw InputError(where, fw.name + "@" + fw.revisions[rev].id + " does not read " + k + " (" + when + "; " + e->source + ")");
  }
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
  };
  if (e->type == "int_bool") {
    // Python bool(int(value)): optional sign, digits (underscores between digits), whitespace.
    std::string t = trim(v);
    std::size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
    bool ok = i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]));
    bool nonzero = false;
    for (std::size_t j = i; ok && j < t.size(); ++j) {
      if (t[j] == '_') ok = j + 1 < t.size() && std::isdigit(static_cast<unsigned char>(t[j + 1])) && std::isdigit(static_cast<unsigned char>(t[j - 1]));
      else if (!std::isdigit(static_cast<unsigned char>(t[j]))) ok = false;
      else if (t[j] != '0') nonzero = true;
    }
    if (!ok)
      throw InputError(where, "value '" + v + "': upstream parses it with bool(int(...)) and raises ValueError (" + e->source + ")");
    return nonzero ? "1" : "0";
  }
  if (e->type == "str_true") {
    std::string t = trim(v);
    for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return (t == "1" || t == "true") ? "1" : "0";
  }
  if (e->type == "bool_str") {
    std::string t = v;
    for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (t == "true" || t == "1" || t == "yes" || t == "y") return "1";
    if (t == "false" || t == "0" || t == "no" || t == "n") return "0";
    throw InputError(where, "value '" + v + "' is not a boolean upstream accepts (true/1/yes/y, false/0/no/n; " + e->source + ")");
  }
  if (std::find(e->choices.begin(), e->choices.end(), v) == e->choices.end())
    throw InputError(where, "value '" + v + "' is rejected upstream (choices, case-sensitive: " + join(e->choices) + "; " + e->source + ")");
  return v;
}

struct Prepared {
  models::Framework fw;
  int rev = 0;
  Context ctx;
  OracleDecision d;
};

Prepared prepare(const OracleQuery& q, const std::string& models_dir) {
  Prepared p;
  auto at = q.framework.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == q.framework.size())
    throw InputError("framework '" + q.framework + "'", "expected NAME@REVISION, e.g. vllm@pr40808 or sglang@main-d55f1c2");
  std::string name = q.framework.substr(0, at), rev = q.framework.substr(at + 1);
  p.fw = models::load_framework_by_name(models_dir, name);
  models::ResolvedRevision rr = models::resolve_revision(p.fw, rev, models_dir);
  p.rev = rr.index;
  const auto& r = p.fw.revisions[p.rev];
  auto dev = models::resolve_device(models_dir, q.device);
  const models::QuantScheme* qs = p.fw.find_quant(q.quant);
  if (!qs) {
    std::vector<std::string> ids;
    for (const auto& s : p.fw.quants) ids.push_back(s.id);
    throw InputError("quant '" + q.quant + "'", "unknown quant scheme for " + name + " (known: " + join(ids) + ")");
  }
  Context& c = p.ctx;
  c.sm = dev.sm;
  c.platform = dev.platform;
  c.quant = qs->id;
  for (const auto& [k, v] : q.env) c.env[k] = normalise_env(p.fw, p.rev, k, v);
  for (const auto& e : p.fw.envs)
    if (!e.dflt.empty()) c.env_default[e.name] = e.dflt;
  std::string fi = q.flashinfer_version;
  std::string origin = "query";
  if (fi.empty() && r.flashinfer_pin.empty()) {
    // No pin recorded: fine as long as no rule consults the version (evaluate() says so if one does).
    c.flashinfer_unknown = true;
    origin = "not given; no pin recorded for " + r.id;
    fi = "unknown";
  } else if (fi.empty()) {
    fi = r.flashinfer_pin;
    origin = "pinned at " + r.id;
  }
  if (fi != "none" && fi != "unknown") c.flashinfer = models::PyVersion::parse(fi, "flashinfer version");
  for (const auto& t : p.fw.traits) c.traits[t.name] = t.dflt;
  for (const auto& [k, v] : q.traits) {
    const models::TraitDef* t = p.fw.find_trait(k);
    if (!t) {
      std::vector<std::string> ids;
      for (const auto& td : p.fw.traits) ids.push_back(td.name);
      throw InputError("trait '" + k + "'", "unknown trait for " + name + " (known: " + join(ids) + ")");
    }
    if (t->type == "enum" && std::find(t->values.begin(), t->values.end(), v) == t->values.end())
      throw InputError("trait '" + k + "'", "value '" + v + "' not allowed (allowed: " + join(t->values) + ")");
    if (t->type == "bool" && v != "0" && v != "1")
      throw InputError("trait '" + k + "'", "value '" + v + "' not allowed (allowed: 0, 1)");
    if (t->type == "int") {
      std::size_t pos = 0;
      bool ok = !v.empty();
      try {
        (void)std::stoll(v, &pos);
      } catch (const std::exception&) {
        ok = false;
      }
      if (!ok || pos != v.size()) throw InputError("trait '" + k + "'", "value '" + v + "' is not an integer");
    }
    c.traits[k] = v;
  }
  OracleDecision& d = p.d;
  d.framework = p.fw.name;
  d.revision = r.id;
  d.revision_commit = r.commit;
  d.revision_spec = rev;
  d.revision_note = rr.note;
  d.device = dev.name;
  d.sm = dev.sm;
  d.quant = qs->id;
  d.flashinfer_version = c.flashinfer ? c.flashinfer->text : fi;
  d.flashinfer_origin = origin;
  return p;
}

std::string unmodelled(const models::Selector& s, const Prepared& p) {
  return s.unmodelled_message.empty()
             ? "selector '" + s.id + "' is not modelled at this revision (modelled from " +
                   (s.range.since_name.empty() ? p.fw.revisions.front().id : s.range.since_name) + ")"
             : s.unmodelled_message;
}

// Returns false when the selector does not apply to the query, or (for a secondary selector)
// is not modelled at the revision. A primary selector outside its modelled range is an error.
bool applies(const models::Selector& s, const Prepared& p) {
  if (s.applies_when && !evaluate(*s.applies_when, p.ctx).pass) return false;
  if (!s.range.contains(p.rev)) {
    if (s.primary) throw InputError(p.fw.name + "@" + p.fw.revisions[p.rev].id, unmodelled(s, p));
    return false;
  }
  return true;
}

}  // namespace

std::pair<std::string, std::string> parse_assignment(const std::string& kv, const std::string& where) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(where, "'" + kv + "' is not of the form NAME=VALUE");
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

OracleDecision decide(const OracleQuery& q, const std::string& models_dir) {
  Prepared p = prepare(q, models_dir);
  OracleDecision& d = p.d;
  bool have_primary = false;
  for (const auto& s : p.fw.selectors) {
    if (!applies(s, p)) {
      if (!s.range.contains(p.rev) && (!s.applies_when || evaluate(*s.applies_when, p.ctx).pass)) {
        SelectorResult r;
        r.selector = s.id;
        r.title = s.title;
        r.applicable = false;
        r.error_message = unmodelled(s, p);
        p.ctx.results[s.id] = "(not modelled)";
        d.results.push_back(std::move(r));
      }
      continue;
    }
    BuiltGraph bg = build_graph(s, p.rev, p.ctx, d.trail);
    SelectorResult r = walk_graph(bg, s, p.rev, p.ctx, d.trail);
    p.ctx.results[s.id] = r.error ? "error" : r.value;
    for (const auto& [k, v] : r.properties) p.ctx.results[s.id + "." + k] = v;  // result_in "SEL.PROP"
    if (s.primary && !have_primary) {
      have_primary = true;
      d.backend = r.error ? "" : r.value;
      d.candidate = r.candidate;
      d.error = r.error;
      d.error_message = r.error_message;
    }
    d.results.push_back(std::move(r));
  }
  if (!have_primary)
    throw InputError(p.fw.file, "no primary selector applies to quant '" + d.quant + "' (data error)");
  d.decided_by.assign(p.ctx.read.begin(), p.ctx.read.end());
  return d;
}

std::string decision_graph_dot(const OracleQuery& q, const std::string& models_dir) {
  Prepared p = prepare(q, models_dir);
  std::string out;
  std::vector<TrailStep> scratch;
  for (const auto& s : p.fw.selectors) {
    if (!applies(s, p)) continue;
    BuiltGraph bg = build_graph(s, p.rev, p.ctx, scratch);
    SelectorResult r = walk_graph(bg, s, p.rev, p.ctx, scratch);  // later selectors may read results
    p.ctx.results[s.id] = r.error ? "error" : r.value;
    for (const auto& [k, v] : r.properties) p.ctx.results[s.id + "." + k] = v;
    out += to_dot(bg, s);
  }
  return out;
}

}  // namespace moesim::oracle
