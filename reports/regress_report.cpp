#include "reports/regress_report.hpp"

#include <cstdio>
#include <sstream>

namespace moesim::reports {
namespace {

namespace json = boost::json;
using Status = workflows::CaseResult::Status;

std::string secs(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", s);
  return b;
}

const char* status_name(Status s) { return s == Status::pass ? "pass" : s == Status::fail ? "fail" : "error"; }

std::string md_cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += "<br>";
    else o += c;
  }
  return o;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') o += "\xEF\xBF\xBD";
        else o += static_cast<char>(c);
    }
  }
  return o;
}

std::string to_junit(const workflows::RegressResult& r) {
  const std::size_t n = r.cases.size(), f = r.count(Status::fail), e = r.count(Status::error);
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"moesim regress\" tests=\"" << n << "\" failures=\"" << f << "\" errors=\"" << e << "\" time=\""
     << secs(r.seconds) << "\">\n";
  os << "  <testsuite name=\"" << xml_escape(r.suite_name) << "\" tests=\"" << n << "\" failures=\"" << f << "\" errors=\"" << e
     << "\" skipped=\"0\" time=\"" << secs(r.seconds) << "\">\n";
  for (const auto& c : r.cases) {
    os << "    <testcase classname=\"" << xml_escape(r.suite_name + "." + c.case_name) << "\" name=\"" << xml_escape(c.id)
       << "\" time=\"" << secs(c.seconds) << "\"";
    if (c.status == Status::pass && c.notes.empty()) {
      os << "/>\n";
      continue;
    }
    os << ">\n";
    if (c.status != Status::pass) {
      std::string all;
      for (const auto& l : c.failures) all += l + "\n";
      const char* tag = c.status == Status::fail ? "failure" : "error";
      os << "      <" << tag << " message=\"" << xml_escape(c.failures.empty() ? "" : c.failures.front()) << "\" type=\""
         << (c.status == Status::fail ? "regression" : "bad-input") << "\">" << xml_escape(all) << "</" << tag << ">\n";
    }
    if (!c.notes.empty()) {
      std::string all;
      for (const auto& l : c.notes) all += l + "\n";
      os << "      <system-out>" << xml_escape(all) << "</system-out>\n";
    }
    os << "    </testcase>\n";
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

std::string to_markdown(const workflows::RegressResult& r, std::size_t limit) {
  const std::size_t n = r.cases.size(), f = r.count(Status::fail), e = r.count(Status::error);
  std::ostringstream head;
  head << "## moesim regress: " << r.suite_name << " — " << (f + e == 0 ? "pass" : "**FAIL**") << "\n\n";
  head << n - f - e << " of " << n << " cases pass, " << f << " fail, " << e << " could not run; " << secs(r.seconds) << " s";
  if (!r.baseline.empty()) head << "; baseline `" << r.baseline << "`" << (r.baseline_updated ? " (updated)" : "");
  head << ".\n\n";
  // Failures first (they are what a reviewer reads), then the passing cases, until the limit.
  std::string body = "| case | status | first failure |\n|---|---|---|\n";
  const std::string tail_note = "\n_(truncated to fit the " + std::to_string(limit) + "-byte job-summary limit; see the JUnit report)_\n";
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& c : r.cases) {
      if ((c.status == Status::pass) != (pass == 1)) continue;
      std::string row = "| `" + md_cell(c.id) + "` | " + status_name(c.status) + " | " +
                        md_cell(c.failures.empty() ? "" : c.failures.front()) +
                        (c.failures.size() > 1 ? " (+" + std::to_string(c.failures.size() - 1) + " more)" : "") + " |\n";
      if (head.str().size() + body.size() + row.size() + tail_note.size() > limit) {
        body += tail_note;
        return head.str() + body;
      }
      body += row;
    }
  return head.str() + body;
}

json::object to_json(const workflows::RegressResult& r) {
  json::object o{{"tool", "moesim regress"},
                 {"suite", r.suite_name},
                 {"suite_path", r.suite_path},
                 {"baseline", r.baseline},
                 {"baseline_updated", r.baseline_updated},
                 {"seconds", r.seconds},
                 {"cases_total", r.cases.size()},
                 {"cases_failed", r.count(Status::fail)},
                 {"cases_error", r.count(Status::error)},
                 {"exit_code", r.exit_code()}};
  json::array cs;
  for (const auto& c : r.cases) {
    json::object co{{"id", c.id},           {"case", c.case_name},   {"trace", c.trace}, {"variant", c.variant},
                    {"flashinfer", c.flashinfer}, {"status", status_name(c.status)}, {"seconds", c.seconds},
                    {"baseline_compared", c.baseline_compared}};
    co["first_divergence"] = c.first_divergence ? json::value(*c.first_divergence) : json::value(nullptr);
    json::array fl, nt, fs;
    for (const auto& l : c.failures) fl.push_back(json::string(l));
    for (const auto& l : c.notes) nt.push_back(json::string(l));
    for (const auto& l : c.recorded.findings) fs.push_back(json::string(l));
    co["failures"] = std::move(fl);
    co["notes"] = std::move(nt);
    json::object rec{{"output_sha256", c.recorded.output_sha256}, {"backend", c.recorded.backend}, {"findings", std::move(fs)}};
    if (c.recorded.has_metrics)
      rec["metrics"] = json::object{{"rel_l2", c.recorded.rel_l2}, {"bit_identical_pct", c.recorded.bit_identical_pct},
                                    {"max_ulp", c.recorded.max_ulp}, {"nan", c.recorded.nan}, {"inf", c.recorded.inf}};
    co["recorded"] = std::move(rec);
    cs.push_back(std::move(co));
  }
  o["cases"] = std::move(cs);
  return o;
}

std::string to_text(const workflows::RegressResult& r) {
  std::ostringstream os;
  const std::size_t n = r.cases.size(), f = r.count(Status::fail), e = r.count(Status::error);
  os << "moesim regress " << r.suite_path << ": " << n - f - e << "/" << n << " pass, " << f << " fail, " << e << " error ("
     << secs(r.seconds) << " s)";
  if (!r.baseline.empty()) os << (r.baseline_updated ? ", baseline written to " : ", baseline ") << r.baseline;
  os << "\n";
  for (const auto& c : r.cases) {
    os << "  " << (c.status == Status::pass ? "ok   " : c.status == Status::fail ? "FAIL " : "ERROR") << " " << c.id << "\n";
    for (const auto& l : c.failures) os << "        " << l << "\n";
  }
  return os.str();
}

}  // namespace moesim::reports
