// moesim export KIND ...: a trace back out in a format other tools run. One kind today:
// flashinfer-dump (the FlashInfer API-logging layout `flashinfer replay --dir` reads).
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/import/flashinfer_bench.hpp"
#include "traces/import/flashinfer_dump.hpp"

namespace moesim::cli {
namespace {

int run_export_fib(const std::vector<std::string>& args) {
  traces::import::FibExportRequest q;
  po::options_description opts("export flashinfer-bench options");
  opts.add_options()
      ("trace", po::value(&q.trace)->required(), "trace with bf16 weights, routing and hidden_states (gated silu)")
      ("output,o", po::value(&q.output_dir)->required(), "FIB dataset root to create (definitions/, workloads/, blob/)");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  std::vector<std::string> sub{"export flashinfer-bench"};
  sub.insert(sub.end(), args.begin() + 2, args.end());
  if (!parse_options(sub, opts, pos, vm, "export flashinfer-bench TRACE -o DIR")) return kExitOk;
  q.models_dir = models_dir();
  const auto r = traces::import::export_flashinfer_bench(q);
  std::cout << "wrote " << r.output_dir << ": " << r.call_dirs.size() << " workload(s)\n";
  for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
  return kExitOk;
}

int run_export(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    std::cout << "usage: moesim export flashinfer-dump TRACE -o DIR [--function cutlass_fused_moe]\n"
                 "       moesim export flashinfer-bench TRACE -o DIR\n\nkinds:\n"
                 "  flashinfer-dump   each call as a FlashInfer API-logging call directory (inputs.safetensors, metadata.jsonl)\n"
                 "  flashinfer-bench  a flashinfer-bench dataset: definition, workloads JSONL, safetensors blobs\n";
    return args.size() < 2 ? kExitBadInput : kExitOk;
  }
  if (args[1] == "flashinfer-bench") return run_export_fib(args);
  if (args[1] != "flashinfer-dump") throw InputError("moesim export " + args[1], "unknown export kind (known: flashinfer-dump, flashinfer-bench)");
  traces::import::FlashinferExportRequest q;
  po::options_description opts("export flashinfer-dump options");
  opts.add_options()
      ("trace", po::value(&q.trace)->required(), "trace with bf16 weights, routing and hidden_states")
      ("output,o", po::value(&q.output_dir)->required(), "dump directory to create")
      ("function", po::value(&q.function)->default_value("cutlass_fused_moe"), "FlashInfer entry point to write calls for");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  std::vector<std::string> sub{"export flashinfer-dump"};
  sub.insert(sub.end(), args.begin() + 2, args.end());
  if (!parse_options(sub, opts, pos, vm, "export flashinfer-dump TRACE -o DIR [--function cutlass_fused_moe]")) return kExitOk;
  q.models_dir = models_dir();
  const auto r = traces::import::export_flashinfer_dump(q);
  std::cout << "wrote " << r.output_dir << ": " << r.call_dirs.size() << " call directory(ies)\n";
  for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
  return kExitOk;
}

const Registrar reg("export", "export a trace as a FlashInfer API-logging dump or a flashinfer-bench dataset (for a GPU owner)", run_export);

}  // namespace
}  // namespace moesim::cli
