#pragma once
// The decision procedure of one selector as a Boost.Graph, built for one revision and query.
//
// Vertices: START, one vertex per candidate on each walk chain (the main priority list and
// each override's own list), SELECTED(c) terminals, and RAISE / EXHAUSTED terminals.
// Edges carry predicates:
//   override  START -> first vertex of the override's chain; predicate = the override's `when`.
//             Tried in order before the main chain; the first whose predicate holds is taken.
//   try       START -> first candidate of the main chain; no predicate (taken if no override).
//   accept    candidate -> SELECTED(candidate); predicates = the candidate's requirements in
//             force at the revision (all must hold).
//   fallback  candidate -> next candidate (or EXHAUSTED / RAISE); taken when accept fails.
// List operations (filters, reorders) shape the main chain before it is built; their
// evaluation is recorded in the trail too.
#include <boost/graph/adjacency_list.hpp>
#include <string>
#include <vector>

#include "models/lib/framework_rules.hpp"
#include "replay/oracle/context.hpp"
#include "replay/oracle/oracle.hpp"

namespace moesim::oracle {

enum class VertexKind { Start, Candidate, Selected, Exhausted, Raise };
enum class EdgeKind { Override, Try, Accept, Fallback };

struct VertexProp {
  VertexKind kind = VertexKind::Start;
  std::string candidate;  // Candidate / Selected
  std::string chain;      // "main" or "override:<predicate id>"
  std::string message;    // Raise / Exhausted
};

struct EdgeProp {
  EdgeKind kind = EdgeKind::Try;
  std::vector<const models::PredRule*> preds;
};

using DecisionGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, VertexProp, EdgeProp>;
using Vertex = boost::graph_traits<DecisionGraph>::vertex_descriptor;

struct BuiltGraph {
  DecisionGraph g;
  Vertex start{};
  std::vector<std::string> main_order;  // after list operations
};

// Builds the graph; list-operation evaluations are appended to `trail`.
BuiltGraph build_graph(const models::Selector& s, int rev, const Context& ctx, std::vector<TrailStep>& trail);

// Walks the graph from START; every predicate evaluated is appended to `trail`.
SelectorResult walk_graph(const BuiltGraph& bg, const models::Selector& s, int rev, const Context& ctx,
                          std::vector<TrailStep>& trail);

std::string to_dot(const BuiltGraph& bg, const models::Selector& s);

}  // namespace moesim::oracle
