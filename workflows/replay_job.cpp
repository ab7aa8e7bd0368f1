#include "workflows/replay_job.hpp"

#include "replay/inputs.hpp"
#include "replay/stage_graph.hpp"
#include "sim/core/error.hpp"
#include "traces/trace_io.hpp"

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

ReplayReport run_replay(const ReplayRequest& r) {
  if (r.trace.empty()) throw InputError("replay", "give a TRACE file (see --help)");
  const std::string& trace = r.trace;
  const traces::Trace t = traces::read_trace(trace);
  if (!t.weights.present) throw InputError(trace + ":/weights", "replay needs weights (w13, w2) in the trace");
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
  for (const auto& c : t.calls) any_golden |= c.golden_output.has_value();
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

  std::vector<std::size_t> calls;
  if (r.call == "all") {
    for (std::size_t i = 0; i < t.calls.size(); ++i) calls.push_back(i);
  } else {
    try {
      calls.push_back(static_cast<std::size_t>(std::stoul(r.call)));
    } catch (const std::exception&) {
      throw InputError("--call", "expected a call index or 'all', got '" + r.call + "'");
    }
    if (calls[0] >= t.calls.size())
      throw InputError("--call", "call " + r.call + " out of range (trace has " + std::to_string(t.calls.size()) + ")");
  }

  const auto weights = replay::open_trace_weights(trace);
  ReplayReport rep;
  rep.trace = trace;
  rep.variant = label(spec);
  rep.fidelity = spec.fidelity;
  rep.assumptions = spec.assumptions;
  rep.against = other ? label(*other) : (against == "none" ? "" : against);
  rep.threads = replay::resolve_threads(r.threads);  // --threads bound (1..cap) checked before any work
  for (std::size_t ci : calls) {
    const replay::CallInputs in = replay::call_inputs_from_trace(t, ci);
    replay::ReplayOptions ro;
    ro.threads = r.threads;
    if (r.on_stage)
      ro.on_stage = [&](std::size_t d, std::size_t n, const std::string& s) { r.on_stage(spec.id, ci, d, n, s); };
    CallReport cr;
    cr.call = ci;
    cr.num_tokens = in.problem.num_tokens;
    cr.result = replay::run_replay(spec, in, *weights, ro);
    cr.result.variant = label(spec);
    if (against == "golden") {
      const auto golden = replay::golden_from_trace(t, ci);
      if (golden.empty()) throw InputError(trace + ":/calls/" + std::to_string(ci) + "/golden", "no golden outputs to diff against");
      cr.diff = replay::diff_against_golden(cr.result, golden, in, "golden (" + t.context.device + ")");
    } else if (other) {
      replay::ReplayResult b = replay::run_replay(*other, in, *weights, ro);
      b.variant = label(*other);
      cr.diff = replay::diff_replays(cr.result, b, in);
      // A version bump can add or remove findings: the other side's are reported too.
      for (auto& f : b.findings) {
        f.kernel = b.variant;
        cr.result.findings.push_back(std::move(f));
      }
    }
    if (!r.keep_buffers) cr.result.buffers.clear();
    rep.calls.push_back(std::move(cr));
  }
  return rep;
}

}  // namespace moesim::workflows
