#pragma once
// A Hugging Face MoE model's config.json read through models/checkpoints/hf_moe.json: the
// expert shape, which decoder layers are MoE, and how the checkpoint names the experts.
#include <cstdint>
#include <string>
#include <vector>

#include "models/lib/json_node.hpp"

namespace moesim::traces::import {

struct HfNaming {
  std::string layout;  // per_expert | fused_interleaved
  std::string expert, gate, up, down, gate_up, router;  // {L} / {e} patterns and projection names
  std::string bias;  // suffix of fused expert biases (gpt-oss "_bias": gate_up [E, 2I] interleaved like its rows, down [E, H]); "" = none
  std::string activation;
  bool gated = true;
};

struct HfModelConfig {
  std::string path, model_type;
  std::int64_t num_experts = 0, top_k = 0, hidden = 0, intermediate = 0, num_shared_experts = 0, num_layers = 0;
  std::vector<bool> moe_layer;  // [num_layers]
  HfNaming naming;
  models::Document doc;
  std::vector<std::int64_t> moe_layers() const;
  // Parses "N" (must be a MoE layer) or refuses "all" (multi-layer traces: issue 18).
  std::int64_t pick_layer(const std::string& arg) const;
  // "all" (every MoE layer) or a comma-separated list of MoE layer indices, ascending and distinct.
  std::vector<std::int64_t> pick_layers(const std::string& arg) const;
};

// The moesim quant name a config's quantization_config implies (bf16 when absent or unknown):
// fp8 (+ weight_block_size) -> fp8_block128, fp8 -> fp8_per_tensor, mxfp4, modelopt NVFP4 -> nvfp4.
const char* quant_from_config(const models::Node& root);

// Throws InputError naming file and JSON pointer for a missing or malformed field.
void read_hf_config(const std::string& path, const std::string& models_dir, HfModelConfig& out);

}  // namespace moesim::traces::import
