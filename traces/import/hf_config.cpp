#include "traces/import/hf_config.hpp"

#include <algorithm>

#include "sim/core/error.hpp"

namespace moesim::traces::import {

namespace {
std::int64_t first_int(const models::Node& root, const models::Node& keys, const std::string& what, bool required) {
  std::string tried;
  for (const auto& k : keys.items()) {
    tried += (tried.empty() ? "" : ", ") + k.as_string();
    if (auto n = root.find(k.as_string()); n && !n->is_null()) {
      const std::int64_t v = n->as_int();
      if (v < 0 || (required && v == 0)) n->fail(what + " must be positive");
      return v;
    }
  }
  if (required) root.fail("no " + what + " (looked for " + tried + ")");
  return 0;
}
}  // namespace

const char* quant_from_config(const models::Node& root) {
  auto qc = root.find("quantization_config");
  if (!qc || !qc->is_object()) return "bf16";
  const std::string m = qc->get_string("quant_method", ""), a = qc->get_string("quant_algo", "");
  if (m == "fp8") return qc->find("weight_block_size") ? "fp8_block128" : "fp8_per_tensor";
  if (m == "mxfp4") return "mxfp4";
  if (m == "modelopt" && a == "NVFP4") return "nvfp4";
  return "bf16";
}

std::vector<std::int64_t> HfModelConfig::moe_layers() const {
  std::vector<std::int64_t> v;
  for (std::size_t l = 0; l < moe_layer.size(); ++l)
    if (moe_layer[l]) v.push_back(static_cast<std::int64_t>(l));
  return v;
}

std::int64_t HfModelConfig::pick_layer(const std::string& arg) const {
  std::string list;
  for (auto l : moe_layers()) list += (list.empty() ? "" : ",") + std::to_string(l);
  if (arg == "all")
    throw InputError("--layer all", "this importer writes one layer per trace; import one MoE layer per trace with --layer N (MoE layers: " + list +
                                        "), or weights of several layers with moesim import hf-checkpoint --layers");
  std::int64_t L = -1;
  try {
    std::size_t used = 0;
    L = std::stoll(arg, &used);
    if (used != arg.size() || L < 0) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw InputError("--layer " + arg, "expected a layer index (MoE layers: " + list + ")");
  }
  if (L >= num_layers) throw InputError("--layer " + arg, "layer >= num_hidden_layers " + std::to_string(num_layers) + " of " + path);
  if (!moe_layer[static_cast<std::size_t>(L)])
    throw InputError("--layer " + arg, "layer " + arg + " is a dense / non-MoE layer in " + path + " (MoE layers: " + list + ")");
  return L;
}

std::vector<std::int64_t> HfModelConfig::pick_layers(const std::string& arg) const {
  if (arg == "all") {
    const auto ls = moe_layers();
    if (ls.empty()) throw InputError("--layers all", path + " has no MoE layers");
    return ls;
  }
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos <= arg.size()) {
    const std::size_t end = std::min(arg.find(',', pos), arg.size());
    const std::int64_t L = pick_layer(arg.substr(pos, end - pos));
    if (!out.empty() && L <= out.back())
      throw InputError("--layers " + arg, "layer indices must be ascending and distinct");
    out.push_back(L);
    pos = end + 1;
  }
  return out;
}

void read_hf_config(const std::string& path, const std::string& models_dir, HfModelConfig& c) {
  c.path = path;
  c.doc = models::Document::load(path);
  const models::Node root = c.doc.root();
  c.model_type = root.at("model_type").as_string();
  const models::Document table = models::Document::load(models_dir + "/checkpoints/hf_moe.json");
  const models::Node keys = table.root().at("config_keys");
  std::string known, rule;
  bool found = false;
  for (const auto& s : table.root().at("schemes").items())
    for (const auto& mt : s.at("model_types").as_string_vector()) {
      known += (known.empty() ? "" : ", ") + mt;
      if (mt != c.model_type || found) continue;
      found = true;
      HfNaming& n = c.naming;
      n.layout = s.at("layout").as_string();
      n.expert = s.at("expert").as_string();
      n.gate = s.get_string("gate", "");
      n.up = s.get_string("up", "");
      n.down = s.at("down").as_string();
      n.gate_up = s.get_string("gate_up", "");
      n.router = s.get_string("router", "");
      n.bias = s.get_string("bias", "");
      n.activation = s.at("activation").as_string();
      n.gated = s.at("gated").as_bool();
      rule = s.at("moe_layers").as_string();
    }
  if (!found) root.at("model_type").fail("model_type '" + c.model_type + "' has no MoE entry in models/checkpoints/hf_moe.json (modelled: " + known + ")");
  c.num_experts = first_int(root, keys.at("num_experts"), "number of routed experts", true);
  c.top_k = first_int(root, keys.at("top_k"), "experts per token", true);
  c.hidden = first_int(root, keys.at("hidden"), "hidden size", true);
  c.intermediate = first_int(root, keys.at("intermediate"), "expert intermediate size", true);
  c.num_shared_experts = first_int(root, keys.at("num_shared_experts"), "shared experts", false);
  c.num_layers = first_int(root, keys.at("num_layers"), "number of layers", true);
  if (c.top_k > c.num_experts) root.fail("experts per token " + std::to_string(c.top_k) + " exceeds the expert count " + std::to_string(c.num_experts));
  // Hostile-config guards: sizes beyond any real model would only drive allocations.
  if (c.num_layers > 100000) root.fail("num_hidden_layers " + std::to_string(c.num_layers) + " is implausible");
  if (c.num_experts > 65536) root.fail("expert count " + std::to_string(c.num_experts) + " is implausible (> 65536)");
  if (c.hidden > (1 << 20) || c.intermediate > (1 << 20)) root.fail("hidden / intermediate size above 2^20 is implausible");
  c.moe_layer.assign(static_cast<std::size_t>(c.num_layers), true);
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    bool moe = true;
    if (rule == "deepseek") {
      const std::int64_t freq = root.get_int("moe_layer_freq", 1);
      if (freq <= 0) root.at("moe_layer_freq").fail("must be positive");
      moe = l >= root.get_int("first_k_dense_replace", 0) && l % freq == 0;
    } else if (rule == "qwen") {
      const std::int64_t step = root.get_int("decoder_sparse_step", 1);
      if (step <= 0) root.at("decoder_sparse_step").fail("must be positive");
      std::vector<std::int64_t> dense;
      if (auto m = root.find("mlp_only_layers"); m && !m->is_null()) dense = m->as_int_vector();
      moe = (l + 1) % step == 0;
      for (auto d : dense) moe = moe && d != l;
    } else if (rule == "pattern") {
      const std::string pat = root.at("hybrid_override_pattern").as_string();
      if (static_cast<std::int64_t>(pat.size()) != c.num_layers)
        root.at("hybrid_override_pattern").fail("length " + std::to_string(pat.size()) + " != num_hidden_layers " + std::to_string(c.num_layers));
      moe = pat[static_cast<std::size_t>(l)] == 'E';
    } else if (rule != "all") {
      table.root().fail("unknown moe_layers rule '" + rule + "'");
    }
    c.moe_layer[static_cast<std::size_t>(l)] = moe;
  }
}

}  // namespace moesim::traces::import
