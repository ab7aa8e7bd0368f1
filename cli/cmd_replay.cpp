// moesim replay: replay a trace's recorded routing and weights through a kernel variant on
// emulated memory and diff the numerics against the fp64 reference, the trace's golden GPU
// outputs, or another variant, stage by stage, with the first divergence.
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "replay/progress.hpp"
#include "replay/stage_graph.hpp"
#include "reports/replay_report.hpp"
#include "sim/core/error.hpp"
#include "traces/trace_io.hpp"

namespace moesim::cli {
namespace {

void apply_config(kernels::VariantSpec& spec, const std::string& cfg) {
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

int run_replay_cmd(const std::vector<std::string>& args) {
  po::options_description o("replay options");
  std::string trace, variant, against, call_sel = "all", tcfg, fi_version, against_fi;
  int threads = 0;
  o.add_options()
      ("trace", po::value(&trace), "trace file (HDF5 trace format v1) with routing, hidden_states and weights")
      ("variant", po::value(&variant), "kernel variant (models/kernels/<id>.json); default: the trace's context backend, else triton_bf16")
      ("against", po::value(&against), "reference | golden | none | VARIANT; default: golden when the trace has golden outputs, else reference")
      ("call", po::value(&call_sel), "call index to replay, or 'all' (default)")
      ("threads", po::value(&threads), "OpenMP threads (default: all); results are bit-identical for any count")
      ("flashinfer", po::value(&fi_version), "FlashInfer version whose behaviour to replay for variants with a version table (default: the trace's context flashinfer_version, else the version the variant describes)")
      ("against-flashinfer", po::value(&against_fi), "version-bump report: diff against the same variant (or --against VARIANT) replayed as FlashInfer version V2")
      ("triton-config", po::value(&tcfg), "BLOCK_SIZE_M,BLOCK_SIZE_N,BLOCK_SIZE_K[,GROUP_SIZE_M] (default: the trace's tactic, else the variant's)")
      ("json", po::bool_switch(), "print a JSON report")
      ("markdown", po::bool_switch(), "print a Markdown report")
      ("plan", po::bool_switch(), "print the variant's stage graph (Graphviz) and exit")
      ("list-variants", po::bool_switch(), "list the variant descriptions and exit")
      ("require-bit-identical", po::bool_switch(), "exit 1 unless every compared stage and output is bit-identical");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "replay TRACE [--variant ID] [--against reference|golden|none|ID] [--call N|all] [--threads N]\n"
                     "              [--triton-config BM,BN,BK[,GM]] [--flashinfer V [--against-flashinfer V2]] [--json|--markdown] [--require-bit-identical]\n"
                     "       replay --list-variants | replay --variant ID --plan"))
    return kExitOk;
  if (vm["list-variants"].as<bool>()) {
    for (const auto& id : kernels::list_variants()) {
      const auto v = kernels::find_variant(id);
      std::cout << id << "  (" << v.fidelity << ", " << v.quant << ")  " << v.description << "\n";
    }
    return kExitOk;
  }
  if (vm["json"].as<bool>() && vm["markdown"].as<bool>()) throw InputError("--json/--markdown", "choose one output format");
  if (vm["plan"].as<bool>()) {
    const auto spec = kernels::find_variant(variant.empty() ? "triton_bf16" : variant);
    std::cout << replay::plan_to_dot(spec, replay::build_plan(spec));
    return kExitOk;
  }
  if (trace.empty()) throw InputError("replay", "give a TRACE file (see --help)");

  const traces::Trace t = traces::read_trace(trace);
  if (!t.weights.present) throw InputError(trace + ":/weights", "replay needs weights (w13, w2) in the trace");
  if (variant.empty()) variant = t.context.backend.empty() ? "triton_bf16" : t.context.backend;
  kernels::VariantSpec spec = kernels::find_variant(variant);
  replay::apply_triton_tactic(spec, t.context.tactic, trace + ":/context/tactic");
  apply_config(spec, tcfg);
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
  if (call_sel == "all") {
    for (std::size_t i = 0; i < t.calls.size(); ++i) calls.push_back(i);
  } else {
    try {
      calls.push_back(static_cast<std::size_t>(std::stoul(call_sel)));
    } catch (const std::exception&) {
      throw InputError("--call", "expected a call index or 'all', got '" + call_sel + "'");
    }
    if (calls[0] >= t.calls.size())
      throw InputError("--call", "call " + call_sel + " out of range (trace has " + std::to_string(t.calls.size()) + ")");
  }

  const auto weights = replay::open_trace_weights(trace);
  reports::ReplayReport rep;
  rep.trace = trace;
  rep.variant = label(spec);
  rep.fidelity = spec.fidelity;
  rep.assumptions = spec.assumptions;
  rep.against = other ? label(*other) : (against == "none" ? "" : against);
  rep.threads = threads > 0 ? threads : replay::resolve_threads(0);
  replay::Progress progress("replay " + spec.id);
  for (std::size_t ci : calls) {
    const replay::CallInputs in = replay::call_inputs_from_trace(t, ci);
    replay::ReplayOptions ro;
    ro.threads = threads;
    ro.on_stage = [&](std::size_t d, std::size_t n, const std::string& s) {
      progress.update(d, n, "call " + std::to_string(ci) + " " + s);
    };
    reports::CallReport cr;
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
    cr.result.buffers.clear();
    rep.calls.push_back(std::move(cr));
  }
  progress.finish();

  if (vm["json"].as<bool>()) std::cout << boost::json::serialize(reports::to_json(rep)) << "\n";
  else if (vm["markdown"].as<bool>()) std::cout << reports::to_markdown(rep);
  else std::cout << reports::to_text(rep);
  if (rep.error_findings() > 0) return kExitFindings;
  if (vm["require-bit-identical"].as<bool>() && !rep.all_bit_identical()) return kExitFindings;
  return kExitOk;
}

const Registrar reg("replay", "replay a trace through a kernel variant and diff numerics (reference, golden, variant)",
                    run_replay_cmd);

}  // namespace
}  // namespace moesim::cli
