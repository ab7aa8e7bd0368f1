// moesim repro: the error text a user saw + the deployment (the same options as `moesim check`)
// -> the findings that explain it, the exact first failing token count, the smallest failing
// configuration and a minimal trace (-o) to attach to a bug report.
// Options -> workflows::ReproRequest -> workflows::run_repro -> reports/repro_report.
// Exit 0: explained; 1: nothing explains the error; 2: bad input.
#include <iostream>

#include "cli/check_options.hpp"
#include "cli/registry.hpp"
#include "reports/repro_report.hpp"
#include "sim/core/error.hpp"
#include "workflows/repro.hpp"

namespace moesim::cli {
namespace {

int run_repro_cmd(const std::vector<std::string>& args) {
  po::options_description o("repro options");
  workflows::ReproRequest req;
  bool as_json = false;
  o.add_options()
      ("error", po::value(&req.error_text), "the error text the GPU / framework printed (an excerpt; numbers may be elided with ...)")
      ("output,o", po::value(&req.output), "write a minimal shape-only trace (fewest tokens, per-expert load proportions kept) that reproduces it");
  add_check_options(o, req.deployment);
  o.add_options()
      ("threshold-cap", po::value(&req.deployment.threshold_cap), "upper end of the threshold search (default 2^27)")
      ("json", po::bool_switch(&as_json), "print a JSON report");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "repro --error TEXT TRACE|--preset NAME --tokens N --device D [--flashinfer V] [--vllm REV|--sglang REV] "
                     "[check options] [-o MIN.h5] [--json]"))
    return kExitOk;
  if (req.error_text.empty()) throw InputError("--error", "give the error text the GPU printed (--error TEXT)");
  const workflows::ReproResult r = workflows::run_repro(req);
  if (as_json) std::cout << boost::json::serialize(reports::to_json(r)) << "\n";
  else std::cout << reports::to_text(r);
  return r.explained() ? kExitOk : kExitFindings;
}

const Registrar reg("repro", "explain a GPU error from its text and the deployment; minimal failing config and trace", run_repro_cmd);

}  // namespace
}  // namespace moesim::cli
