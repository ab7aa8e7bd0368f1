#include "reports/finding_report.hpp"

namespace moesim::reports {

boost::json::object to_json(const kernels::Finding& f) {
  boost::json::object o;
  o["id"] = f.id;
  o["severity"] = kernels::severity_name(f.severity);
  o["kernel"] = f.kernel;
  o["stage"] = f.stage;
  o["message"] = f.message;
  o["formula"] = f.formula;
  o["limit"] = f.limit;
  o["upstream"] = f.upstream;
  o["basis"] = f.basis;
  if (!f.gpu_error.empty()) o["gpu_error"] = f.gpu_error;
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

std::string to_text(const kernels::Finding& f) {
  std::string s = std::string(kernels::severity_name(f.severity)) + " " + f.id + "  " + f.kernel + " / " + f.stage;
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
  if (!f.gpu_error.empty()) s += "\n    the GPU prints: " + f.gpu_error;
  s += "\n    upstream: " + f.upstream;
  if (f.basis != "source") s += "\n    basis:    " + f.basis;
  return s;
}

std::string one_line(const kernels::Finding& f) {
  std::string m = f.id + " [" + kernels::severity_name(f.severity) + "] kernel " + f.kernel + ", stage " + f.stage;
  if (!f.buffer.empty()) m += ", buffer " + f.buffer;
  m += ": " + (f.formula.empty() ? f.message : f.formula);
  if (!f.limit.empty()) m += " (limit " + f.limit + ")";
  if (!f.upstream.empty()) m += " (models " + f.upstream + ")";
  return m;
}

}  // namespace moesim::reports
