#include "reports/bump_report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "reports/finding_report.hpp"
#include "reports/replay_report.hpp"
#include "reports/svg.hpp"

namespace moesim::reports {
namespace {

namespace json = boost::json;
using svg::escape;

const char* kColorA = "#4c78a8";
const char* kColorB = "#f58518";
const char* kColorAB = "#54a24b";

std::string side_name(const std::string& fi, const std::string& fw) {
  std::string s = fi.empty() ? "" : "flashinfer " + fi;
  if (!fw.empty()) s += (s.empty() ? "" : ", ") + fw;
  return s.empty() ? "(unchanged)" : s;
}

std::string oracle_text(const workflows::OracleSide& o) {
  if (!o.consulted) return "—";
  return o.error ? "raises: " + o.error_message : o.backend;
}

std::string numerics_summary(const workflows::BumpCase& c) {
  if (c.numerics.empty()) return "—";
  std::string s;
  for (const auto& n : c.numerics) {
    std::string t = n.status == "compared" ? (n.first_divergence ? "first divergent stage " + *n.first_divergence : "bit-identical")
                    : n.status == "unchanged-model" ? "same model both sides"
                    : n.status == "a-unavailable"   ? "absent in A"
                    : n.status == "b-unavailable"   ? "not modelled in B"
                                                    : "not replayable";
    s += (s.empty() ? "" : "; ") + n.variant + ": " + t;
  }
  return s;
}

int count_change(const workflows::BumpCase& c, const std::string& what) {
  int n = 0;
  for (const auto& f : c.findings) n += f.change == what;
  return n;
}

std::string thr(const std::optional<kernels::Finding>& f) {
  if (!f) return "—";
  return std::string(kernels::severity_name(f->severity)) + (f->first_failing_tokens ? ", from " + std::to_string(*f->first_failing_tokens) + " tokens" : "");
}

// The output histogram of a report's first call, or the last compared stage when the output was not compared.
const replay::BufferDiff* output_diff(const workflows::ReplayReport& r, std::string& stage) {
  for (const auto& c : r.calls) {
    if (!c.diff) continue;
    if (c.diff->output_compared) {
      stage = "output";
      return &c.diff->output;
    }
    for (auto it = c.diff->stages.rbegin(); it != c.diff->stages.rend(); ++it)
      if (it->compared) {
        stage = it->stage;
        return &it->diff;
      }
  }
  return nullptr;
}

// Per-expert relative L2 of the last compared slot stage (the one with per-expert groups).
const replay::StageDiff* expert_stage(const workflows::ReplayReport& r) {
  const replay::StageDiff* best = nullptr;
  for (const auto& c : r.calls) {
    if (!c.diff) continue;
    for (const auto& s : c.diff->stages)
      if (s.compared && !s.diff.per_expert.empty()) best = &s;
    break;
  }
  return best;
}

std::string ulp_plot(const std::string& id, const std::string& title, const std::vector<const workflows::ReplayReport*>& reps,
                     const std::vector<std::string>& names, const std::vector<std::string>& colors) {
  std::vector<std::string> cats(replay::kUlpBucketNames, replay::kUlpBucketNames + replay::kUlpBuckets);
  std::vector<svg::Series> ss;
  std::string stage;
  for (std::size_t i = 0; i < reps.size(); ++i) {
    if (!reps[i]) continue;
    std::string st;
    const auto* d = output_diff(*reps[i], st);
    if (!d) continue;
    stage = st;
    svg::Series s{names[i], colors[i], {}};
    for (std::size_t b = 0; b < replay::kUlpBuckets; ++b) s.values.push_back(static_cast<double>(d->ulp_hist[b]));
    ss.push_back(std::move(s));
  }
  if (ss.empty()) return "";
  return "<figure class=\"plot\" data-plot=\"ulp-histogram\" id=\"" + escape(id) + "\">" +
         svg::bar_chart(title + " (" + stage + ")", cats, ss, "elements", true) + "<figcaption>ULP distance per element, " + escape(stage) +
         "</figcaption></figure>\n";
}

std::string expert_plot(const std::string& id, const workflows::VariantNumerics& n, const std::string& a, const std::string& b) {
  std::vector<const workflows::ReplayReport*> reps = {n.a_vs_ref ? &*n.a_vs_ref : nullptr, n.b_vs_ref ? &*n.b_vs_ref : nullptr};
  std::vector<std::string> names = {a + " vs fp64", b + " vs fp64"}, colors = {kColorA, kColorB};
  std::vector<svg::Series> ss;
  std::vector<std::string> cats;
  std::string stage;
  for (std::size_t i = 0; i < reps.size(); ++i) {
    if (!reps[i]) continue;
    const auto* s = expert_stage(*reps[i]);
    if (!s) continue;
    stage = s->stage;
    svg::Series se{names[i], colors[i], {}};
    if (cats.empty())
      for (const auto& g : s->diff.per_expert) cats.push_back("e" + std::to_string(g.group));
    for (const auto& g : s->diff.per_expert) se.values.push_back(g.rel_l2);
    ss.push_back(std::move(se));
  }
  if (ss.empty()) return "";
  return "<figure class=\"plot\" data-plot=\"per-expert\" id=\"" + escape(id) + "\">" +
         svg::bar_chart("per-expert relative L2 error, " + stage, cats, ss, "rel L2", false) +
         "<figcaption>per-expert error against the fp64 reference at stage " + escape(stage) + "</figcaption></figure>\n";
}

std::string threshold_plot(const std::string& id, const workflows::BumpCase& c, const std::string& a, const std::string& b) {
  std::vector<std::string> cats;
  svg::Series sa{a, kColorA, {}}, sb{b, kColorB, {}};
  for (const auto& f : c.findings) {
    // Info findings are "not available here" notes, not failures: no threshold to chart.
    const bool ta = f.a && f.a->first_failing_tokens && f.a->severity != kernels::Severity::info;
    const bool tb = f.b && f.b->first_failing_tokens && f.b->severity != kernels::Severity::info;
    if (!ta && !tb) continue;
    cats.push_back(f.key);
    sa.values.push_back(ta ? static_cast<double>(*f.a->first_failing_tokens) : NAN);
    sb.values.push_back(tb ? static_cast<double>(*f.b->first_failing_tokens) : NAN);
  }
  if (cats.empty()) return "";
  return "<figure class=\"plot\" data-plot=\"threshold\" id=\"" + escape(id) + "\">" +
         svg::hbar_log_chart("first failing tokens per call", cats, {sa, sb}, "tokens per kernel call") +
         "<figcaption>exact first failing token count of each finding (moesim check --threshold), A and B</figcaption></figure>\n";
}

const char* kCss =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa;max-width:1100px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px}"
    "table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top;text-align:left}"
    "th{background:#eee}.changed{color:#b00;font-weight:bold}.same{color:#070}.note{color:#555;font-size:13px}"
    "figure{display:inline-block;margin:8px;background:#fff;border:1px solid #ddd;padding:4px}figcaption{font-size:12px;color:#555}"
    "code{background:#eee;padding:0 3px}";

}  // namespace

std::string to_html(const workflows::BumpResult& r) {
  const std::string a = side_name(r.from, r.from_framework), b = side_name(r.to, r.to_framework);
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>moesim bump: " << escape(a) << " → " << escape(b)
     << "</title><style>" << kCss << "</style></head><body>\n";
  os << "<h1>moesim bump: " << escape(a) << " → " << escape(b) << "</h1>\n";
  os << "<p class=\"note\">suite <code>" << escape(r.suite_path) << "</code> (" << escape(r.suite_name) << "), " << r.cases.size()
     << " cases. " << escape(r.description) << "</p>\n";
  os << "<table id=\"summary\"><thead><tr><th>case</th><th>oracle backend A → B</th><th>findings (+ appeared / − gone / Δ changed)</th>"
        "<th>known-bad fixed / introduced</th><th>numerics</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < r.cases.size(); ++i) {
    const auto& c = r.cases[i];
    os << "<tr><td><a href=\"#case-" << i << "\">" << escape(c.id) << "</a></td>";
    if (!c.error.empty()) {
      os << "<td colspan=\"4\" class=\"changed\">could not run: " << escape(c.error) << "</td></tr>\n";
      continue;
    }
    const bool oc = oracle_text(c.oracle_a) != oracle_text(c.oracle_b);
    os << "<td class=\"" << (oc ? "changed" : "same") << "\">" << escape(oracle_text(c.oracle_a)) << " → " << escape(oracle_text(c.oracle_b)) << "</td>";
    os << "<td>+" << count_change(c, "appeared") << " / −" << count_change(c, "disappeared") << " / Δ"
       << count_change(c, "severity") + count_change(c, "threshold") << "</td>";
    os << "<td>" << c.known_bad_fixed.size() << " / " << c.known_bad_introduced.size() << "</td>";
    os << "<td>" << escape(numerics_summary(c)) << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
  for (std::size_t i = 0; i < r.cases.size(); ++i) {
    const auto& c = r.cases[i];
    const std::string pid = "case-" + std::to_string(i);
    os << "<h2 id=\"" << pid << "\">" << escape(c.id) << "</h2>\n";
    if (!c.trace.empty()) os << "<p class=\"note\">trace <code>" << escape(c.trace) << "</code></p>\n";
    if (!c.error.empty()) {
      os << "<p class=\"changed\">could not run: " << escape(c.error) << "</p>\n";
      continue;
    }
    os << "<h3>backend selection</h3>\n";
    if (!c.oracle_a.consulted && !c.oracle_b.consulted) os << "<p class=\"note\">no framework named: no oracle consulted</p>\n";
    else {
      os << "<p>A (" << escape(c.oracle_a.framework) << ", flashinfer " << escape(c.oracle_a.flashinfer) << "): <b>" << escape(oracle_text(c.oracle_a))
         << "</b>; B (" << escape(c.oracle_b.framework) << ", flashinfer " << escape(c.oracle_b.flashinfer) << "): <b>" << escape(oracle_text(c.oracle_b))
         << "</b></p>\n";
      if (!c.oracle_why.empty()) {
        os << "<ul>";
        for (const auto& w : c.oracle_why) os << "<li>" << escape(w) << "</li>";
        os << "</ul>\n";
      }
    }
    os << "<h3>findings</h3>\n<table class=\"findings\"><tr><th>finding</th><th>change</th><th>A</th><th>B</th></tr>\n";
    for (const auto& f : c.findings)
      os << "<tr><td>" << escape(f.key) << "</td><td class=\"" << (f.change == "unchanged" ? "same" : "changed") << "\">" << escape(f.change)
         << "</td><td>" << escape(thr(f.a)) << "</td><td>" << escape(thr(f.b)) << "</td></tr>\n";
    os << "</table>\n";
    for (const auto& k : c.known_bad_fixed) os << "<p>known-bad <b>fixed</b>: " << escape(k) << "</p>\n";
    for (const auto& k : c.known_bad_introduced) os << "<p class=\"changed\">known-bad <b>introduced</b>: " << escape(k) << "</p>\n";
    os << threshold_plot(pid + "-threshold", c, a, b);
    for (std::size_t j = 0; j < c.numerics.size(); ++j) {
      const auto& n = c.numerics[j];
      os << "<h3>numerics: " << escape(n.variant) << "</h3>\n<p>" << escape(n.note) << "</p>\n";
      if (!n.layout_a.empty()) os << "<p class=\"note\">SM90 interleave: A " << escape(n.layout_a) << ", B " << escape(n.layout_b) << "</p>\n";
      if (n.a_vs_b) {
        os << "<table class=\"stages\"><tr><th>stage</th><th>bit-identical A vs B</th><th>max abs</th><th>rel L2</th></tr>\n";
        for (const auto& cl : n.a_vs_b->calls) {
          if (!cl.diff) continue;
          for (const auto& s : cl.diff->stages) {
            if (!s.compared) continue;
            char pct[32];
            std::snprintf(pct, sizeof pct, "%.3f%%", s.diff.identical_pct());
            char ma[32], rl[32];
            std::snprintf(ma, sizeof ma, "%.6g", s.diff.max_abs);
            std::snprintf(rl, sizeof rl, "%.6g", s.diff.rel_l2);
            os << "<tr><td>" << escape(s.stage) << "</td><td class=\"" << (s.diff.bit_identical() ? "same" : "changed") << "\">" << pct << "</td><td>" << ma
               << "</td><td>" << rl << "</td></tr>\n";
          }
          break;
        }
        os << "</table>\n";
      }
      const std::string vid = pid + "-v" + std::to_string(j);
      os << ulp_plot(vid + "-ulp-ab", "ULP histogram, A vs B", {n.a_vs_b ? &*n.a_vs_b : nullptr}, {a + " vs " + b}, {kColorAB});
      os << ulp_plot(vid + "-ulp-ref", "ULP histogram against fp64", {n.a_vs_ref ? &*n.a_vs_ref : nullptr, n.b_vs_ref ? &*n.b_vs_ref : nullptr},
                     {"A", "B"}, {kColorA, kColorB});
      os << expert_plot(vid + "-experts", n, "A", "B");
    }
    if (!c.notes.empty()) {
      os << "<details><summary class=\"note\">notes</summary><ul class=\"note\">";
      for (const auto& n : c.notes) os << "<li>" << escape(n) << "</li>";
      os << "</ul></details>\n";
    }
  }
  os << "<p class=\"note\">generated by moesim bump in " << [&] {
    char b2[32];
    std::snprintf(b2, sizeof b2, "%.1f", r.seconds);
    return std::string(b2);
  }() << " s; A = " << escape(a) << ", B = " << escape(b) << "</p>\n</body></html>\n";
  return os.str();
}

std::string to_markdown(const workflows::BumpResult& r) {
  const std::string a = side_name(r.from, r.from_framework), b = side_name(r.to, r.to_framework);
  std::ostringstream os;
  os << "## moesim bump: " << a << " → " << b << "\n\nSuite `" << r.suite_path << "`, " << r.cases.size() << " cases.\n\n";
  os << "| case | oracle A → B | findings +/−/Δ | known-bad fixed/introduced | numerics |\n|---|---|---|---|---|\n";
  for (const auto& c : r.cases) {
    if (!c.error.empty()) {
      os << "| `" << c.id << "` | could not run: " << c.error << " | | | |\n";
      continue;
    }
    os << "| `" << c.id << "` | " << oracle_text(c.oracle_a) << " → " << oracle_text(c.oracle_b) << " | +" << count_change(c, "appeared") << "/−"
       << count_change(c, "disappeared") << "/Δ" << count_change(c, "severity") + count_change(c, "threshold") << " | " << c.known_bad_fixed.size()
       << "/" << c.known_bad_introduced.size() << " | " << numerics_summary(c) << " |\n";
  }
  for (const auto& c : r.cases) {
    if (!c.error.empty()) continue;
    os << "\n### " << c.id << "\n\n";
    for (const auto& w : c.oracle_why) os << "- oracle: " << w << "\n";
    for (const auto& f : c.findings)
      if (f.change != "unchanged") os << "- " << f.change << ": `" << f.key << "` (A: " << thr(f.a) << "; B: " << thr(f.b) << ")\n";
    for (const auto& f : c.findings)
      if (f.change == "unchanged" && f.b && f.b->severity == kernels::Severity::error)
        os << "- unchanged error: `" << f.key << "` (" << thr(f.b) << " on both sides)\n";
    for (const auto& k : c.known_bad_fixed) os << "- known-bad fixed: " << k << "\n";
    for (const auto& k : c.known_bad_introduced) os << "- known-bad introduced: " << k << "\n";
    for (const auto& n : c.numerics) os << "- numerics `" << n.variant << "`: " << n.note << "\n";
  }
  return os.str();
}

json::object to_json(const workflows::BumpResult& r) {
  json::object o{{"tool", "moesim bump"}, {"suite", r.suite_name}, {"suite_path", r.suite_path}, {"from", r.from}, {"to", r.to},
                 {"from_framework", r.from_framework}, {"to_framework", r.to_framework}, {"seconds", r.seconds}};
  json::array cs;
  for (const auto& c : r.cases) {
    json::object co{{"id", c.id}, {"case", c.case_name}, {"trace", c.trace}, {"error", c.error}, {"changed", c.changed()}};
    auto side = [](const workflows::OracleSide& s) {
      return json::object{{"consulted", s.consulted}, {"framework", s.framework}, {"backend", s.backend},
                          {"error", s.error}, {"error_message", s.error_message}, {"flashinfer", s.flashinfer}};
    };
    co["oracle_a"] = side(c.oracle_a);
    co["oracle_b"] = side(c.oracle_b);
    json::array why, fs, kf, ki, ns, nums;
    for (const auto& w : c.oracle_why) why.push_back(json::string(w));
    for (const auto& f : c.findings) {
      json::object fo{{"key", f.key}, {"change", f.change}};
      fo["a"] = f.a ? json::value(reports::to_json(*f.a)) : json::value(nullptr);
      fo["b"] = f.b ? json::value(reports::to_json(*f.b)) : json::value(nullptr);
      fs.push_back(std::move(fo));
    }
    for (const auto& k : c.known_bad_fixed) kf.push_back(json::string(k));
    for (const auto& k : c.known_bad_introduced) ki.push_back(json::string(k));
    for (const auto& n : c.notes) ns.push_back(json::string(n));
    for (const auto& n : c.numerics) {
      json::object no{{"variant", n.variant}, {"status", n.status}, {"note", n.note}, {"layout_a", n.layout_a}, {"layout_b", n.layout_b}};
      no["first_divergence"] = n.first_divergence ? json::value(*n.first_divergence) : json::value(nullptr);
      no["a_vs_b"] = n.a_vs_b ? json::value(reports::to_json(*n.a_vs_b)) : json::value(nullptr);
      no["a_vs_reference"] = n.a_vs_ref ? json::value(reports::to_json(*n.a_vs_ref)) : json::value(nullptr);
      no["b_vs_reference"] = n.b_vs_ref ? json::value(reports::to_json(*n.b_vs_ref)) : json::value(nullptr);
      nums.push_back(std::move(no));
    }
    co["oracle_why"] = std::move(why);
    co["findings"] = std::move(fs);
    co["known_bad_fixed"] = std::move(kf);
    co["known_bad_introduced"] = std::move(ki);
    co["numerics"] = std::move(nums);
    co["notes"] = std::move(ns);
    cs.push_back(std::move(co));
  }
  o["cases"] = std::move(cs);
  return o;
}

}  // namespace moesim::reports
