// moesim export KIND ...: a trace back out in a format other tools run. One kind today:
// flashinfer-dump (the FlashInfer API-logging layout `flashinfer replay --dir` reads).
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/import/flashinfer_dump.hpp"

namespace moesim::cli {
namespace {

int run_export(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    std::cout << "usage: moesim export flashinfer-dump TRACE -o DIR [--function cutlass_fused_moe]\n\nkinds:\n"
                 "  flashinfer-dump  each call as a FlashInfer API-logging call directory (inputs.safetensors, metadata.jsonl)\n";
    return args.size() < 2 ? kExitBadInput : kExitOk;
  }
  if (args[1] != "flashinfer-dump") throw InputError("moesim export " + args[1], "unknown export kind (known: flashinfer-dump)");
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

const Registrar reg("export", "export a trace as a FlashInfer API-logging dump (for flashinfer replay on a GPU)", run_export);

}  // namespace
}  // namespace moesim::cli
