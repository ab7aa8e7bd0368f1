#include "reports/check_report.hpp"

#include <sstream>

#include "reports/finding_report.hpp"

namespace moesim::reports {
namespace {
std::vector<const kernels::Finding*> shown(const workflows::CheckResult& r, kernels::Severity min) {
  std::vector<const kernels::Finding*> out;
  for (const auto& f : r.report.findings)
    if (static_cast<int>(f.severity) >= static_cast<int>(min)) out.push_back(&f);
  return out;
}
}  // namespace

boost::json::object to_json(const workflows::CheckResult& r, kernels::Severity min_severity) {
  const auto& w = r.workload;
  boost::json::object j;
  j["tool"] = "moesim check";
  j["source"] = w.source;
  boost::json::object model;
  model["name"] = w.model.name;
  model["num_experts"] = w.model.num_experts;
  model["top_k"] = w.model.top_k;
  model["hidden"] = w.model.hidden;
  model["intermediate"] = w.model.intermediate;
  model["activation"] = w.model.activation;
  model["gated"] = w.model.gated;
  model["quant"] = w.model.quant;
  j["model"] = std::move(model);
  boost::json::array targets;
  for (const auto& t : r.report.targets) {
    boost::json::object o2;
    o2["variant"] = t.variant;
    o2["device"] = t.device;
    o2["flashinfer"] = t.flashinfer;
    o2["framework"] = t.framework;
    o2["kernel_calls"] = t.kernel_calls;
    targets.push_back(std::move(o2));
  }
  j["targets"] = std::move(targets);
  boost::json::array ns;
  for (const auto& n : r.report.notes) ns.push_back(boost::json::string(n));
  j["notes"] = std::move(ns);
  boost::json::array fs;
  for (const auto* f : shown(r, min_severity)) fs.push_back(to_json(*f));
  j["findings"] = std::move(fs);
  return j;
}

std::string to_text(const workflows::CheckResult& r, kernels::Severity min_severity) {
  const auto& w = r.workload;
  std::ostringstream os;
  os << "moesim check: " << w.source << " (E=" << w.model.num_experts << ", top_k=" << w.model.top_k
     << ", H=" << w.model.hidden << ", I=" << w.model.intermediate << ", " << w.model.quant << ", "
     << w.model.activation << (w.model.gated ? " gated" : "") << "); " << r.report.targets.size() << " targets\n";
  for (const auto& n : r.report.notes) os << "note: " << n << "\n";
  const auto s = shown(r, min_severity);
  if (s.empty()) os << "no findings\n";
  for (const auto* f : s) os << "\n" << to_text(*f) << "\n";
  return os.str();
}

}  // namespace moesim::reports
