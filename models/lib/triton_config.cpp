#include "models/lib/triton_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace json = boost::json;

struct TritonConfigRules::Impl {
  Document doc;
  std::map<std::string, Node> revs;  // id -> node
  std::map<std::string, std::string> aliases;
  std::int64_t dflt_warps = 4, dflt_stages = 3;
};

std::string tuned_config_file_name(const TritonConfigQuery& q) {
  std::string dev = q.device_name;
  for (char& c : dev)
    if (c == ' ') c = '_';
  if (q.framework == "vllm") {
    // "H200" among the '_'-separated tokens -> NVIDIA_H200
    std::size_t s = 0;
    while (s <= dev.size()) {
      std::size_t e = dev.find('_', s);
      if (e == std::string::npos) e = dev.size();
      if (dev.substr(s, e - s) == "H200") {
        dev = "NVIDIA_H200";
        break;
      }
      s = e + 1;
    }
  }
  std::string name = "E=" + std::to_string(q.E) + ",N=" + std::to_string(q.N) + ",device_name=" + dev;
  if (!q.dtype.empty()) name += ",dtype=" + q.dtype;
  if (q.block_shape && q.block_shape->first != 0 && q.block_shape->second != 0) {
    const std::string sep = q.framework == "vllm" ? "," : ", ";
    name += ",block_shape=[" + std::to_string(q.block_shape->first) + sep + std::to_string(q.block_shape->second) + "]";
  }
  if (q.framework == "sglang") {
    if (q.per_channel_quant) name += ",per_channel_quant=True";
    if (q.down) name += "_down";
  }
  return name + ".json";
}

TritonConfigRules TritonConfigRules::load(const std::string& models_dir, const std::string& framework) {
  TritonConfigRules r;
  r.file = models_dir + "/triton_configs/" + framework + "_defaults.json";
  auto impl = std::make_shared<Impl>(Impl{Document::load(r.file), {}, {}, 4, 3});
  Node root = impl->doc.root();
  if (auto d = root.find("triton_defaults")) {
    impl->dflt_warps = d->get_int("num_warps", 4);
    impl->dflt_stages = d->get_int("num_stages", 3);
  }
  for (const Node& rev : root.at("revisions").items()) {
    rev.at("rules").items();  // shape check
    impl->revs.emplace(rev.at("id").as_string(), rev);
  }
  if (auto a = root.find("aliases"))
    for (const auto& [k, v] : a->members()) {
      if (!impl->revs.count(v.as_string())) v.fail("alias to unknown revision");
      impl->aliases[k] = v.as_string();
    }
  r.impl_ = impl;
  return r;
}

std::string TritonConfigRules::resolve(const std::string& rev) const {
  if (impl_->revs.count(rev)) return rev;
  if (auto it = impl_->aliases.find(rev); it != impl_->aliases.end()) return it->second;
  std::string known;
  for (const auto& [k, v] : impl_->revs) known += (known.empty() ? "" : ", ") + k;
  throw InputError(file, "unknown revision '" + rev + "' (known: " + known + ")");
}

namespace {

// Evaluates one config value: integer, "block_n"/"block_k", piecewise [[max_m, v], ..., [null, v]],
// or {"m_div_e_gt": x, "then": a, "else": b}.
std::int64_t eval_value(const Node& v, const TritonConfigQuery& q) {
  const auto& raw = v.raw();
  if (raw.is_int64() || raw.is_uint64()) return v.as_int();
  if (raw.is_string()) {
    const std::string s = v.as_string();
    if (!q.block_shape) v.fail("rule needs block_shape but the query has none");
    if (s == "block_n") return q.block_shape->first;
    if (s == "block_k") return q.block_shape->second;
    v.fail("unknown symbolic value '" + s + "'");
  }
  if (raw.is_array()) {
    for (const Node& piece : v.items()) {
      Node lim = piece.at(std::size_t(0));
      if (lim.is_null() || q.M <= lim.as_int()) return piece.at(std::size_t(1)).as_int();
    }
    v.fail("piecewise value has no open-ended last piece");
  }
  if (raw.is_object()) {
    const std::int64_t ratio = q.M / std::max<std::int64_t>(q.E, 1);
    return ratio > v.at("m_div_e_gt").as_int() ? v.at("then").as_int() : v.at("else").as_int();
  }
  v.fail("unsupported config value");
}

bool rule_matches(const Node& when, const TritonConfigQuery& q) {
  for (const auto& [k, v] : when.members()) {
    if (k == "dtype") {
      if (q.dtype != v.as_string()) return false;
    } else if (k == "block_shape") {
      const bool has = q.block_shape && q.block_shape->first > 0 && q.block_shape->second > 0;
      if (has != v.as_bool()) return false;
    } else if (k == "m_le_e") {
      if ((q.M <= q.E) != v.as_bool()) return false;
    } else if (k == "smem_lt") {
      if (!(q.smem_per_block < v.as_int())) return false;
    } else {
      v.fail("unknown rule condition '" + k + "'");
    }
  }
  return true;
}

TritonConfig parse_entry(const Node& e, std::int64_t dflt_warps, std::int64_t dflt_stages) {
  TritonConfig c;
  c.block_m = e.at("BLOCK_SIZE_M").as_int();
  c.block_n = e.at("BLOCK_SIZE_N").as_int();
  c.block_k = e.at("BLOCK_SIZE_K").as_int();
  c.group_m = e.get_int("GROUP_SIZE_M", 1);
  c.num_warps = e.get_int("num_warps", dflt_warps);
  c.num_stages = e.get_int("num_stages", dflt_stages);
  if (c.block_m <= 0 || c.block_n <= 0 || c.block_k <= 0 || c.num_stages <= 0) e.fail("block sizes and num_stages must be positive");
  return c;
}

}  // namespace

TritonConfig TritonConfigRules::default_config(const TritonConfigQuery& q, const std::string& rev) const {
  const std::string id = resolve(rev);
  const Node& r = impl_->revs.at(id);
  int i = 0;
  for (const Node& rule : r.at("rules").items()) {
    if (rule_matches(rule.at("when"), q)) {
      TritonConfig c;
      Node cfg = rule.at("config");
      c.block_m = eval_value(cfg.at("BLOCK_SIZE_M"), q);
      c.block_n = eval_value(cfg.at("BLOCK_SIZE_N"), q);
      c.block_k = eval_value(cfg.at("BLOCK_SIZE_K"), q);
      c.group_m = cfg.has("GROUP_SIZE_M") ? eval_value(cfg.at("GROUP_SIZE_M"), q) : 1;
      c.num_warps = cfg.has("num_warps") ? eval_value(cfg.at("num_warps"), q) : impl_->dflt_warps;
      c.num_stages = cfg.has("num_stages") ? eval_value(cfg.at("num_stages"), q) : impl_->dflt_stages;
      c.origin = "default " + id + " rule " + std::to_string(i) + " (" + r.at("source").as_string() + ")";
      return c;
    }
    ++i;
  }
  r.fail("no default-config rule matches (the last rule should have an empty 'when')");
}

std::optional<TritonConfig> lookup_tuned_config(const std::vector<std::string>& dirs, const TritonConfigQuery& q) {
  const std::string name = tuned_config_file_name(q);
  for (const auto& d : dirs) {
    const std::string path = d + "/" + name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    Document doc = Document::load(path);
    Node root = doc.root();
    std::optional<std::pair<std::int64_t, Node>> best;
    for (const auto& [k, v] : root.members()) {
      if (k == "triton_version") continue;
      std::int64_t key = 0;
      try {
        std::size_t used = 0;
        key = std::stoll(k, &used);
        if (used != k.size()) throw 0;
      } catch (...) {
        v.fail("key is not an integer token count");
      }
      const std::int64_t dist = key > q.M ? key - q.M : q.M - key;
      if (!best || dist < (best->first > q.M ? best->first - q.M : q.M - best->first)) best.emplace(key, v);
    }
    if (!best) root.fail("tuned config file has no entries");
    TritonConfig c = parse_entry(best->second, 4, 3);
    c.origin = "tuned " + path + " key " + std::to_string(best->first);
    return c;
  }
  return std::nullopt;
}

TritonConfig select_triton_config(const TritonConfigRules& rules, const std::string& rev,
                                  const std::vector<std::string>& dirs, const TritonConfigQuery& q) {
  TritonConfigQuery up = q;
  up.down = false;
  TritonConfig c = lookup_tuned_config(dirs, up).value_or(TritonConfig{});
  if (c.block_m == 0) c = rules.default_config(up, rev);
  if (!q.down) return c;
  // SGLang down config: its own file (else the up config), BLOCK_SIZE_M forced to up's.
  std::optional<TritonConfig> d = lookup_tuned_config(dirs, q);
  if (!d) return c;
  d->origin += " (BLOCK_SIZE_M " + std::to_string(d->block_m) + " -> " + std::to_string(c.block_m) + " from up config)";
  d->block_m = c.block_m;
  return *d;
}

}  // namespace moesim::models
