#include "sim/kernels/finding.hpp"

#include "sim/core/error.hpp"

namespace moesim::kernels {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

Severity parse_severity(const std::string& s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "error") return Severity::error;
  throw InputError("", "unknown severity '" + s + "' (info | warning | error)");
}

const std::vector<std::string>& all_finding_ids() {
  static const std::vector<std::string> ids = {
      finding_id::kGridYOverflow,        finding_id::kInt32OffsetOverflow, finding_id::kSmemExceeded,
      finding_id::kTileUnregistered,     finding_id::kEmptyTacticSet,      finding_id::kActivationUnsupported,
      finding_id::kScaleShapeContract,   finding_id::kScaleDtypeContract,  finding_id::kLayoutMismatch,
      finding_id::kExpertIdRange,        finding_id::kOutputNotWritten,    finding_id::kEmulatedOobAccess,
      finding_id::kKnownBadVersion,      finding_id::kEmpiricalCrashRegion};
  return ids;
}

boost::json::object to_json(const Finding& f) {
  boost::json::object o;
  o["id"] = f.id;
  o["severity"] = severity_name(f.severity);
  o["kernel"] = f.kernel;
  o["stage"] = f.stage;
  o["message"] = f.message;
  o["formula"] = f.formula;
  o["limit"] = f.limit;
  o["upstream"] = f.upstream;
  o["basis"] = f.basis;
  if (f.value) o["value"] = *f.value;
  if (f.limit_value) o["limit_value"] = *f.limit_value;
  if (f.tokens) o["tokens"] = *f.tokens;
  if (f.first_failing_tokens) o["first_failing_tokens"] = *f.first_failing_tokens;
  if (!f.buffer.empty()) o["buffer"] = f.buffer;
  if (f.index) o["index"] = *f.index;
  if (f.count) o["count"] = *f.count;
  if (!f.device.empty()) o["device"] = f.device;
  if (!f.library_version.empty()) o["library_version"] = f.library_version;
  if (!f.framework.empty()) o["framework"] = f.framework;
  if (!f.details.empty()) {
    boost::json::object d;
    for (const auto& [k, v] : f.details) d[k] = v;
    o["details"] = std::move(d);
  }
  return o;
}

std::string to_text(const Finding& f) {
  std::string s = std::string(severity_name(f.severity)) + " " + f.id + "  " + f.kernel + " / " + f.stage;
  if (!f.device.empty()) s += "  [" + f.device + (f.library_version.empty() ? "" : ", " + f.library_version) +
                              (f.framework.empty() ? "" : ", " + f.framework) + "]";
  s += "\n    " + f.message;
  if (!f.buffer.empty()) s += "\n    buffer:   " + f.buffer;
  if (!f.formula.empty()) s += "\n    formula:  " + f.formula;
  if (!f.limit.empty()) s += "\n    limit:    " + f.limit;
  if (f.first_failing_tokens) {
    std::string n = std::to_string(*f.first_failing_tokens), g;
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (i && (n.size() - i) % 3 == 0) g += ',';
      g += n[i];
    }
    s += "\n    first failing tokens per call: " + g;
  }
  for (const auto& [k, v] : f.details) s += "\n    " + k + ": " + v;
  s += "\n    upstream: " + f.upstream;
  if (f.basis != "source") s += "\n    basis:    " + f.basis;
  return s;
}

std::string one_line(const Finding& f) {
  std::string m = f.id + " [" + severity_name(f.severity) + "] kernel " + f.kernel + ", stage " + f.stage;
  if (!f.buffer.empty()) m += ", buffer " + f.buffer;
  m += ": " + (f.formula.empty() ? f.message : f.formula);
  if (!f.limit.empty()) m += " (limit " + f.limit + ")";
  if (!f.upstream.empty()) m += " (models " + f.upstream + ")";
  return m;
}

}  // namespace moesim::kernels
