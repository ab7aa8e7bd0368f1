#include "reports/repro_report.hpp"

#include <sstream>

#include "reports/finding_report.hpp"

namespace moesim::reports {

namespace json = boost::json;

json::object to_json(const workflows::ReproResult& r) {
  json::object o{{"tool", "moesim repro"}, {"error_text", r.error_text}, {"explained", r.explained()}};
  json::array ex;
  for (const auto& e : r.explanations) {
    json::object f = to_json(e.finding);
    f["match_score"] = e.score;
    ex.push_back(std::move(f));
  }
  o["explanations"] = std::move(ex);
  o["first_failing_tokens"] = r.first_failing_tokens ? json::value(*r.first_failing_tokens) : json::value(nullptr);
  o["first_failing_basis"] = r.first_failing_basis;
  json::object sm;
  for (const auto& [k, v] : r.smallest) sm[k] = v;
  o["smallest_configuration"] = std::move(sm);
  o["smallest_command"] = r.smallest_command;
  o["minimal_trace"] = r.minimal_trace.empty() ? json::value(nullptr) : json::value(r.minimal_trace);
  o["minimal_tokens"] = r.minimal_tokens;
  o["minimal_reproduces"] = r.minimal_reproduces;
  o["minimal_note"] = r.minimal_note;
  json::array ts, fs, ns;
  for (const auto& t : r.checked_targets) ts.push_back(json::string(t));
  for (const auto& [f, e] : r.checked_findings) fs.push_back(json::object{{"finding", f}, {"gpu_error", e}});
  for (const auto& n : r.notes) ns.push_back(json::string(n));
  o["checked_targets"] = std::move(ts);
  o["checked_findings"] = std::move(fs);
  o["notes"] = std::move(ns);
  return o;
}

std::string to_text(const workflows::ReproResult& r) {
  std::ostringstream os;
  os << "moesim repro: \"" << r.error_text << "\"\n";
  if (!r.explained()) {
    os << "nothing explains it: no finding of the checked deployment prints this error.\n";
    os << "checked " << r.checked_targets.size() << " targets:\n";
    for (const auto& t : r.checked_targets) os << "  " << t << "\n";
    os << "findings there (" << r.checked_findings.size() << "), with the error each prints:\n";
    for (const auto& [f, e] : r.checked_findings) os << "  " << f << ": " << (e.empty() ? "(no error text: silent or not modelled)" : e) << "\n";
    for (const auto& n : r.notes) os << "note: " << n << "\n";
    return os.str();
  }
  os << "explained by " << r.explanations.size() << " finding" << (r.explanations.size() == 1 ? "" : "s") << " (best first):\n";
  for (const auto& e : r.explanations) os << "\n" << to_text(e.finding) << "\n";
  os << "\nfirst failing tokens per call: " << (r.first_failing_tokens ? std::to_string(*r.first_failing_tokens) : "-") << "  ("
     << r.first_failing_basis << ")\n";
  os << "smallest failing configuration:\n";
  for (const auto& [k, v] : r.smallest) os << "  " << k << ": " << v << "\n";
  os << "  reproduce: " << r.smallest_command << "\n";
  if (!r.minimal_trace.empty())
    os << "minimal trace: " << r.minimal_trace << " (" << r.minimal_tokens << " tokens, one call, shape only)"
       << (r.minimal_reproduces ? "; reproduces" : "; does NOT reproduce on its own") << "\n  " << r.minimal_note << "\n";
  for (const auto& n : r.notes) os << "note: " << n << "\n";
  return os.str();
}

}  // namespace moesim::reports
