// moesim synth: seeded synthetic traces from model presets.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "models/lib/preset.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/synth.hpp"

namespace moesim::cli {
namespace {

std::vector<std::int64_t> parse_tokens(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      std::size_t used = 0;
      long long v = std::stoll(item, &used);
      if (used != item.size() || v < 0) throw std::invalid_argument("");
      out.push_back(v);
    } catch (const std::exception&) {
      throw InputError("--tokens " + s, "expected comma-separated non-negative integers");
    }
  }
  if (out.empty()) throw InputError("--tokens", "no token counts given");
  return out;
}

int run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  traces::SynthOptions o;
  std::string out, tokens = "256";
  opts.add_options()
      ("preset,p", po::value<std::string>(&o.preset)->required(), "model preset (models/presets/*.json; --list-presets)")
      ("output,o", po::value<std::string>(&out), "output HDF5 trace")
      ("tokens,t", po::value<std::string>(&tokens)->default_value("256"), "token count per MoE call, comma-separated (one call each)")
      ("routing,r", po::value<std::string>(&o.routing)->default_value("uniform"), "uniform | zipf:S | hot[:P] | same (all tokens on experts 0..K-1, as in profile runs)")
      ("mode", po::value<std::string>(&o.mode)->default_value("routing"), "routing (topk ids+weights) | counts (per-expert token counts only)")
      ("seed,s", po::value<std::uint64_t>(&o.seed)->default_value(0), "random seed")
      ("activations", po::bool_switch(&o.activations), "include bf16 hidden_states ~ N(0,1)")
      ("weights", po::value<std::string>(&o.weights)->default_value("none"), "random expert weights: none | bf16 | fp8 (e4m3, 128x128 block scales) | nvfp4 (ModelOpt rule, per-expert global scale) | mxfp4 (OCP floor scales)")
      ("layers", po::value<std::int64_t>(&o.layers)->default_value(0), "multi-layer trace of layers 0..N-1 (each: one call per --tokens entry and its own weights); 0 = single-layer trace")
      ("experts", po::value<std::int64_t>(&o.num_experts)->default_value(0), "override num_experts (0 = preset)")
      ("top-k", po::value<std::int64_t>(&o.top_k)->default_value(0), "override top_k")
      ("hidden", po::value<std::int64_t>(&o.hidden)->default_value(0), "override hidden size")
      ("intermediate", po::value<std::int64_t>(&o.intermediate)->default_value(0), "override intermediate size")
      ("device", po::value<std::string>(&o.context.device), "recording context: device (e.g. sm90, b200)")
      ("flashinfer", po::value<std::string>(&o.context.flashinfer_version), "recording context: FlashInfer version")
      ("framework", po::value<std::string>(&o.context.framework), "recording context: framework@revision (e.g. vllm@pr44220; models/frameworks)")
      ("backend", po::value<std::string>(&o.context.backend), "recording context: kernel backend id")
      ("ep", po::value<std::int64_t>(&o.context.ep)->default_value(1), "expert-parallel size")
      ("dp", po::value<std::int64_t>(&o.context.dp)->default_value(1), "data-parallel size")
      ("tp", po::value<std::int64_t>(&o.context.tp)->default_value(1), "tensor-parallel size")
      ("max-num-batched-tokens", po::value<std::int64_t>(&o.context.max_num_batched_tokens)->default_value(0), "engine max_num_batched_tokens");
  // --list-presets must work without --preset, so check for it before parsing.
  for (const auto& a : args)
    if (a == "--list-presets") {
      for (const auto& n : models::list_presets(models_dir())) {
        const auto p = models::load_preset(models_dir(), n);
        std::cout << n << "  E=" << p.num_experts << " K=" << p.top_k << " H=" << p.hidden << " I=" << p.intermediate
                  << " " << p.activation << (p.gated ? "" : " (non-gated)") << " " << p.native_quant << "\n";
      }
      return 0;
    }
  po::variables_map vm;
  if (!parse_options(args, opts, {}, vm, "synth --preset NAME -o OUT.h5 [options]   (--list-presets lists presets)")) return 0;
  if (out.empty()) throw InputError("moesim synth", "missing --output (-o) path");
  o.tokens = parse_tokens(tokens);
  const traces::Trace t = traces::synthesize_to_file(o, models_dir(), out);
  std::int64_t total = 0;
  for (const auto& c : t.calls) total += c.num_tokens;
  std::cout << "wrote " << out << ": " << t.model.name << " E=" << t.model.num_experts << " K=" << t.model.top_k
            << " H=" << t.model.hidden << " I=" << t.model.intermediate << ", "
            << (t.multi_layer() ? std::to_string(t.layers.size()) + " layers, " : std::string()) << t.calls.size() << " call(s), " << total
            << " tokens, routing " << o.routing << (o.mode == "counts" ? " (counts only)" : "")
            << (o.activations ? ", activations" : "") << (o.weights != "none" ? ", " + o.weights + " weights" : "") << "\n";
  return 0;
}

Registrar reg("synth", "generate a seeded synthetic trace from a model preset", run);

}  // namespace
}  // namespace moesim::cli
