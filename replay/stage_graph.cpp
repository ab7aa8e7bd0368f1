#include "replay/stage_graph.hpp"

#include <boost/graph/topological_sort.hpp>
#include <map>
#include <set>
#include <sstream>

#include "sim/core/error.hpp"

namespace moesim::replay {

ReplayPlan build_plan(const kernels::VariantSpec& spec) {
  ReplayPlan plan;
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const auto& s = spec.stages[i];
    boost::add_vertex(StageVertex{s.id, s.kind, s.inputs, s.outputs}, plan.graph);
    for (const auto& o : s.outputs) producer[o] = i;
  }
  std::set<std::string> ext;
  for (std::size_t i = 0; i < spec.stages.size(); ++i)
    for (const auto& in : spec.stages[i].inputs) {
      auto it = producer.find(in);
      if (it == producer.end()) ext.insert(in);
      else if (!boost::edge(it->second, i, plan.graph).second) boost::add_edge(it->second, i, plan.graph);
    }
  plan.external_inputs.assign(ext.begin(), ext.end());
  // Topological order with listing order as the tie-break: Kahn's algorithm over a min-heap
  // gives that directly; boost::topological_sort checks acyclicity (throws not_a_dag).
  std::vector<std::size_t> rev;
  try {
    boost::topological_sort(plan.graph, std::back_inserter(rev));
  } catch (const boost::not_a_dag&) {
    throw InputError(spec.file + ":/stages", "stage graph has a cycle");
  }
  std::vector<int> indeg(spec.stages.size(), 0);
  for (auto [e, end] = boost::edges(plan.graph); e != end; ++e) ++indeg[boost::target(*e, plan.graph)];
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < indeg.size(); ++i)
    if (indeg[i] == 0) ready.insert(i);
  while (!ready.empty()) {
    const std::size_t v = *ready.begin();
    ready.erase(ready.begin());
    plan.order.push_back(v);
    for (auto [e, end] = boost::out_edges(v, plan.graph); e != end; ++e) {
      const std::size_t t = boost::target(*e, plan.graph);
      if (--indeg[t] == 0) ready.insert(t);
    }
  }
  return plan;
}

std::string plan_to_dot(const kernels::VariantSpec& spec, const ReplayPlan& plan) {
  std::ostringstream os;
  os << "digraph \"" << spec.id << "\" {\n  rankdir=LR;\n";
  for (std::size_t i = 0; i < spec.stages.size(); ++i)
    os << "  s" << i << " [shape=box,label=\"" << spec.stages[i].id << "\\n(" << spec.stages[i].kind << ", "
       << spec.stages[i].fidelity << ")\"];\n";
  for (auto [e, end] = boost::edges(plan.graph); e != end; ++e)
    os << "  s" << boost::source(*e, plan.graph) << " -> s" << boost::target(*e, plan.graph) << ";\n";
  os << "}\n";
  return os.str();
}

}  // namespace moesim::replay
