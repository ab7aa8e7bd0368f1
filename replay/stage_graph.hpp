#pragma once
// The replay plan of one variant: a Boost.Graph DAG of its stages, edges from the stage that
// produces a buffer to every stage that reads it. Run order = topological order, ties broken
// by the order the description lists the stages (so the plan is deterministic).
#include <boost/graph/adjacency_list.hpp>
#include <string>
#include <vector>

#include "sim/kernels/variant.hpp"

namespace moesim::replay {

struct StageVertex {
  std::string id;
  std::string kind;
  std::vector<std::string> inputs, outputs;
};

using StageGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, StageVertex>;

struct ReplayPlan {
  StageGraph graph;
  std::vector<std::size_t> order;            // stage indices (into spec.stages) in run order
  std::vector<std::string> external_inputs;  // buffers read but produced by no stage
};

// Throws InputError (naming the variant file) on a cycle.
ReplayPlan build_plan(const kernels::VariantSpec& spec);

// Graphviz text of the plan (for `moesim replay --plan`).
std::string plan_to_dot(const kernels::VariantSpec& spec, const ReplayPlan& plan);

}  // namespace moesim::replay
