#include "reports/inspect_report.hpp"

#include <cstdarg>
#include <cstdio>

namespace moesim::reports {

namespace json = boost::json;

namespace {
void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    const std::size_t old = out.size();
    out.resize(old + static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data() + old, static_cast<std::size_t>(n) + 1, fmt, ap2);
    out.resize(old + static_cast<std::size_t>(n));
  }
  va_end(ap2);
}
}  // namespace

json::object to_json(const traces::Trace& t, const traces::TraceSummary& s, bool per_expert) {
  json::object o;
  o["path"] = t.path;
  o["format_version"] = traces::kFormatVersion;
  const auto& m = t.model;
  o["model"] = {{"name", m.name}, {"num_experts", m.num_experts}, {"top_k", m.top_k}, {"hidden", m.hidden},
                {"intermediate", m.intermediate}, {"activation", m.activation}, {"gated", m.gated},
                {"num_shared_experts", m.num_shared_experts}, {"quant", m.quant},
                {"weight_layout", m.weight_layout}, {"scale_layout", m.scale_layout}};
  const auto& c = t.context;
  o["context"] = {{"device", c.device}, {"flashinfer_version", c.flashinfer_version}, {"framework", c.framework},
                  {"backend", c.backend}, {"tactic", c.tactic}, {"tp", c.tp}, {"ep", c.ep}, {"dp", c.dp},
                  {"max_num_batched_tokens", c.max_num_batched_tokens}};
  json::object w{{"present", t.weights.present}};
  if (t.weights.present) {
    w["dtype"] = t.weights.dtype;
    w["w13_shape"] = json::value_from(t.weights.w13_shape);
    w["w2_shape"] = json::value_from(t.weights.w2_shape);
    w["has_scales"] = t.weights.has_scales;
    w["has_biases"] = t.weights.has_biases;
    if (t.weights.has_scales) {
      w["scale_dtype"] = t.weights.scale_dtype;
      w["scale_layout"] = t.weights.scale_layout;
    }
  }
  o["weights"] = w;
  if (t.multi_layer()) {
    json::array ls;
    for (const auto& l : s.layers)
      ls.push_back({{"layer", l.index}, {"calls", l.calls}, {"tokens", l.tokens}, {"weights", l.weights},
                    {"imbalance_max_over_mean", l.load.imbalance}, {"max", l.load.max_load}, {"hottest_expert", l.load.hottest_expert},
                    {"empty_experts", l.load.empty_experts}});
    o["layers"] = ls;
  }
  json::array calls;
  for (const auto& cs : s.calls) {
    json::object co{{"num_tokens", cs.num_tokens}, {"routing", cs.routing}, {"expert_counts", cs.counts},
                    {"activations", cs.activations}, {"golden_output", cs.golden}};
    if (t.multi_layer()) co["layer"] = cs.layer;
    if (cs.activations) co["activation_dtype"] = cs.activation_dtype;
    co["intermediates"] = json::value_from(cs.intermediates);
    const auto& l = cs.load;
    json::object lo{{"assignments", l.assignments}, {"max", l.max_load}, {"min", l.min_load}, {"mean", l.mean_load},
                    {"imbalance_max_over_mean", l.imbalance}, {"cv", l.cv}, {"empty_experts", l.empty_experts},
                    {"hottest_expert", l.hottest_expert}, {"histogram", json::value_from(l.histogram)},
                    {"histogram_edges", json::value_from(l.histogram_edges)}};
    if (per_expert) lo["per_expert"] = json::value_from(l.per_expert);
    co["load"] = lo;
    calls.push_back(co);
  }
  o["calls"] = calls;
  json::array caps;
  for (const auto& cap : s.capabilities)
    caps.push_back({{"analysis", cap.analysis}, {"available", cap.available}, {"missing", cap.missing}});
  o["capabilities"] = caps;
  return o;
}

std::string to_text(const traces::Trace& t, const traces::TraceSummary& s, bool per_expert) {
  std::string out;
  const auto& m = t.model;
  appendf(out, "trace %s (format v%d)\n", t.path.c_str(), traces::kFormatVersion);
  appendf(out, "  model    %s  E=%lld K=%lld H=%lld I=%lld  %s%s  quant=%s  shared=%lld\n", m.name.empty() ? "(unnamed)" : m.name.c_str(),
              (long long)m.num_experts, (long long)m.top_k, (long long)m.hidden, (long long)m.intermediate, m.activation.c_str(),
              m.gated ? " (gated)" : " (non-gated)", m.quant.c_str(), (long long)m.num_shared_experts);
  const auto& c = t.context;
  appendf(out, "  context  device=%s flashinfer=%s framework=%s backend=%s tp=%lld ep=%lld dp=%lld max_num_batched_tokens=%lld\n",
              c.device.empty() ? "-" : c.device.c_str(), c.flashinfer_version.empty() ? "-" : c.flashinfer_version.c_str(),
              c.framework.empty() ? "-" : c.framework.c_str(), c.backend.empty() ? "-" : c.backend.c_str(), (long long)c.tp,
              (long long)c.ep, (long long)c.dp, (long long)c.max_num_batched_tokens);
  if (t.weights.present)
    appendf(out, "  weights  %s w13[%lld,%lld,%lld] w2[%lld,%lld,%lld]%s\n", t.weights.dtype.c_str(), (long long)t.weights.w13_shape[0],
                (long long)t.weights.w13_shape[1], (long long)t.weights.w13_shape[2], (long long)t.weights.w2_shape[0],
                (long long)t.weights.w2_shape[1], (long long)t.weights.w2_shape[2],
                (std::string(t.weights.has_scales ? " scales " + t.weights.scale_dtype + "/" + t.weights.scale_layout : "") +
                 (t.weights.has_biases ? " biases f32 w13_bias[" + std::to_string(t.weights.w13_shape[0]) + "," +
                                             std::to_string(t.weights.w13_shape[1]) + "] w2_bias[" + std::to_string(t.weights.w2_shape[0]) +
                                             "," + std::to_string(t.weights.w2_shape[1]) + "]"
                                       : ""))
                    .c_str());
  else
    appendf(out, "  weights  none\n");
  if (t.multi_layer()) {
    appendf(out, "  layers   %zu (%lld..%lld), weights %s\n", s.layers.size(), (long long)s.layers.front().index,
            (long long)s.layers.back().index, t.weights.present ? "per layer (/layers/LLLL/weights)" : "none");
    for (const auto& l : s.layers)
      appendf(out, "  layer %lld  %lld calls, T=%lld, load max %lld (expert %lld) imbalance %.3f, %lld empty\n", (long long)l.index,
              (long long)l.calls, (long long)l.tokens, (long long)l.load.max_load, (long long)l.load.hottest_expert, l.load.imbalance,
              (long long)l.load.empty_experts);
  }
  for (std::size_t i = 0; i < s.calls.size(); ++i) {
    const auto& cs = s.calls[i];
    const auto& l = cs.load;
    appendf(out, "  call %zu%s  T=%lld  %s%s%s%s\n", i, t.multi_layer() ? (" (layer " + std::to_string(cs.layer) + ")").c_str() : "",
            (long long)cs.num_tokens, cs.routing ? "routing" : "counts-only",
                cs.activations ? (", activations " + cs.activation_dtype).c_str() : "", cs.golden ? ", golden output" : "",
                cs.intermediates.empty() ? "" : (", " + std::to_string(cs.intermediates.size()) + " intermediates").c_str());
    appendf(out, "    load: %lld assignments, per expert max %lld (expert %lld) min %lld mean %.2f, imbalance %.3f, cv %.3f, %lld empty\n",
                (long long)l.assignments, (long long)l.max_load, (long long)l.hottest_expert, (long long)l.min_load, l.mean_load,
                l.imbalance, l.cv, (long long)l.empty_experts);
    std::int64_t peak = 1;
    for (auto h : l.histogram) peak = std::max(peak, h);
    for (std::size_t b = 0; b < l.histogram.size(); ++b) {
      const int bar = static_cast<int>(40 * l.histogram[b] / peak);
      appendf(out, "    [%7lld, %7lld) %6lld %s\n", (long long)l.histogram_edges[b], (long long)l.histogram_edges[b + 1],
                  (long long)l.histogram[b], std::string(static_cast<std::size_t>(bar), '#').c_str());
    }
    if (per_expert)
      for (std::size_t e = 0; e < l.per_expert.size(); ++e) appendf(out, "    expert %zu: %lld\n", e, (long long)l.per_expert[e]);
  }
  appendf(out, "  analyses:\n");
  for (const auto& cap : s.capabilities)
    appendf(out, "    [%s] %s%s\n", cap.available ? "yes" : " no", cap.analysis.c_str(), cap.available ? "" : ("  (needs " + cap.missing + ")").c_str());
  return out;
}

}  // namespace moesim::reports
