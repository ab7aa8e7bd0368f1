#include "workflows/replay_job.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "replay/inputs.hpp"
#include "replay/ranks/ranks.hpp"
#include "replay/stage_graph.hpp"
#include "sim/core/error.hpp"
#include "traces/trace_io.hpp"
#include "workflows/result_codec.hpp"

namespace moesim::workflows {

bool ReplayReport::all_bit_identical() const {
  for (const auto& c : calls)
    if (!c.diff || !c.diff->output_compared || !c.diff->output.bit_identical() || c.diff->first_divergence) return false;
  return true;
}

std::size_t ReplayReport::error_findings() const {
  std::size_t n = 0;
  for (const auto& c : calls)
    for (const auto& f : c.result.findings) n += f.severity == kernels::Severity::error;
  return n;
}

void apply_triton_config(kernels::VariantSpec& spec, const std::string& cfg) {
  if (cfg.empty()) return;
  if (spec.family != "triton_fused_moe") throw InputError("--triton-config", "variant '" + spec.id + "' is not a Triton variant");
  const char* keys[] = {"block_m", "block_n", "block_k", "group_m"};
  std::size_t pos = 0;
  for (int i = 0; i < 4 && pos <= cfg.size(); ++i) {
    const std::size_t end = std::min(cfg.find(',', pos), cfg.size());
    try {
      spec.params[keys[i]] = std::stoll(cfg.substr(pos, end - pos));
    } catch (const std::exception&) {
      throw InputError("--triton-config", "expected BM,BN,BK[,GROUP_M] integers, got '" + cfg + "'");
    }
    pos = end + 1;
  }
}

std::vector<std::pair<std::size_t, std::int64_t>> selected_calls(const traces::Trace& t, const ReplayRequest& r) {
  std::optional<std::int64_t> layer;
  if (r.layer != "all") {
    if (!t.multi_layer())
      throw InputError("--layer", "'" + r.layer + "' given, but " + t.path + " is a single-layer trace (no /layers)");
    try {
      std::size_t used = 0;
      layer = std::stoll(r.layer, &used);
      if (used != r.layer.size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw InputError("--layer", "expected a layer index or 'all', got '" + r.layer + "'");
    }
    if (std::none_of(t.layers.begin(), t.layers.end(), [&](const traces::LayerInfo& l) { return l.index == *layer; }))
      throw InputError("--layer", "layer " + r.layer + " is not in " + t.path + " (" + std::to_string(t.layers.size()) + " layers, " +
                                      std::to_string(t.layers.front().index) + ".." + std::to_string(t.layers.back().index) + ")");
  }
  auto layer_of = [&](std::size_t ci) { return t.multi_layer() ? t.calls[ci].layer : std::int64_t{-1}; };
  std::vector<std::pair<std::size_t, std::int64_t>> calls;
  if (r.call == "all") {
    for (std::size_t i = 0; i < t.calls.size(); ++i)
      if (!layer || layer_of(i) == *layer) calls.emplace_back(i, layer_of(i));
    return calls;
  }
  std::size_t ci = 0;
  try {
    std::size_t used = 0;
    ci = static_cast<std::size_t>(std::stoul(r.call, &used));
    if (used != r.call.size()) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw InputError("--call", "expected a call index or 'all', got '" + r.call + "'");
  }
  if (ci >= t.calls.size())
    throw InputError("--call", "call " + r.call + " out of range (trace has " + std::to_string(t.calls.size()) + ")");
  if (layer && layer_of(ci) != *layer)
    throw InputError("--call", "call " + r.call + " is in layer " + std::to_string(layer_of(ci)) + ", not --layer " + r.layer);
  calls.emplace_back(ci, layer_of(ci));
  return calls;
}

std::vector<std::size_t> replay_partition(std::size_t n, int ranks, int rank) {
  std::vector<std::size_t> mine;
  const std::size_t R = static_cast<std::size_t>(std::max(ranks, 1)), me = static_cast<std::size_t>(rank);
  for (std::size_t i = me * n / R; i < (me + 1) * n / R; ++i) mine.push_back(i);
  return mine;
}

namespace {
std::string item_label(std::size_t ci, std::int64_t layer) {
  return "call " + std::to_string(ci) + (layer >= 0 ? " (layer " + std::to_string(layer) + ")" : "");
}
}  // namespace

ReplayReport run_replay(const ReplayRequest& r) {
  if (r.trace.empty()) throw InputError("replay", "give a TRACE file (see --help)");
  const std::string& trace = r.trace;
  const int nranks = r.local ? 1 : ranks::size(), me = r.local ? 0 : ranks::rank();
  // One process reads the whole trace once. Several ranks: routing and shapes first, then each
  // rank re-reads the activations of its own calls only (docs/scale-out.md).
  traces::Trace t;
  if (nranks == 1) {
    t = traces::read_trace(trace);
  } else {
    traces::ReadOptions meta;
    meta.activations_for_calls = std::set<std::size_t>{};
    t = traces::read_trace(trace, meta);
  }
  if (!t.weights.present)
    throw InputError(trace + ":" + (t.multi_layer() ? traces::weights_group(t.layers.front().index) : std::string("/weights")),
                     "replay needs weights (w13, w2) in the trace");
  std::string variant = r.variant, against = r.against, fi_version = r.flashinfer;
  const std::string& against_fi = r.against_flashinfer;
  if (variant.empty()) variant = t.context.backend.empty() ? "triton_bf16" : t.context.backend;
  kernels::VariantSpec spec = kernels::find_variant(variant);
  replay::apply_triton_tactic(spec, t.context.tactic, trace + ":/context/tactic");
  apply_triton_config(spec, r.triton_config);
  // Version-dependent behaviour (params.by_library_version): --flashinfer, else the trace's
  // recording context; variants without a version table ignore it.
  const std::string version_where = fi_version.empty() ? trace + ":/context/flashinfer_version" : "--flashinfer";
  if (fi_version.empty()) fi_version = t.context.flashinfer_version;
  if (!fi_version.empty()) kernels::apply_library_version(spec, fi_version, version_where);
  bool any_golden = false;
  for (const auto& c : t.calls) any_golden |= c.golden_output.has_value() || c.golden_recorded;
  if (!against_fi.empty()) {
    if (against.empty()) against = variant;
    if (against == "golden" || against == "none" || against == "reference")
      throw InputError("--against-flashinfer", "needs a variant to replay as the other version, not '" + against + "'");
  }
  if (against.empty()) against = any_golden ? "golden" : "reference";
  if (against == "reference") against = "reference_fp64";
  std::optional<kernels::VariantSpec> other;
  if (against != "golden" && against != "none") {
    other = kernels::find_variant(against);
    replay::apply_triton_tactic(*other, t.context.tactic, trace + ":/context/tactic");
    if (!against_fi.empty()) {
      if (!kernels::has_library_version_table(*other))
        throw InputError("--against-flashinfer", "variant '" + other->id +
                                                     "' has no FlashInfer version table: its model does not depend on the version");
      kernels::apply_library_version(*other, against_fi, "--against-flashinfer");
    } else if (!fi_version.empty()) {
      kernels::apply_library_version(*other, fi_version, version_where);
    }
  }
  // In a version-bump report the names say which library version each side replays.
  auto label = [&](const kernels::VariantSpec& v) {
    const std::string ver = v.param_string("library_version", "");
    return against_fi.empty() || ver.empty() ? v.id : v.id + "@flashinfer-" + ver;
  };

  // Items in trace call order; the partition assigns them by (layer, call index).
  const auto calls = selected_calls(t, r);
  std::vector<std::size_t> order(calls.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return calls[a].second < calls[b].second; });
  std::vector<std::size_t> mine;
  for (std::size_t k : replay_partition(order.size(), nranks, me)) mine.push_back(order[k]);
  std::sort(mine.begin(), mine.end());
  if (nranks > 1) {
    traces::ReadOptions share;
    share.activations_for_calls = std::set<std::size_t>{};
    for (std::size_t k : mine) share.activations_for_calls->insert(calls[k].first);
    t = traces::read_trace(trace, share);
  }

  ReplayReport rep;
  rep.trace = trace;
  rep.variant = label(spec);
  rep.fidelity = spec.fidelity;
  rep.assumptions = spec.assumptions;
  rep.against = other ? label(*other) : (against == "none" ? "" : against);
  rep.threads = replay::resolve_threads(r.threads);  // --threads bound (1..cap) checked before any work
  rep.multi_layer = t.multi_layer();
  // Weights per layer, opened when a call of the layer comes up: a rank reads only its layers.
  std::map<std::int64_t, std::unique_ptr<kernels::WeightProvider>> weights;
  auto replay_one = [&](std::size_t ci, std::int64_t layer) {
    auto& w = weights[layer];
    if (!w) w = replay::open_trace_weights(trace, layer);
    const replay::CallInputs in = replay::call_inputs_from_trace(t, ci);
    replay::ReplayOptions ro;
    ro.threads = r.threads;
    if (r.on_stage)
      ro.on_stage = [&](std::size_t d, std::size_t n, const std::string& s) { r.on_stage(spec.id, ci, d, n, s); };
    CallReport cr;
    cr.call = ci;
    cr.layer = layer;
    cr.num_tokens = in.problem.num_tokens;
    cr.result = replay::run_replay(spec, in, *w, ro);
    cr.result.variant = label(spec);
    if (against == "golden") {
      const auto golden = replay::golden_from_trace(t, ci);
      if (golden.empty()) throw InputError(trace + ":/calls/" + std::to_string(ci) + "/golden", "no golden outputs to diff against");
      cr.diff = replay::diff_against_golden(cr.result, golden, in, "golden (" + t.context.device + ")");
    } else if (other) {
      replay::ReplayResult b = replay::run_replay(*other, in, *w, ro);
      b.variant = label(*other);
      cr.diff = replay::diff_replays(cr.result, b, in);
      // A version bump can add or remove findings: the other side's are reported too.
      for (auto& f : b.findings) {
        f.kernel = b.variant;
        cr.result.findings.push_back(std::move(f));
      }
    }
    if (!r.keep_buffers) cr.result.buffers.clear();
    if (r.no_timings) {
      cr.result.seconds = 0;
      for (auto& tm : cr.result.timings) tm.seconds = 0;
    }
    return cr;
  };
  if (nranks == 1) {
    for (const auto& [ci, layer] : calls) rep.calls.push_back(replay_one(ci, layer));
    return rep;
  }
  if (r.keep_buffers) throw InputError("replay", "stage buffers are not gathered across MPI ranks (keep_buffers)");
  // Several ranks: each replays its share; rank 0 gathers the call reports and puts them in
  // call order. A rank that fails reports the call and the error instead.
  RankShare share;
  std::string at;
  try {
    for (std::size_t k : mine) {
      at = item_label(calls[k].first, calls[k].second);
      ranks::fault_hook("replay " + at);
      share.items.push_back(encode_call_report(replay_one(calls[k].first, calls[k].second)));
    }
  } catch (const InputError& e) {
    share = RankShare{true, at + ": " + e.what(), true, {}};
  } catch (const std::exception& e) {
    share = RankShare{true, at + ": internal error: " + e.what(), false, {}};
  }
  auto share_of = [&](int q) {
    std::string d;
    for (std::size_t k : replay_partition(order.size(), nranks, q))
      d += (d.empty() ? "" : ", ") + item_label(calls[order[k]].first, calls[order[k]].second);
    return d.empty() ? std::string("no calls") : d.size() > 200 ? d.substr(0, 200) + "..." : d;
  };
  const auto all = ranks::gather(encode_share(share), "replay " + trace, share_of);
  if (me != 0) return rep;
  for (std::size_t q = 0; q < all.size(); ++q) {
    const RankShare s = decode_share(all[q]);
    if (s.failed) throw InputError("rank " + std::to_string(q) + ", " + s.error.substr(0, s.error.find(": ")), s.error.substr(s.error.find(": ") + 2));
    for (const auto& item : s.items) rep.calls.push_back(decode_call_report(item));
  }
  std::sort(rep.calls.begin(), rep.calls.end(), [](const CallReport& a, const CallReport& b) { return a.call < b.call; });
  return rep;
}

}  // namespace moesim::workflows
