// moesim replay: replay a trace's recorded routing and weights through a kernel variant on
// emulated memory and diff the numerics against the fp64 reference, the trace's golden GPU
// outputs, or another variant, stage by stage, with the first divergence.
// Options -> workflows::ReplayRequest -> workflows::run_replay -> reports/replay_report.
#include <iostream>
#include <optional>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "replay/progress.hpp"
#include "replay/ranks/ranks.hpp"
#include "replay/stage_graph.hpp"
#include "reports/replay_report.hpp"
#include "sim/core/error.hpp"
#include "workflows/replay_job.hpp"

namespace moesim::cli {
namespace {

int run_replay_cmd(const std::vector<std::string>& args) {
  po::options_description o("replay options");
  workflows::ReplayRequest req;
  bool as_json = false, as_md = false, plan = false, list = false, require_identical = false;
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
  std::optional<replay::Progress> progress;
  req.on_stage = [&](const std::string& id, std::size_t call, std::size_t d, std::size_t n, const std::string& s) {
    if (!progress) progress.emplace("replay " + id);
    progress->update(d, n, "call " + std::to_string(call) + " " + s);
  };
  const workflows::ReplayReport rep = workflows::run_replay(req);
  if (progress) progress->finish();
  if (ranks::rank() != 0) return kExitOk;  // rank 0 reports for every rank (docs/scale-out.md)

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
