#include "models/lib/preset.hpp"

#include <algorithm>
#include <filesystem>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

std::vector<std::string> list_presets(const std::string& models_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(models_dir + "/presets", ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

Preset load_preset(const std::string& models_dir, const std::string& name) {
  const std::string path = models_dir + "/presets/" + name + ".json";
  if (!std::filesystem::exists(path)) {
    std::string known;
    for (const auto& n : list_presets(models_dir)) known += (known.empty() ? "" : ", ") + n;
    throw InputError("preset '" + name + "'", "unknown model preset (known: " + known + ")");
  }
  const Document doc = Document::load(path);
  const Node r = doc.root();
  Preset p;
  p.name = r.at("name").as_string();
  p.hf_id = r.get_string("hf_id", "");
  p.num_experts = r.at("num_experts").as_int();
  p.top_k = r.at("top_k").as_int();
  p.hidden = r.at("hidden").as_int();
  p.intermediate = r.at("intermediate").as_int();
  p.activation = r.at("activation").as_string();
  p.gated = r.at("gated").as_bool();
  p.num_shared_experts = r.get_int("num_shared_experts", 0);
  p.native_quant = r.get_string("native_quant", "bf16");
  p.moe_layers = r.get_int("moe_layers", 0);
  if (auto u = r.find("unverified_fields")) p.unverified_fields = u->as_string_vector();
  p.source = r.get_string("source", "");
  if (p.num_experts <= 0 || p.top_k <= 0 || p.top_k > p.num_experts || p.hidden <= 0 || p.intermediate <= 0)
    r.fail("inconsistent shape (need 0 < top_k <= num_experts, hidden > 0, intermediate > 0)");
  return p;
}

}  // namespace moesim::models
