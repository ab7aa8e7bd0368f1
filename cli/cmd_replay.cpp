// moesim replay: replay a trace's recorded routing and weights through a kernel variant on
// emulated memory and diff the numerics against the fp64 reference, the trace's golden GPU
// outputs, or another variant, stage by stage, with the first divergence.
// Options -> workflows::ReplayRequest -> workflows::run_replay -> reports/replay_report.
#include <cmath>
#include <ctime>
#include <iostream>
#include <optional>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "replay/progress.hpp"
#include "replay/ranks/ranks.hpp"
#include "replay/stage_graph.hpp"
#include "reports/replay_report.hpp"
#include "sim/core/atomic_file.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/import/flashinfer_bench.hpp"
#include "traces/trace_io.hpp"
#include "workflows/replay_job.hpp"

namespace moesim::cli {
namespace {

std::string iso_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

// --fib-trace: one flashinfer-bench Trace line per replayed call (FIB data/trace.py Evaluation):
// error findings -> RUNTIME_ERROR (the crash moesim predicts, its messages as the log); else the
// output diff is the correctness, PASSED within max_abs <= atol + rtol * |reference at that
// element|, else INCORRECT_NUMERICAL. No latency is measured (performance written as 0).
void write_fib_trace(const workflows::ReplayReport& rep, const std::string& trace_path, const std::string& out, double atol, double rtol, bool no_timings) {
  const traces::Trace t = traces::read_trace(trace_path);
  std::string lines;
  for (const auto& c : rep.calls) {
    traces::import::FibEvaluation ev;
    ev.hardware = "moesim_emulated_" + (t.context.device.empty() ? std::string("unknown_device") : t.context.device);
    ev.libs["moesim"] = MOESIM_VERSION;
    if (!t.context.flashinfer_version.empty()) ev.libs["flashinfer"] = t.context.flashinfer_version;
    ev.timestamp = no_timings ? "1970-01-01T00:00:00Z" : iso_now();
    std::size_t errors = 0;
    for (const auto& f : c.result.findings) {
      ev.log += "[" + f.id + "] " + f.stage + ": " + f.message + (f.gpu_error.empty() ? "" : " (GPU: " + f.gpu_error + ")") + "\n";
      errors += f.severity == kernels::Severity::error;
    }
    if (errors) {
      ev.status = "RUNTIME_ERROR";
    } else {
      if (!c.diff || !c.diff->output_compared) throw InputError("--fib-trace", "call " + std::to_string(c.call) + ": no output diff (use --against reference, golden or a variant)");
      const auto& d = c.diff->output;
      ev.correctness = true;
      ev.max_absolute_error = d.max_abs;
      ev.max_relative_error = d.max_abs_b != 0.0 ? d.max_abs / std::fabs(d.max_abs_b) : (d.max_abs == 0.0 ? 0.0 : INFINITY);
      ev.extra_numbers = {{"rel_l2", d.rel_l2}, {"identical_pct", d.identical_pct()}, {"nan_count", static_cast<double>(d.nan_a)}, {"atol", atol}, {"rtol", rtol}};
      ev.extra_strings = {{"against", c.diff->b_name}, {"variant", rep.variant}, {"fidelity", rep.fidelity},
                          {"bit_identical", d.bit_identical() ? "true" : "false"},
                          {"first_divergence", c.diff->first_divergence.value_or("")},
                          {"max_relative_error_is", "at the max-absolute-error element (moesim's diff tracks no element-wise max relative error)"},
                          {"performance", "not measured (CPU emulation); latency fields are 0"}};
      const bool pass = d.nan_a == d.nan_b && d.inf_a == d.inf_b && d.max_abs <= atol + rtol * std::fabs(d.max_abs_b);
      ev.status = pass ? "PASSED" : "INCORRECT_NUMERICAL";
      ev.performance = pass;
    }
    lines += traces::import::fib_trace_line(t, c.call, "moesim_" + rep.variant, ev, models_dir()) + "\n";
  }
  write_file_atomic(out, lines);
}

int run_replay_cmd(const std::vector<std::string>& args) {
  po::options_description o("replay options");
  workflows::ReplayRequest req;
  bool as_json = false, as_md = false, plan = false, list = false, require_identical = false;
  std::string fib_trace;
  double fib_atol = 1e-2, fib_rtol = 1e-2;
  o.add_options()
      ("trace", po::value(&req.trace), "trace file (HDF5 trace format v1) with routing, hidden_states and weights")
      ("variant", po::value(&req.variant), "kernel variant (models/kernels/<id>.json); default: the trace's context backend, else triton_bf16")
      ("against", po::value(&req.against), "reference | golden | none | VARIANT; default: golden when the trace has golden outputs, else reference")
      ("call", po::value(&req.call), "call index to replay, or 'all' (default)")
      ("layer", po::value(&req.layer), "multi-layer traces: the layer to replay, or 'all' (default); reports are per layer")
      ("no-timings", po::bool_switch(&req.no_timings), "report 0 s for wall-clock times, so reports of any two runs (any thread or rank count) compare byte for byte")
      ("threads", po::value(&req.threads), "OpenMP threads (default: all); results are bit-identical for any count")
      ("flashinfer", po::value(&req.flashinfer), "FlashInfer version whose behaviour to replay for variants with a version table (default: the trace's context flashinfer_version, else the version the variant describes)")
      ("against-flashinfer", po::value(&req.against_flashinfer), "version-bump report: diff against the same variant (or --against VARIANT) replayed as FlashInfer version V2")
      ("triton-config", po::value(&req.triton_config), "BLOCK_SIZE_M,BLOCK_SIZE_N,BLOCK_SIZE_K[,GROUP_SIZE_M] (default: the trace's tactic, else the variant's)")
      ("json", po::bool_switch(&as_json), "print a JSON report")
      ("markdown", po::bool_switch(&as_md), "print a Markdown report")
      ("plan", po::bool_switch(&plan), "print the variant's stage graph (Graphviz) and exit")
      ("list-variants", po::bool_switch(&list), "list the variant descriptions and exit")
      ("fib-trace", po::value(&fib_trace), "also write a flashinfer-bench Trace JSONL: one line per call, the replay's diff as the evaluation (docs/import.md)")
      ("fib-atol", po::value(&fib_atol), "--fib-trace: PASSED when max_abs <= atol + rtol*|ref| (default 1e-2)")
      ("fib-rtol", po::value(&fib_rtol), "--fib-trace: see --fib-atol (default 1e-2)")
      ("require-bit-identical", po::bool_switch(&require_identical), "exit 1 unless every compared stage and output is bit-identical");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "replay TRACE [--variant ID] [--against reference|golden|none|ID] [--call N|all] [--layer L|all] [--threads N]\n"
                     "              [--triton-config BM,BN,BK[,GM]] [--flashinfer V [--against-flashinfer V2]] [--json|--markdown] [--require-bit-identical]\n"
                     "       replay --list-variants | replay --variant ID --plan"))
    return kExitOk;
  if (list) {
    std::cout << reports::variant_list_text();
    return kExitOk;
  }
  if (as_json && as_md) throw InputError("--json/--markdown", "choose one output format");
  if (plan) {
    const auto spec = kernels::find_variant(req.variant.empty() ? "triton_bf16" : req.variant);
    std::cout << replay::plan_to_dot(spec, replay::build_plan(spec));
    return kExitOk;
  }
  if (!fib_trace.empty()) {
    if (req.trace.empty()) throw InputError("--fib-trace", "needs a TRACE");
    refuse_overwriting_inputs(fib_trace, {req.trace});
  }
  std::optional<replay::Progress> progress;
  req.on_stage = [&](const std::string& id, std::size_t call, std::size_t d, std::size_t n, const std::string& s) {
    if (!progress) progress.emplace("replay " + id);
    progress->update(d, n, "call " + std::to_string(call) + " " + s);
  };
  const workflows::ReplayReport rep = workflows::run_replay(req);
  if (progress) progress->finish();
  if (ranks::rank() != 0) return kExitOk;  // rank 0 reports for every rank (docs/scale-out.md)
  if (!fib_trace.empty()) write_fib_trace(rep, req.trace, fib_trace, fib_atol, fib_rtol, req.no_timings);

  if (as_json) std::cout << boost::json::serialize(reports::to_json(rep)) << "\n";
  else if (as_md) std::cout << reports::to_markdown(rep);
  else std::cout << reports::to_text(rep);
  if (rep.error_findings() > 0) return kExitFindings;
  if (require_identical && !rep.all_bit_identical()) return kExitFindings;
  return kExitOk;
}

const Registrar reg("replay", "replay a trace through a kernel variant and diff numerics (reference, golden, variant)",
                    run_replay_cmd);

}  // namespace
}  // namespace moesim::cli
