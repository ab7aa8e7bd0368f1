#include "reports/import_report.hpp"

#include <boost/json.hpp>
#include <sstream>

namespace moesim::reports {

std::string format_import_text(const traces::import::ImportResult& r) {
  std::ostringstream o;
  const auto& m = r.model;
  o << "wrote " << r.output << " (" << r.kind << "): " << (m.name.empty() ? "" : m.name + " ") << "E=" << m.num_experts
    << " K=" << m.top_k << " H=" << m.hidden << " I=" << m.intermediate << " " << m.activation << (m.gated ? "" : " (non-gated)")
    << " quant " << m.quant << ", " << r.calls << " call(s), " << r.tokens << " tokens" << (r.weights ? ", weights" : "") << "\n";
  for (const auto& n : r.notes) o << "  note: " << n << "\n";
  return o.str();
}

std::string format_import_json(const traces::import::ImportResult& r) {
  boost::json::object o;
  o["kind"] = r.kind;
  o["output"] = r.output;
  boost::json::array in, notes;
  for (const auto& s : r.inputs) in.push_back(boost::json::value(s));
  for (const auto& s : r.notes) notes.push_back(boost::json::value(s));
  o["inputs"] = std::move(in);
  const auto& m = r.model;
  o["model"] = {{"name", m.name}, {"num_experts", m.num_experts}, {"top_k", m.top_k}, {"hidden", m.hidden},
                {"intermediate", m.intermediate}, {"activation", m.activation}, {"gated", m.gated}, {"quant", m.quant}};
  o["calls"] = r.calls;
  o["tokens"] = r.tokens;
  o["weights"] = r.weights;
  o["notes"] = std::move(notes);
  return boost::json::serialize(o) + "\n";
}

}  // namespace moesim::reports
