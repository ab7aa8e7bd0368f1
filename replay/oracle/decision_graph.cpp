#include "replay/oracle/decision_graph.hpp"

#include <algorithm>
#include <sstream>

#include "replay/oracle/formulas.hpp"
#include "sim/core/error.hpp"

namespace moesim::oracle {

namespace {

bool in_force(const models::RevRange& r, int rev) { return r.contains(rev); }

TrailStep step(const models::Selector& s, const std::string& cand, const char* edge, const models::PredRule& p,
               const Verdict& v) {
  return TrailStep{s.id, cand, edge, p.id, p.text, v.observed, p.source, v.pass};
}

// Appends a chain of candidate vertices for `ids`; returns the first vertex (or the terminal if
// the chain is empty). The chain ends in `terminal`.
Vertex add_chain(DecisionGraph& g, const models::Selector& s, int rev, const std::vector<std::string>& ids,
                 const std::string& chain, Vertex terminal) {
  std::vector<Vertex> vs;
  for (const auto& id : ids) {
    const auto& c = s.candidates.at(id);
    if (!in_force(c.range, rev)) continue;
    Vertex v = boost::add_vertex(VertexProp{VertexKind::Candidate, id, chain, ""}, g);
    Vertex sel = boost::add_vertex(VertexProp{VertexKind::Selected, id, chain, ""}, g);
    EdgeProp acc{EdgeKind::Accept, {}};
    for (const auto& p : c.requires_)
      if (in_force(p.range, rev)) acc.preds.push_back(&p);
    boost::add_edge(v, sel, acc, g);
    vs.push_back(v);
  }
  for (std::size_t i = 0; i < vs.size(); ++i)
    boost::add_edge(vs[i], i + 1 < vs.size() ? vs[i + 1] : terminal, EdgeProp{EdgeKind::Fallback, {}}, g);
  return vs.empty() ? terminal : vs.front();
}

void apply_list_op(std::vector<std::string>& list, const models::ListOp& op) {
  auto listed = [&](const std::string& c) {
    return std::find(op.candidates.begin(), op.candidates.end(), c) != op.candidates.end();
  };
  if (op.op == "remove") {
    list.erase(std::remove_if(list.begin(), list.end(), listed), list.end());
  } else if (op.op == "keep_only") {
    list.erase(std::remove_if(list.begin(), list.end(), [&](const std::string& c) { return !listed(c); }), list.end());
  } else if (op.op == "move_to_back") {
    // like vLLM's _move_to_back: each listed candidate in turn is popped and appended
    for (const auto& c : op.candidates) {
      auto it = std::find(list.begin(), list.end(), c);
      if (it == list.end()) continue;
      list.erase(it);
      list.push_back(c);
    }
  } else if (op.op == "move_to_front") {
    for (auto c = op.candidates.rbegin(); c != op.candidates.rend(); ++c) {
      auto it = std::find(list.begin(), list.end(), *c);
      if (it == list.end()) continue;
      list.erase(it);
      list.insert(list.begin(), *c);
    }
  }
}

std::string override_chain_name(const models::Override& o) { return "override:" + o.when.id; }

}  // namespace

BuiltGraph build_graph(const models::Selector& s, int rev, const Context& ctx, std::vector<TrailStep>& trail) {
  BuiltGraph bg;
  auto& g = bg.g;
  bg.start = boost::add_vertex(VertexProp{VertexKind::Start, "", "main", ""}, g);

  // Overrides, in file order.
  for (const auto& o : s.overrides) {
    if (!in_force(o.when.range, rev)) continue;
    std::string chain = override_chain_name(o);
    Vertex first;
    if (o.action == "error") {
      first = boost::add_vertex(VertexProp{VertexKind::Raise, "", chain, o.message}, g);
    } else if (o.action == "walk") {
      Vertex raise = boost::add_vertex(VertexProp{VertexKind::Raise, "", chain, o.message.empty() ? s.exhausted_message : o.message}, g);
      first = add_chain(g, s, rev, o.candidates, chain, raise);
    } else {  // walk_trait: the trait's value names the one candidate to try
      const std::string& val = ctx.traits.at(o.trait);
      auto it = o.map.find(val);
      std::string msg = o.message.empty() ? s.exhausted_message : o.message;
      if (it == o.map.end()) {
        std::string known;
        for (const auto& [k, v] : o.map) known += (known.empty() ? "" : ", ") + k;
        first = boost::add_vertex(
            VertexProp{VertexKind::Raise, "", chain, o.trait + "='" + val + "' is not supported by this selector (expected one of " + known + ")"}, g);
      } else {
        Vertex raise = boost::add_vertex(VertexProp{VertexKind::Raise, "", chain, msg + " (explicit " + o.trait + "=" + val + ", no fallback)"}, g);
        first = add_chain(g, s, rev, {it->second}, chain, raise);
      }
    }
    EdgeProp e{EdgeKind::Override, {&o.when}};
    boost::add_edge(bg.start, first, e, g);
  }

  // Main chain: priority list in force, shaped by list operations.
  std::vector<std::string> list;
  for (const auto& oe : s.order)
    if (in_force(oe.range, rev) && in_force(s.candidates.at(oe.candidate).range, rev)) list.push_back(oe.candidate);
  for (const auto& op : s.list_ops) {
    if (!in_force(op.when.range, rev)) continue;
    Verdict v = evaluate(op.when.expr, ctx);
    if (v.unknown) throw InputError(s.id + "/" + op.when.id, "needs an input the query does not give: " + v.observed);
    TrailStep t = step(s, "", "list_op", op.when, v);
    std::string names;
    for (const auto& c : op.candidates) names += (names.empty() ? "" : ",") + c;
    t.observed += v.pass ? "  => " + op.op + " " + names : "  => list unchanged";
    trail.push_back(t);
    if (v.pass) apply_list_op(list, op);
  }
  bg.main_order = list;
  Vertex end = s.exhausted_action == "error"
                   ? boost::add_vertex(VertexProp{VertexKind::Raise, "", "main", s.exhausted_message}, g)
                   : boost::add_vertex(VertexProp{VertexKind::Exhausted, "", "main", s.exhausted_value}, g);
  Vertex first = add_chain(g, s, rev, list, "main", end);
  boost::add_edge(bg.start, first, EdgeProp{EdgeKind::Try, {}}, g);
  return bg;
}

SelectorResult walk_graph(const BuiltGraph& bg, const models::Selector& s, int rev, const Context& ctx,
                          std::vector<TrailStep>& trail) {
  const auto& g = bg.g;
  SelectorResult r;
  r.selector = s.id;
  r.title = s.title;
  Vertex v = bg.start;
  // START: the first override whose predicate holds, else the main chain.
  {
    Vertex next = v;
    bool chosen = false;
    for (auto [ei, ee] = boost::out_edges(v, g); ei != ee && !chosen; ++ei) {
      const EdgeProp& e = g[*ei];
      if (e.kind == EdgeKind::Override) {
        const auto& p = *e.preds.front();
        Verdict vd = evaluate(p.expr, ctx);
        if (vd.unknown) throw InputError(s.id + "/" + p.id, "needs an input the query does not give: " + vd.observed);
        trail.push_back(step(s, "", "override", p, vd));
        if (vd.pass) {
          next = boost::target(*ei, g);
          chosen = true;
        }
      } else if (e.kind == EdgeKind::Try) {
        next = boost::target(*ei, g);
        chosen = true;
        r.walk_order = bg.main_order;
      }
    }
    v = next;
  }
  if (r.walk_order.empty() && g[v].chain != "main") {
    // walking an override chain: record its list
    for (Vertex u = v; g[u].kind == VertexKind::Candidate;) {
      r.walk_order.push_back(g[u].candidate);
      Vertex nxt = u;
      for (auto [ei, ee] = boost::out_edges(u, g); ei != ee; ++ei)
        if (g[*ei].kind == EdgeKind::Fallback) nxt = boost::target(*ei, g);
      if (nxt == u) break;
      u = nxt;
    }
  }
  // Candidate chain.
  while (g[v].kind == VertexKind::Candidate) {
    Vertex accept_to = v, fallback_to = v;
    bool ok = true;
    for (auto [ei, ee] = boost::out_edges(v, g); ei != ee; ++ei) {
      const EdgeProp& e = g[*ei];
      if (e.kind == EdgeKind::Accept) {
        accept_to = boost::target(*ei, g);
        // Evaluate every requirement (not just up to the first failure) so the trail shows
        // all the reasons a candidate is rejected.
        const models::PredRule* undecided = nullptr;
        for (const auto* p : e.preds) {
          Verdict vd = evaluate(p->expr, ctx);
          trail.push_back(step(s, g[v].candidate, "accept", *p, vd));
          if (vd.unknown) {
            if (!undecided) undecided = p;
            continue;
          }
          ok = ok && vd.pass;
        }
        // Every known requirement holds, so the candidate stands or falls with an input the
        // query did not give: refuse rather than guess.
        if (ok && undecided)
          throw InputError(s.id + "/" + g[v].candidate,
                           "the answer depends on '" + undecided->text + "' (" + undecided->source +
                               "), and the query does not give it: pass --trait " + undecided->expr.name + "=N");
      } else if (e.kind == EdgeKind::Fallback) {
        fallback_to = boost::target(*ei, g);
      }
    }
    v = ok ? accept_to : fallback_to;
  }
  switch (g[v].kind) {
    case VertexKind::Selected: {
      const auto& c = s.candidates.at(g[v].candidate);
      r.candidate = c.id;
      r.value = c.backend;
      std::vector<std::string> seen;
      for (const auto& p : c.properties) {
        if (!in_force(p.range, rev)) continue;
        if (std::find(seen.begin(), seen.end(), p.name) != seen.end()) continue;
        if (p.when && !evaluate(*p.when, ctx).pass) continue;
        seen.push_back(p.name);
        r.properties.emplace_back(p.name, p.compute.empty() ? p.value : compute_formula(p.compute, ctx, p.source));
      }
      break;
    }
    case VertexKind::Exhausted:
      r.value = g[v].message;
      break;
    case VertexKind::Raise:
      r.error = true;
      r.error_message = g[v].message;
      break;
    default:
      r.error = true;
      r.error_message = "internal: walk stopped at a non-terminal vertex";
  }
  return r;
}

std::string to_dot(const BuiltGraph& bg, const models::Selector& s) {
  const auto& g = bg.g;
  std::ostringstream os;
  auto esc = [](std::string x) {
    std::string o;
    for (char c : x) {
      if (c == '"' || c == '\\') o += '\\';
      o += c;
    }
    return o;
  };
  os << "digraph \"" << esc(s.id) << "\" {\n  rankdir=LR;\n";
  for (auto [vi, ve] = boost::vertices(g); vi != ve; ++vi) {
    const auto& p = g[*vi];
    std::string label, shape = "box";
    switch (p.kind) {
      case VertexKind::Start: label = "START " + s.id; shape = "circle"; break;
      case VertexKind::Candidate: label = p.candidate + "\\n(" + p.chain + ")"; break;
      case VertexKind::Selected: label = "SELECT " + s.candidates.at(p.candidate).backend; shape = "doublecircle"; break;
      case VertexKind::Exhausted: label = "VALUE " + p.message; shape = "doublecircle"; break;
      case VertexKind::Raise: label = "RAISE " + p.message; shape = "octagon"; break;
    }
    os << "  v" << *vi << " [shape=" << shape << ", label=\"" << esc(label) << "\"];\n";
  }
  for (auto [ei, ee] = boost::edges(g); ei != ee; ++ei) {
    const auto& e = g[*ei];
    std::string label;
    switch (e.kind) {
      case EdgeKind::Override: label = "override: " + e.preds.front()->id; break;
      case EdgeKind::Try: label = "try"; break;
      case EdgeKind::Accept:
        label = "accept";
        for (const auto* p : e.preds) label += "\\n" + p->id;
        break;
      case EdgeKind::Fallback: label = "fallback"; break;
    }
    os << "  v" << boost::source(*ei, g) << " -> v" << boost::target(*ei, g) << " [label=\"" << esc(label) << "\"];\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace moesim::oracle
