// moesim inspect: what a trace holds, its expert-load statistics, and what it lacks.
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "traces/inspect.hpp"
#include "traces/trace_io.hpp"

namespace moesim::cli {
namespace {

namespace json = boost::json;

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
    if (t.weights.has_scales) {
      w["scale_dtype"] = t.weights.scale_dtype;
      w["scale_layout"] = t.weights.scale_layout;
    }
  }
  o["weights"] = w;
  json::array calls;
  for (const auto& cs : s.calls) {
    json::object co{{"num_tokens", cs.num_tokens}, {"routing", cs.routing}, {"expert_counts", cs.counts},
                    {"activations", cs.activations}, {"golden_output", cs.golden}};
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

void print_text(const traces::Trace& t, const traces::TraceSummary& s, bool per_expert) {
  const auto& m = t.model;
  std::printf("trace %s (format v%d)\n", t.path.c_str(), traces::kFormatVersion);
  std::printf("  model    %s  E=%lld K=%lld H=%lld I=%lld  %s%s  quant=%s  shared=%lld\n", m.name.empty() ? "(unnamed)" : m.name.c_str(),
              (long long)m.num_experts, (long long)m.top_k, (long long)m.hidden, (long long)m.intermediate, m.activation.c_str(),
              m.gated ? " (gated)" : " (non-gated)", m.quant.c_str(), (long long)m.num_shared_experts);
  const auto& c = t.context;
  std::printf("  context  device=%s flashinfer=%s framework=%s backend=%s tp=%lld ep=%lld dp=%lld max_num_batched_tokens=%lld\n",
              c.device.empty() ? "-" : c.device.c_str(), c.flashinfer_version.empty() ? "-" : c.flashinfer_version.c_str(),
              c.framework.empty() ? "-" : c.framework.c_str(), c.backend.empty() ? "-" : c.backend.c_str(), (long long)c.tp,
              (long long)c.ep, (long long)c.dp, (long long)c.max_num_batched_tokens);
  if (t.weights.present)
    std::printf("  weights  %s w13[%lld,%lld,%lld] w2[%lld,%lld,%lld]%s\n", t.weights.dtype.c_str(), (long long)t.weights.w13_shape[0],
                (long long)t.weights.w13_shape[1], (long long)t.weights.w13_shape[2], (long long)t.weights.w2_shape[0],
                (long long)t.weights.w2_shape[1], (long long)t.weights.w2_shape[2],
                t.weights.has_scales ? (" scales " + t.weights.scale_dtype + "/" + t.weights.scale_layout).c_str() : "");
  else
    std::printf("  weights  none\n");
  for (std::size_t i = 0; i < s.calls.size(); ++i) {
    const auto& cs = s.calls[i];
    const auto& l = cs.load;
    std::printf("  call %zu  T=%lld  %s%s%s%s\n", i, (long long)cs.num_tokens, cs.routing ? "routing" : "counts-only",
                cs.activations ? (", activations " + cs.activation_dtype).c_str() : "", cs.golden ? ", golden output" : "",
                cs.intermediates.empty() ? "" : (", " + std::to_string(cs.intermediates.size()) + " intermediates").c_str());
    std::printf("    load: %lld assignments, per expert max %lld (expert %lld) min %lld mean %.2f, imbalance %.3f, cv %.3f, %lld empty\n",
                (long long)l.assignments, (long long)l.max_load, (long long)l.hottest_expert, (long long)l.min_load, l.mean_load,
                l.imbalance, l.cv, (long long)l.empty_experts);
    std::int64_t peak = 1;
    for (auto h : l.histogram) peak = std::max(peak, h);
    for (std::size_t b = 0; b < l.histogram.size(); ++b) {
      const int bar = static_cast<int>(40 * l.histogram[b] / peak);
      std::printf("    [%7lld, %7lld) %6lld %s\n", (long long)l.histogram_edges[b], (long long)l.histogram_edges[b + 1],
                  (long long)l.histogram[b], std::string(static_cast<std::size_t>(bar), '#').c_str());
    }
    if (per_expert)
      for (std::size_t e = 0; e < l.per_expert.size(); ++e) std::printf("    expert %zu: %lld\n", e, (long long)l.per_expert[e]);
  }
  std::printf("  analyses:\n");
  for (const auto& cap : s.capabilities)
    std::printf("    [%s] %s%s\n", cap.available ? "yes" : " no", cap.analysis.c_str(), cap.available ? "" : ("  (needs " + cap.missing + ")").c_str());
}

int run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string path;
  bool as_json = false, per_expert = false;
  opts.add_options()("trace", po::value<std::string>(&path)->required(), "trace file (HDF5)")
      ("json", po::bool_switch(&as_json), "machine-readable JSON on stdout")
      ("per-expert", po::bool_switch(&per_expert), "also list tokens per expert");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "inspect TRACE [--json] [--per-expert]")) return 0;
  const traces::Trace t = traces::read_trace(path);
  const traces::TraceSummary s = traces::summarize(t);
  if (as_json)
    std::cout << json::serialize(to_json(t, s, per_expert)) << "\n";
  else
    print_text(t, s, per_expert);
  return 0;
}

Registrar reg("inspect", "summarise a trace: shapes, dtypes, expert load, what it lacks", run);

}  // namespace
}  // namespace moesim::cli
