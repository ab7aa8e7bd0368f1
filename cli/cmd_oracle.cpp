// moesim oracle: which MoE backend a framework revision picks, and why.
// Options -> oracle::OracleQuery -> oracle::decide -> reports/oracle_report.
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
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
  opts.add_options()
      ("framework", po::value(&q.framework)->required(), "NAME@REVISION, e.g. vllm@pr40808, sglang@main-d55f1c2")
      ("device", po::value(&q.device)->required(), "device: sm90, sm100, sm110, sm120, sm121, h100, b200, thor, ...")
      ("quant", po::value(&q.quant)->required(), "quant scheme: bf16, fp8, fp8_block, nvfp4, mxfp4 (vLLM); bf16, fp8, modelopt_fp4, ... (SGLang)")
      ("flashinfer", po::value(&q.flashinfer_version), "installed flashinfer-python version (default: the revision's pin; 'none' = not installed)")
      ("env", po::value(&env)->composing(), "environment variable K=V as the framework sees it (repeatable)")
      ("trait", po::value(&traits)->composing(), "model/deployment trait K=V, e.g. activation=relu2_no_mul, dp_size=2 (repeatable)")
      ("json", po::bool_switch(), "print the decision and trail as JSON")
      ("dot", po::bool_switch(), "print the decision graph(s) in Graphviz DOT instead");
  po::variables_map vm;
  if (!parse_options(args, opts, {}, vm,
                     "oracle --framework vllm@REV --device sm110 --quant bf16 [--flashinfer 0.6.8.post1] [--env K=V] [--trait K=V] [--json|--dot]"))
    return kExitOk;
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
