#include "replay/check/workload.hpp"

#include <algorithm>

namespace moesim::check {

std::string routing_family(const std::string& r) {
  if (r.find("grouped") != std::string::npos || r.find("deepseek") != std::string::npos) return "deepseek";
  return "renormalize";
}

Workload shape_only_workload(const traces::ModelShape& m, std::int64_t tokens) {
  Workload w;
  w.model = m;
  CallLoad c;
  c.num_tokens = tokens;
  w.calls.push_back(c);
  w.source = "shape only";
  return w;
}

Workload workload_from_trace(const traces::Trace& t) {
  Workload w;
  w.model = t.model;
  w.context = t.context;
  w.source = t.path.empty() ? "in-memory trace" : t.path;
  if (auto it = t.attrs.find("routing"); it != t.attrs.end()) w.routing = routing_family(it->second);
  for (const auto& call : t.calls) {
    CallLoad c;
    c.num_tokens = call.num_tokens;
    c.layer = call.layer;
    c.ids_masked = call.ids_masked;
    if (call.has_routing()) {
      auto [mn, mx] = std::minmax_element(call.topk_ids.begin(), call.topk_ids.end());
      c.min_expert_id = *mn;
      c.max_expert_id = *mx;
      c.expert_counts.assign(static_cast<std::size_t>(std::max<std::int64_t>(t.model.num_experts, 0)), 0);
      for (std::int32_t id : call.topk_ids)
        if (id >= 0 && id < t.model.num_experts) ++c.expert_counts[static_cast<std::size_t>(id)];
    } else if (!call.expert_counts.empty()) {
      c.expert_counts = call.expert_counts;
    }
    if (call.hidden_states) {
      if (call.hidden_states->global_scale) {
        w.act_global_scale_numel = call.hidden_states->global_scale->numel();
        w.act_global_scale_dtype = call.hidden_states->global_scale->dtype;
      }
      if (call.hidden_states->scale) w.act_scale_layout = call.hidden_states->scale->layout;
    }
    w.calls.push_back(std::move(c));
  }
  if (t.weights.present) {
    if (!t.weights.w13_shape.empty()) w.weight_rows = t.weights.w13_shape[0];
    if (t.weights.has_scales) {
      w.weight_scale_dtype = t.weights.scale_dtype;
      w.weight_scale_layout = t.weights.scale_layout.empty() ? t.model.scale_layout : t.weights.scale_layout;
    }
  }
  return w;
}

}  // namespace moesim::check
