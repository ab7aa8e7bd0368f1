#include "reports/oracle_report.hpp"

#include <boost/json.hpp>
#include <sstream>

#include "models/lib/framework_revision.hpp"

namespace moesim::reports {

namespace {
std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}
}  // namespace

std::string format_text(const oracle::OracleDecision& d) {
  std::ostringstream os;
  os << d.framework << "@" << d.revision;
  if (!d.revision_commit.empty()) os << " (commit " << d.revision_commit.substr(0, 12) << ")";
  if (!d.revision_note.empty()) os << "\nrevision: " << d.revision_note;
  os << "\ndevice " << d.device << " (sm" << d.sm << "), quant " << d.quant << ", flashinfer " << d.flashinfer_version
     << " (" << d.flashinfer_origin << ")\n";
  if (d.error)
    os << "backend: NONE - the framework raises: " << d.error_message << "\n";
  else
    os << "backend: " << d.backend << "  (" << d.framework << " candidate " << d.candidate << ")\n";
  for (const auto& r : d.results) {
    os << "\n[" << r.selector << "] " << r.title << "\n";
    if (r.applicable)
      os << "  walk order: " << (r.walk_order.empty() ? std::string("(none)") : join(r.walk_order, " > ")) << "\n";
    std::string last_cand = "\x01";
    for (const auto& t : d.trail) {
      if (t.selector != r.selector) continue;
      if (t.edge == "accept" && t.candidate != last_cand) {
        os << "  candidate " << t.candidate << ":\n";
        last_cand = t.candidate;
      } else if (t.edge != "accept") {
        last_cand = "\x01";
      }
      if (t.edge != "accept" && !t.passed) {  // an override / list op that did not fire: one line
        os << "  skip " << t.edge << " " << t.predicate_id << ": " << t.observed << "\n";
        continue;
      }
      std::string indent = t.edge == "accept" ? "    " : "  ";
      std::string tag = t.edge == "accept" ? (t.passed ? "ok  " : "FAIL") : "TOOK";
      os << indent << tag << " " << (t.edge == "accept" ? "" : t.edge + " ") << t.predicate_id << ": " << t.text
         << "\n" << indent << "     seen: " << t.observed << "\n";
      if (!t.source.empty()) os << indent << "     models: " << t.source << "\n";
    }
    if (!r.applicable)
      os << "  => not modelled: " << r.error_message << "\n";
    else if (r.error)
      os << "  => raises: " << r.error_message << "\n";
    else
      os << "  => " << r.value << (r.candidate.empty() ? "" : "  (" + r.candidate + ")") << "\n";
    for (const auto& [k, v] : r.properties) os << "     " << k << ": " << v << "\n";
  }
  return os.str();
}

std::string format_json(const oracle::OracleDecision& d) {
  namespace json = boost::json;
  json::object o;
  o["framework"] = d.framework;
  o["revision"] = d.revision;
  o["revision_commit"] = d.revision_commit;
  o["revision_spec"] = d.revision_spec;
  o["revision_note"] = d.revision_note;
  json::array decided;
  for (const auto& x : d.decided_by) decided.push_back(json::value(x));
  o["decided_by"] = decided;
  o["device"] = d.device;
  o["sm"] = d.sm;
  o["quant"] = d.quant;
  o["flashinfer_version"] = d.flashinfer_version;
  o["flashinfer_origin"] = d.flashinfer_origin;
  o["backend"] = d.error ? json::value(nullptr) : json::value(d.backend);
  o["candidate"] = d.candidate;
  o["error"] = d.error;
  o["error_message"] = d.error_message;
  json::array results;
  for (const auto& r : d.results) {
    json::object ro;
    ro["selector"] = r.selector;
    ro["title"] = r.title;
    ro["modelled"] = r.applicable;
    ro["error"] = r.error;
    ro["error_message"] = r.error_message;
    ro["candidate"] = r.candidate;
    ro["value"] = r.value;
    json::array wo;
    for (const auto& w : r.walk_order) wo.push_back(json::value(w));
    ro["walk_order"] = wo;
    json::object props;
    for (const auto& [k, v] : r.properties) props[k] = v;
    ro["properties"] = props;
    results.push_back(ro);
  }
  o["results"] = results;
  json::array trail;
  for (const auto& t : d.trail) {
    json::object to;
    to["selector"] = t.selector;
    to["candidate"] = t.candidate;
    to["edge"] = t.edge;
    to["predicate"] = t.predicate_id;
    to["text"] = t.text;
    to["observed"] = t.observed;
    to["source"] = t.source;
    to["passed"] = t.passed;
    trail.push_back(to);
  }
  o["trail"] = trail;
  return json::serialize(o) + "\n";
}

std::string format_revision_list(const models::Framework& fw, bool as_json) {
  auto rows = models::revision_rows(fw);
  if (as_json) {
    boost::json::array a;
    for (const auto& r : rows)
      a.push_back(boost::json::object{{"name", r.name}, {"kind", r.kind}, {"date", r.date}, {"commit", r.commit},
                                      {"resolves", r.resolves}, {"text", r.text}});
    return boost::json::serialize(boost::json::object{{"framework", fw.name}, {"history", fw.history_note}, {"revisions", a}}) + "\n";
  }
  std::ostringstream os;
  os << fw.name << ": " << fw.revisions.size() << " modelled revisions, " << fw.tags.size()
     << " release tags (oldest first); a commit on " << fw.history_note << " resolves to the revision before it\n";
  for (const auto& r : rows) {
    os << (r.kind == "tag" ? "tag      " : "revision ") << r.name << "  " << (r.date.empty() ? "(date not recorded)" : r.date) << "  "
       << (r.commit.empty() ? "(commit not recorded)" : r.commit.substr(0, 12));
    if (r.kind == "tag") os << "  -> " << r.resolves;
    os << "\n    " << r.text << "\n";
  }
  return os.str();
}

}  // namespace moesim::reports
