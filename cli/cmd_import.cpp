// moesim import KIND ...: real data in. Each kind parses its options into its importer's
// request, makes one library call (traces/import/) and renders the result (reports/).
#include <cstdlib>
#include <functional>
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "reports/import_report.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/import/flashinfer_bench.hpp"
#include "traces/import/flashinfer_dump.hpp"
#include "traces/import/hf_checkpoint.hpp"
#include "traces/import/routed_experts.hpp"
#include "traces/import/sglang_distribution.hpp"

namespace moesim::cli {
namespace {

using traces::import::ImportResult;

struct Kind {
  const char* name;
  const char* summary;
  std::function<ImportResult(const std::vector<std::string>& args, bool& json, bool& help)> run;
};

ImportResult hf_checkpoint(const std::vector<std::string>& args, bool& json, bool& help) {
  traces::import::HfCheckpointRequest q;
  po::options_description opts("import hf-checkpoint options");
  opts.add_options()
      ("checkpoint", po::value(&q.checkpoint)->required(), "checkpoint directory (config.json + model.safetensors.index.json + shards) or one .safetensors file")
      ("layer", po::value(&q.layer), "decoder layer index (a MoE layer): a single-layer trace")
      ("layers", po::value(&q.layers), "'all' MoE layers or a list L1,L2,...: a multi-layer trace (weights per layer; the --calls replayed in each layer unless --calls is itself multi-layer)")
      ("calls", po::value(&q.calls_from)->required(), "trace whose calls (routing, activations) the weights replay (moesim synth, or any importer)")
      ("output,o", po::value(&q.output)->required(), "output trace")
      ("config", po::value(&q.config), "config.json (default: the checkpoint directory's)")
      ("drop-biases", po::bool_switch(&q.drop_biases), "import gpt-oss experts without their (non-zero) expert biases, loudly; replay then differs from the model")
      ("json", po::bool_switch(&json), "print the result as JSON");
  po::positional_options_description pos;
  pos.add("checkpoint", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "import hf-checkpoint DIR (--layer L | --layers all|L1,L2,...) --calls ROUTING.h5 -o OUT.h5 [--config config.json] [--drop-biases]")) {
    help = true;
    return {};
  }
  q.models_dir = models_dir();
  return traces::import::import_hf_checkpoint(q);
}

ImportResult routed(const std::string& engine, const std::vector<std::string>& args, bool& json, bool& help) {
  traces::import::RoutedExpertsRequest q;
  q.engine = engine;
  po::options_description opts("import " + engine + "-routed-experts options");
  opts.add_options()
      ("input", po::value(&q.inputs)->composing()->required(),
       engine == "vllm" ? "response JSON / JSONL (choices[i].routed_experts, base64 .npy) or raw .npy files"
                        : "response JSON / JSONL (meta_info.routed_experts or sglext.routed_experts, base64 int32)")
      ("config", po::value(&q.config)->required(), "the served model's Hugging Face config.json")
      ("layer", po::value(&q.layer)->required(), "MoE layer to keep (dense layers are dropped); one layer per trace (hf-checkpoint --layers imports several)")
      ("output,o", po::value(&q.output)->required(), "output trace")
      ("tokens-per-call", po::value(&q.tokens_per_call)->default_value(0), "0: one call per request; N: requests concatenated and cut every N tokens")
      ("weights", po::value(&q.weights)->default_value("uniform"), "uniform (1/K; no engine captures routing weights) | counts (expert_counts only)")
      ("framework", po::value(&q.framework), "recording context NAME@REVISION as moesim check knows it (e.g. vllm@pr44220); default: none")
      ("device", po::value(&q.device), "recording context device (e.g. b200)")
      ("json", po::bool_switch(&json), "print the result as JSON");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "import " + engine + "-routed-experts RESPONSES... --config config.json --layer L -o OUT.h5")) {
    help = true;
    return {};
  }
  q.models_dir = models_dir();
  return traces::import::import_routed_experts(q);
}

std::string python();

ImportResult flashinfer_dump(const std::vector<std::string>& args, bool& json, bool& help) {
  traces::import::FlashinferDumpRequest q;
  po::options_description opts("import flashinfer-dump options");
  opts.add_options()
      ("input", po::value(&q.input)->required(), "a call directory, a dump root (FLASHINFER_DUMP_DIR) or its session.jsonl")
      ("output,o", po::value(&q.output)->required(), "output trace")
      ("device", po::value(&q.device), "recording device (the dump records only cuda:N), e.g. b200, sm90")
      ("log", po::value(&q.log), "FLASHINFER_LOGDEST file: its 'Compute capability' line gives the device")
      ("json", po::bool_switch(&json), "print the result as JSON");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "import flashinfer-dump DUMP_DIR|CALL_DIR|session.jsonl -o OUT.h5 [--device D | --log FILE]")) {
    help = true;
    return {};
  }
  q.models_dir = models_dir();
  q.source_dir = source_dir();
  q.python = python();
  return traces::import::import_flashinfer_dump(q);
}

ImportResult flashinfer_bench(const std::vector<std::string>& args, bool& json, bool& help) {
  traces::import::FibImportRequest q;
  std::string seed;
  po::options_description opts("import flashinfer-bench options");
  opts.add_options()
      ("definition", po::value(&q.definition)->required(), "FIB definition JSON (op_type moe; FIB or FlashInfer fi_trace spellings), or a FIB dataset root")
      ("workloads", po::value(&q.workloads), "workloads JSONL (Workload or workload-Trace lines); default with a dataset root: workloads/moe/<name>.jsonl")
      ("dataset-root", po::value(&q.dataset_root), "root the safetensors blob paths are relative to (default: <root> of <root>/workloads/moe/X.jsonl, else the JSONL's directory)")
      ("name", po::value(&q.name), "dataset root with several moe definitions: the one to import")
      ("output,o", po::value(&q.output)->required(), "output trace")
      ("device", po::value(&q.device), "recording device (FIB workloads do not record one), e.g. b200")
      ("random-routing", po::value(&seed), "routing_logits {\"type\":\"random\"}: generate them with moesim.gen/1 under this seed (recorded in each call's source); default: refuse")
      ("json", po::bool_switch(&json), "print the result as JSON");
  po::positional_options_description pos;
  pos.add("definition", 1).add("workloads", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "import flashinfer-bench DEFINITION.json WORKLOADS.jsonl [--dataset-root DIR] -o OUT.h5 [--random-routing SEED]\n"
                                          "       import flashinfer-bench DATASET_ROOT [--name DEFINITION] -o OUT.h5")) {
    help = true;
    return {};
  }
  if (vm.count("random-routing")) {
    std::size_t n = 0;
    try {
      q.random_seed = std::stoull(seed, &n);
    } catch (...) {
      n = 0;
    }
    if (seed.empty() || n != seed.size()) throw InputError("--random-routing " + seed, "expected an unsigned integer seed");
    q.random_routing = true;
  }
  q.models_dir = models_dir();
  return traces::import::import_flashinfer_bench(q);
}

std::string python() { return std::getenv("MOESIM_PYTHON") ? std::getenv("MOESIM_PYTHON") : "/usr/bin/python3"; }

ImportResult sglang_distribution(const std::vector<std::string>& args, bool& json, bool& help) {
  traces::import::SglangDistributionRequest q;
  po::options_description opts("import sglang-expert-distribution options");
  opts.add_options()
      ("input", po::value(&q.input)->required(), "expert_distribution_recorder_*.pt (per_token, per_pass or stat mode)")
      ("config", po::value(&q.config)->required(), "the model's Hugging Face config.json")
      ("layer", po::value(&q.layer)->required(), "MoE layer to keep; one layer per trace (hf-checkpoint --layers imports several)")
      ("output,o", po::value(&q.output)->required(), "output trace")
      ("json", po::bool_switch(&json), "print the result as JSON");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "import sglang-expert-distribution FILE.pt --config config.json --layer L -o OUT.h5")) {
    help = true;
    return {};
  }
  q.models_dir = models_dir();
  q.source_dir = source_dir();
  q.python = python();
  return traces::import::import_sglang_distribution(q);
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k{
      {"hf-checkpoint", "one MoE layer's experts from a Hugging Face safetensors checkpoint (bf16, fp8 128x128, ModelOpt NVFP4/FP8, gpt-oss MXFP4)", hf_checkpoint},
      {"flashinfer-dump", "FlashInfer API-logging level-10 dumps (fused-MoE entry points; crash point, version)", flashinfer_dump},
      {"flashinfer-bench", "flashinfer-bench MoE definitions + workloads (FIB and FlashInfer fi_trace spellings, safetensors blobs)", flashinfer_bench},
      {"vllm-routed-experts", "per-request routed expert ids returned by vLLM (--enable-return-routed-experts)",
       [](const std::vector<std::string>& a, bool& j, bool& h) { return routed("vllm", a, j, h); }},
      {"sglang-routed-experts", "per-request routed expert ids returned by SGLang (return_routed_experts)",
       [](const std::vector<std::string>& a, bool& j, bool& h) { return routed("sglang", a, j, h); }},
      {"sglang-expert-distribution", "SGLang expert-distribution recorder dumps (per_token batches; per_pass / stat counts)", sglang_distribution},
  };
  return k;
}

int run_import(const std::vector<std::string>& args) {
  auto list = [] {
    std::string s;
    for (const auto& k : kinds()) s += std::string(s.empty() ? "" : ", ") + k.name;
    return s;
  };
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    std::cout << "usage: moesim import KIND [options]   (moesim import KIND --help)\n\nkinds:\n";
    for (const auto& k : kinds()) std::cout << "  " << k.name << "  " << k.summary << "\n";
    return args.size() < 2 ? kExitBadInput : kExitOk;
  }
  for (const auto& k : kinds()) {
    if (args[1] != k.name) continue;
    std::vector<std::string> sub{"import " + args[1]};
    sub.insert(sub.end(), args.begin() + 2, args.end());
    bool json = false, help = false;
    const ImportResult r = k.run(sub, json, help);
    if (help) return kExitOk;
    std::cout << (json ? reports::format_import_json(r) : reports::format_import_text(r));
    return kExitOk;
  }
  throw InputError("moesim import " + args[1], "unknown import kind (known: " + list() + ")");
}

const Registrar reg("import", "import real data (HF checkpoints, engine routing captures, FlashInfer dumps, flashinfer-bench workloads) into a trace", run_import);

}  // namespace
}  // namespace moesim::cli
