// moesim oracle: which MoE backend a framework revision picks, and why.
// Options -> oracle::OracleQuery -> oracle::decide -> reports/oracle_report.
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "models/lib/framework_rules.hpp"
#include "replay/oracle/oracle.hpp"
#include "reports/oracle_report.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::cli {
namespace {

int run_oracle(const std::vector<std::string>& args) {
  po::options_description opts("oracle options");
  std::vector<std::string> env, traits;
  oracle::OracleQuery q;
  std::string list_fw;
  opts.add_options()
      ("framework", po::value(&q.framework), "NAME@REVISION; REVISION = a release tag (vllm@v0.19.0, sglang@v0.5.13), a commit on upstream main, or a modelled PR marker (vllm@pr40808)")
      ("device", po::value(&q.device), "device: sm90, sm100, sm110, sm120, sm121, h100, b200, thor, ...")
      ("quant", po::value(&q.quant), "quant scheme: bf16, fp8, fp8_block, nvfp4, mxfp4 (vLLM); bf16, fp8, modelopt_fp4, ... (SGLang)")
      ("list-revisions", po::value(&list_fw), "list NAME's modelled revisions and release tags (date, source commit, what a tag resolves to) and exit")
      ("flashinfer", po::value(&q.flashinfer_version), "installed flashinfer-python version (default: the revision's pin; 'none' = not installed)")
      ("env", po::value(&env)->composing(), "environment variable K=V as the framework sees it (repeatable)")
      ("trait", po::value(&traits)->composing(), "model/deployment trait K=V, e.g. activation=relu2_no_mul, dp_size=2 (repeatable)")
      ("json", po::bool_switch(), "print the decision and trail as JSON")
      ("dot", po::bool_switch(), "print the decision graph(s) in Graphviz DOT instead");
  po::variables_map vm;
  if (!parse_options(args, opts, {}, vm,
                     "oracle --framework vllm@REV --device sm110 --quant bf16 [--flashinfer 0.6.8.post1] [--env K=V] [--trait K=V] [--json|--dot] | oracle --list-revisions vllm|sglang [--json]"))
    return kExitOk;
  if (!list_fw.empty()) {
    models::Framework fw = models::load_framework_by_name(models_dir(), list_fw);
    std::cout << reports::format_revision_list(fw, vm["json"].as<bool>());
    return kExitOk;
  }
  for (const char* o : {"framework", "device", "quant"})
    if (!vm.count(o)) throw InputError(std::string("--") + o, "required (or --list-revisions NAME)");
  for (const auto& kv : env) q.env.insert(oracle::parse_assignment(kv, "--env"));
  for (const auto& kv : traits) q.traits.insert(oracle::parse_assignment(kv, "--trait"));
  if (vm["dot"].as<bool>()) {
    std::cout << oracle::decision_graph_dot(q, models_dir());
    return kExitOk;
  }
  oracle::OracleDecision d = oracle::decide(q, models_dir());
  std::cout << (vm["json"].as<bool>() ? reports::format_json(d) : reports::format_text(d));
  // The framework raising (no backend fits) is a finding about the deployment, not bad input.
  return d.error ? kExitFindings : kExitOk;
}

const Registrar reg("oracle", "emulate a framework's MoE backend selection (vLLM, SGLang) with its reasoning",
                    run_oracle);

}  // namespace
}  // namespace moesim::cli
