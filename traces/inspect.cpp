#include "traces/inspect.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::traces {

LoadStats load_stats(const std::vector<std::int64_t>& per_expert, int buckets) {
  LoadStats s;
  s.per_expert = per_expert;
  if (per_expert.empty()) return s;
  const auto mx = std::max_element(per_expert.begin(), per_expert.end());
  s.max_load = *mx;
  s.hottest_expert = mx - per_expert.begin();
  s.min_load = *std::min_element(per_expert.begin(), per_expert.end());
  for (auto v : per_expert) {
    s.assignments += v;
    if (v == 0) ++s.empty_experts;
  }
  const double n = static_cast<double>(per_expert.size());
  s.mean_load = static_cast<double>(s.assignments) / n;
  double var = 0;
  for (auto v : per_expert) var += (static_cast<double>(v) - s.mean_load) * (static_cast<double>(v) - s.mean_load);
  var /= n;
  s.imbalance = s.mean_load > 0 ? static_cast<double>(s.max_load) / s.mean_load : 0;
  s.cv = s.mean_load > 0 ? std::sqrt(var) / s.mean_load : 0;
  const std::int64_t width = std::max<std::int64_t>(1, (s.max_load + buckets) / buckets);
  s.histogram.assign(static_cast<std::size_t>(buckets), 0);
  for (int b = 0; b < buckets; ++b) s.histogram_edges.push_back(b * width);
  s.histogram_edges.push_back(buckets * width);
  for (auto v : per_expert) ++s.histogram[static_cast<std::size_t>(std::min<std::int64_t>(v / width, buckets - 1))];
  return s;
}

TraceSummary summarize(const Trace& t) {
  TraceSummary s;
  bool any_routing = false, any_counts = false, all_acts = true, any_golden = false, any_inter = false;
  for (const auto& c : t.calls) {
    CallSummary cs;
    cs.num_tokens = c.num_tokens;
    cs.layer = c.layer;
    cs.routing = c.has_routing();
    cs.counts = !c.expert_counts.empty();
    cs.activations = c.hidden_states.has_value();
    if (cs.activations) cs.activation_dtype = c.hidden_states->data.dtype;
    cs.golden = c.golden_output.has_value();
    for (const auto& [name, _] : c.intermediates) cs.intermediates.push_back(name);
    cs.load = load_stats(c.tokens_per_expert(t.model.num_experts));
    any_routing |= cs.routing;
    any_counts |= cs.counts;
    all_acts &= cs.activations;
    any_golden |= cs.golden;
    any_inter |= !cs.intermediates.empty();
    s.calls.push_back(std::move(cs));
  }
  for (const auto& l : t.layers) {
    LayerSummary ls;
    ls.index = l.index;
    ls.weights = l.weights.present;
    std::vector<std::int64_t> per(static_cast<std::size_t>(t.model.num_experts), 0);
    for (std::size_t i = 0; i < t.calls.size(); ++i) {
      if (t.calls[i].layer != l.index) continue;
      ++ls.calls;
      ls.tokens += t.calls[i].num_tokens;
      const auto& pe = s.calls[i].load.per_expert;
      for (std::size_t e = 0; e < pe.size() && e < per.size(); ++e) per[e] += pe[e];
    }
    ls.load = load_stats(per);
    s.layers.push_back(std::move(ls));
  }
  auto cap = [&](std::string name, bool ok, std::string missing) {
    s.capabilities.push_back({std::move(name), ok, ok ? "" : std::move(missing)});
  };
  cap("moesim check: shape hazards (grid, offsets, smem, tiles)", any_routing || any_counts, "routing or expert_counts");
  cap("moesim check: per-rank EP/DP dispatch from real routing", any_routing, "topk_ids (counts-only traces cannot be re-dispatched per rank)");
  cap("moesim oracle: backend selection from the trace context", !t.context.device.empty() && !t.context.framework.empty(),
      "context device and framework");
  cap("moesim replay: numeric replay", t.weights.present && all_acts && any_routing,
      std::string(t.weights.present ? "" : "weights ") + (all_acts ? "" : "hidden_states ") + (any_routing ? "" : "topk_ids"));
  cap("moesim replay --against golden: diff vs recorded GPU output", any_golden && t.weights.present, "golden/output and weights");
  cap("first-divergence localisation vs hardware", any_inter, "per-stage golden intermediates");
  return s;
}

}  // namespace moesim::traces
