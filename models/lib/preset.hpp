#pragma once
// Model presets (models/presets/<name>.json): the MoE shape of a published model.
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::models {

struct Preset {
  std::string name, hf_id;
  std::int64_t num_experts = 0, top_k = 0, hidden = 0, intermediate = 0;
  std::string activation;
  bool gated = true;
  std::int64_t num_shared_experts = 0;
  std::string native_quant;
  std::int64_t moe_layers = 0;
  std::vector<std::string> unverified_fields;  // honest flags for shapes not confirmed upstream
  std::string source;
};

std::vector<std::string> list_presets(const std::string& models_dir);
// Throws InputError naming the preset (and the known ones) if absent, or the file if malformed.
Preset load_preset(const std::string& models_dir, const std::string& name);

}  // namespace moesim::models
