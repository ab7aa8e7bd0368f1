#include "reports/replay_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <sstream>

#include "reports/finding_report.hpp"

namespace moesim::reports {

namespace json = boost::json;

namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f%%", v);
  return buf;
}
json::value jnum(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

// A multi-layer replay's per-layer summary: calls, tokens, worst output metrics, error findings.
struct LayerLine {
  std::int64_t layer = 0, calls = 0, tokens = 0, compared = 0;
  double worst_rel_l2 = 0, min_identical_pct = 100;
  std::size_t error_findings = 0;
};
std::vector<LayerLine> layer_lines(const ReplayReport& r) {
  std::map<std::int64_t, LayerLine> by;  // ascending layer index
  for (const auto& c : r.calls) {
    LayerLine& l = by[c.layer];
    l.layer = c.layer;
    ++l.calls;
    l.tokens += c.num_tokens;
    for (const auto& f : c.result.findings) l.error_findings += f.severity == kernels::Severity::error;
    if (c.diff && c.diff->output_compared) {
      ++l.compared;
      const double rl2 = std::isfinite(c.diff->output.rel_l2) ? c.diff->output.rel_l2 : HUGE_VAL;
      l.worst_rel_l2 = std::max(l.worst_rel_l2, rl2);
      l.min_identical_pct = std::min(l.min_identical_pct, c.diff->output.identical_pct());
    }
  }
  std::vector<LayerLine> out;
  for (auto& [k, v] : by) out.push_back(v);
  return out;
}
std::string call_title(const ReplayReport& r, const CallReport& c) {
  return "call " + std::to_string(c.call) + (r.multi_layer ? " (layer " + std::to_string(c.layer) + ")" : "");
}

json::object group_json(const replay::GroupDiff& g, const char* key) {
  return json::object{{key, g.group}, {"count", g.count}, {"identical", g.identical},
                      {"max_abs", jnum(g.max_abs)}, {"rel_l2", jnum(g.rel_l2)}};
}

std::string hist_line(const replay::BufferDiff& d) {
  std::string s;
  for (std::size_t i = 0; i < replay::kUlpBuckets; ++i)
    if (d.ulp_hist[i]) s += std::string(s.empty() ? "" : "  ") + replay::kUlpBucketNames[i] + ":" + std::to_string(d.ulp_hist[i]);
  return s.empty() ? "-" : s;
}
}  // namespace

json::object to_json(const replay::BufferDiff& d) {
  json::object o{{"a_type", d.a_type},
                 {"b_type", d.b_type},
                 {"rows", d.rows},
                 {"cols", d.cols},
                 {"count", d.count},
                 {"bit_identical", d.identical},
                 {"bit_identical_pct", d.identical_pct()},
                 {"max_abs", jnum(d.max_abs)},
                 {"max_abs_index", d.max_abs_index},
                 {"max_abs_values", json::array{jnum(d.max_abs_a), jnum(d.max_abs_b)}},
                 {"first_mismatch", d.first_mismatch},
                 {"rel_l2", jnum(d.rel_l2)},
                 {"nan", json::array{d.nan_a, d.nan_b}},
                 {"inf", json::array{d.inf_a, d.inf_b}}};
  json::object h;
  for (std::size_t i = 0; i < replay::kUlpBuckets; ++i) h[replay::kUlpBucketNames[i]] = d.ulp_hist[i];
  o["ulp_histogram"] = std::move(h);
  json::array pe, wt;
  for (const auto& g : d.per_expert) pe.push_back(group_json(g, "expert"));
  for (const auto& g : d.worst_tokens) wt.push_back(group_json(g, "token"));
  o["per_expert"] = std::move(pe);
  o["worst_tokens"] = std::move(wt);
  return o;
}

json::object to_json(const ReplayReport& r) {
  json::object o{{"trace", r.trace},       {"variant", r.variant}, {"fidelity", r.fidelity},
                 {"against", r.against},   {"threads", r.threads},
                 {"all_bit_identical", r.all_bit_identical()}, {"error_findings", r.error_findings()}};
  json::array as;
  for (const auto& a : r.assumptions) as.push_back(json::string(a));
  o["assumptions"] = std::move(as);
  json::array calls;
  for (const auto& c : r.calls) {
    json::object co{{"call", c.call}, {"num_tokens", c.num_tokens}, {"seconds", c.result.seconds}};
    if (r.multi_layer) co["layer"] = c.layer;
    json::array fs, ts;
    for (const auto& f : c.result.findings) fs.push_back(to_json(f));
    for (const auto& t : c.result.timings) ts.push_back(json::object{{"stage", t.stage}, {"seconds", t.seconds}});
    co["findings"] = std::move(fs);
    co["timings"] = std::move(ts);
    if (c.diff) {
      json::object d{{"a", c.diff->a_name}, {"b", c.diff->b_name}};
      d["first_divergence"] = c.diff->first_divergence ? json::value(*c.diff->first_divergence) : json::value(nullptr);
      json::array st;
      for (const auto& s : c.diff->stages) {
        json::object so{{"stage", s.stage}, {"compared", s.compared}};
        if (s.compared) so["diff"] = to_json(s.diff);
        else so["note"] = s.note;
        st.push_back(std::move(so));
      }
      d["stages"] = std::move(st);
      if (c.diff->output_compared) d["output"] = to_json(c.diff->output);
      co["diff"] = std::move(d);
    }
    calls.push_back(std::move(co));
  }
  o["calls"] = std::move(calls);
  if (r.multi_layer) {
    json::array ls;
    for (const auto& l : layer_lines(r))
      ls.push_back(json::object{{"layer", l.layer}, {"calls", l.calls}, {"tokens", l.tokens}, {"outputs_compared", l.compared},
                                {"worst_rel_l2", jnum(l.worst_rel_l2)}, {"min_bit_identical_pct", l.min_identical_pct},
                                {"error_findings", l.error_findings}});
    o["layers"] = std::move(ls);
  }
  return o;
}

std::string to_text(const ReplayReport& r) {
  std::ostringstream os;
  os << "replay " << r.trace << "\n  variant " << r.variant << " (" << r.fidelity << "), threads " << r.threads;
  if (!r.against.empty()) os << ", against " << r.against;
  os << "\n";
  for (const auto& c : r.calls) {
    os << call_title(r, c) << ": " << c.num_tokens << " tokens, " << num(c.result.seconds) << " s\n";
    for (const auto& f : c.result.findings) os << "  " << one_line(f) << "\n";
    if (!c.diff) continue;
    os << "  stage        bit-identical      max_abs       rel_l2        ulp histogram\n";
    for (const auto& s : c.diff->stages) {
      char line[160];
      if (!s.compared) {
        std::snprintf(line, sizeof line, "  %-12s (%s)\n", s.stage.c_str(), s.note.c_str());
        os << line;
        continue;
      }
      std::snprintf(line, sizeof line, "  %-12s %9s %7lld/%-7lld %-12s %-12s ", s.stage.c_str(), pct(s.diff.identical_pct()).c_str(),
                    static_cast<long long>(s.diff.identical), static_cast<long long>(s.diff.count), num(s.diff.max_abs).c_str(),
                    num(s.diff.rel_l2).c_str());
      os << line << hist_line(s.diff) << "\n";
    }
    if (c.diff->first_divergence) os << "  first divergence: stage " << *c.diff->first_divergence << "\n";
    else os << "  no divergence in any compared stage\n";
    if (c.diff->output_compared) {
      const auto& d = c.diff->output;
      os << "  output: " << pct(d.identical_pct()) << " bit-identical, max_abs " << num(d.max_abs) << " at "
         << d.max_abs_index << " (" << num(d.max_abs_a) << " vs " << num(d.max_abs_b) << "), rel_l2 " << num(d.rel_l2)
         << ", NaN " << d.nan_a << "/" << d.nan_b << ", Inf " << d.inf_a << "/" << d.inf_b << "\n";
      for (const auto& t : d.worst_tokens)
        os << "    token " << t.group << ": " << t.count - t.identical << " differ, max_abs " << num(t.max_abs) << "\n";
    }
    for (const auto& s : c.diff->stages)
      if (s.compared && !s.diff.per_expert.empty() && !s.diff.bit_identical()) {
        os << "  per expert (" << s.stage << "):";
        for (const auto& g : s.diff.per_expert)
          os << " e" << g.group << "=" << pct(g.count ? 100.0 * g.identical / g.count : 100.0);
        os << "\n";
        break;
      }
  }
  if (r.multi_layer) {
    os << "per layer:\n";
    for (const auto& l : layer_lines(r)) {
      os << "  layer " << l.layer << ": " << l.calls << " calls, " << l.tokens << " tokens";
      if (l.compared) os << ", output worst rel_l2 " << num(l.worst_rel_l2) << ", min bit-identical " << pct(l.min_identical_pct);
      os << ", " << l.error_findings << " error findings\n";
    }
  }
  return os.str();
}

std::string to_markdown(const ReplayReport& r) {
  std::ostringstream os;
  os << "## moesim replay: `" << r.variant << "` (" << r.fidelity << ")\n\n";
  os << "Trace `" << r.trace << "`" << (r.against.empty() ? "" : ", against `" + r.against + "`") << ", " << r.threads
     << " threads.\n\n";
  for (const auto& c : r.calls) {
    os << "### " << call_title(r, c) << " (" << c.num_tokens << " tokens, " << num(c.result.seconds) << " s)\n\n";
    if (!c.result.findings.empty()) {
      os << "| finding | stage | buffer | detail | models |\n|---|---|---|---|---|\n";
      for (const auto& f : c.result.findings)
        os << "| " << f.id << " | " << f.stage << " | " << f.buffer << " | " << f.formula << " | " << f.upstream << " |\n";
      os << "\n";
    }
    if (!c.diff) continue;
    os << "| stage | bit-identical | max abs | rel L2 | ULP histogram |\n|---|---|---|---|---|\n";
    for (const auto& s : c.diff->stages) {
      if (!s.compared) {
        os << "| " << s.stage << " | — | — | — | " << s.note << " |\n";
        continue;
      }
      os << "| " << s.stage << " | " << pct(s.diff.identical_pct()) << " | " << num(s.diff.max_abs) << " | "
         << num(s.diff.rel_l2) << " | " << hist_line(s.diff) << " |\n";
    }
    os << "\n**First divergence:** " << (c.diff->first_divergence ? "`" + *c.diff->first_divergence + "`" : "none")
       << "\n\n";
  }
  return os.str();
}

std::string variant_list_text() {
  std::ostringstream os;
  for (const auto& id : kernels::list_variants()) {
    const auto v = kernels::find_variant(id);
    os << id << "  (" << v.fidelity << ", " << v.quant << ")  " << v.description << "\n";
    for (const auto& line : v.hw_verified_scope) os << "    hw-verified: " << line << "\n";
    if (!v.hw_verified_scope.empty()) os << "    outside these: modelled\n";
  }
  return os.str();
}

}  // namespace moesim::reports
