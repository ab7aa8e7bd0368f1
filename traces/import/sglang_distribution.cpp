#include "traces/import/sglang_distribution.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <set>

#include "sim/core/error.hpp"
#include "traces/import/hf_config.hpp"
#include "traces/import/pt_convert.hpp"
#include "traces/import/safetensors.hpp"

namespace moesim::traces::import {

namespace {

namespace json = boost::json;

// ForwardMode values (S0:python/sglang/srt/model_executor/forward_batch_info.py:98-112).
std::string forward_mode_name(std::int64_t m) {
  static const char* names[] = {"?", "EXTEND", "DECODE", "MIXED", "IDLE", "TARGET_VERIFY", "DRAFT_EXTEND_V2"};
  return m >= 1 && m <= 6 ? names[m] : std::to_string(m);
}

struct IntTensor {
  std::vector<std::int64_t> shape, v;
};

IntTensor read_int(const SafetensorsFile& st, const json::value* node, const std::string& where) {
  if (!node || !node->is_object() || !node->as_object().contains("__tensor__"))
    throw InputError(where, "expected a tensor");
  const std::string key(node->as_object().at("__tensor__").as_string());
  const auto& info = st.info(key);
  const auto b = st.read(key);
  IntTensor t;
  t.shape = info.shape;
  const int w = info.dtype == "I32" ? 4 : info.dtype == "I64" ? 8 : info.dtype == "I16" ? 2 : 0;
  if (!w) throw InputError(where, "dtype " + info.dtype + ", expected an integer tensor");
  t.v.resize(b.size() / static_cast<std::size_t>(w));
  for (std::size_t i = 0; i < t.v.size(); ++i) {
    std::uint64_t u = 0;
    for (int j = w - 1; j >= 0; --j) u = (u << 8) | b[i * static_cast<std::size_t>(w) + static_cast<std::size_t>(j)];
    if ((u >> (8 * w - 1)) & 1 && w < 8) u |= ~std::uint64_t(0) << (8 * w);
    t.v[i] = static_cast<std::int64_t>(u);
  }
  return t;
}

std::int64_t get_int(const json::object& o, const char* k, std::int64_t dflt) {
  const auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : dflt;
}

}  // namespace

ImportResult import_sglang_distribution(const SglangDistributionRequest& req) {
  HfModelConfig cfg;
  read_hf_config(req.config, req.models_dir, cfg);
  const std::int64_t L = cfg.pick_layer(req.layer), E = cfg.num_experts, K = cfg.top_k, NL = cfg.num_layers;
  PtConverted conv = convert_pt(req.python, req.source_dir, req.input, true);
  SafetensorsFile st(conv.safetensors);
  std::ifstream jf(conv.tree_json);
  const std::string text((std::istreambuf_iterator<char>(jf)), std::istreambuf_iterator<char>());
  const json::value root = json::parse(text);
  if (!root.is_object()) throw InputError(req.input, "not an SGLang expert-distribution dump (top level is not a dict)");
  const auto& o = root.as_object();
  ImportResult res;
  res.kind = "sglang-expert-distribution";
  res.inputs = {req.input, req.config};
  Trace tr;
  tr.model.name = cfg.model_type;
  tr.model.num_experts = E;
  tr.model.top_k = K;
  tr.model.hidden = cfg.hidden;
  tr.model.intermediate = cfg.intermediate;
  tr.model.activation = cfg.naming.activation;
  tr.model.gated = cfg.naming.gated;
  tr.model.num_shared_experts = cfg.num_shared_experts;
  tr.model.quant = quant_from_config(cfg.doc.root());
  tr.attrs["created_by"] = std::string("moesim import sglang-expert-distribution ") + MOESIM_VERSION;
  auto counts_call = [&](std::vector<std::int64_t> counts, const std::string& where, const std::string& source) {
    std::int64_t sum = 0;
    for (auto c : counts) {
      if (c < 0) throw InputError(where, "negative expert count");
      sum += c;
    }
    if (sum == 0) return false;  // an unfilled ring-buffer slot or a pass without tokens on this layer
    if (sum % K != 0) throw InputError(where, "expert counts sum to " + std::to_string(sum) + ", not a multiple of top_k " + std::to_string(K));
    MoeCall c;
    c.num_tokens = sum / K;
    c.layer = L;
    c.expert_counts = std::move(counts);
    c.attrs["source"] = source;
    res.tokens += c.num_tokens;
    tr.calls.push_back(std::move(c));
    return true;
  };
  std::size_t skipped = 0;
  if (const auto* recs = o.if_contains("records")) {
    if (!recs->is_array()) throw InputError(req.input + ":records", "not a list");
    const IntTensor map = read_int(st, o.if_contains("last_physical_to_logical_map"), req.input + ":last_physical_to_logical_map");
    if (map.shape.size() != 2 || map.shape[0] != NL)
      throw InputError(req.input + ":last_physical_to_logical_map", "shape must be [num_hidden_layers = " + std::to_string(NL) + ", physical experts]");
    const std::int64_t P = map.shape[1];
    for (std::int64_t p = 0; p < P; ++p) {
      const std::int64_t lg = map.v[static_cast<std::size_t>(L * P + p)];
      if (lg < 0 || lg >= E) throw InputError(req.input + ":last_physical_to_logical_map", "layer " + std::to_string(L) + " physical " + std::to_string(p) + " maps to " + std::to_string(lg) + " outside [0, " + std::to_string(E) + ")");
    }
    if (P != E) res.notes.push_back(std::to_string(P) + " physical experts for " + std::to_string(E) + " logical (EPLB redundant experts): ids mapped through last_physical_to_logical_map");
    std::size_t ri = 0;
    for (const auto& rv : recs->as_array()) {
      const std::string where = req.input + ":records/" + std::to_string(ri++);
      if (!rv.is_object()) throw InputError(where, "record is not a dict");
      const auto& r = rv.as_object();
      const std::string pass = std::to_string(get_int(r, "forward_pass_id", -1));
      if (const auto* tk = r.if_contains("topk_ids_of_layer")) {
        if (K > 8) throw InputError(where, "top_k " + std::to_string(K) + " > 8: SGLang's per_token recorder keeps 8 columns (_TOP_K_NUM, expert_distribution.py:396-397)");
        const auto* in = r.if_contains("input_ids");
        if (!in || !in->is_array()) throw InputError(where + "/input_ids", "missing (per_token record)");
        const std::int64_t T = static_cast<std::int64_t>(in->as_array().size());
        const IntTensor ids = read_int(st, tk, where + "/topk_ids_of_layer");
        if (ids.shape.size() != 3 || ids.shape[0] != NL || ids.shape[1] < T || ids.shape[2] < K)
          throw InputError(where + "/topk_ids_of_layer", "shape must be [num_hidden_layers, >= tokens, >= top_k]");
        if (T == 0) {
          ++skipped;
          continue;
        }
        MoeCall c;
        c.num_tokens = T;
        c.layer = L;
        c.topk_ids.resize(static_cast<std::size_t>(T * K));
        const std::int64_t R = ids.shape[1], C = ids.shape[2];
        for (std::int64_t t = 0; t < T; ++t) {
          std::set<std::int32_t> seen;
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t phys = ids.v[static_cast<std::size_t>((L * R + t) * C + k)];
            std::int32_t lg = -1;
            if (phys != -1) {
              if (phys < 0 || phys >= P) throw InputError(where + "/topk_ids_of_layer", "token " + std::to_string(t) + ": physical id " + std::to_string(phys) + " outside [0, " + std::to_string(P) + ")");
              lg = static_cast<std::int32_t>(map.v[static_cast<std::size_t>(L * P + phys)]);
              if (!seen.insert(lg).second) throw InputError(where + "/topk_ids_of_layer", "token " + std::to_string(t) + " routed twice to logical expert " + std::to_string(lg));
            } else {
              c.ids_masked = true;
            }
            c.topk_ids[static_cast<std::size_t>(t * K + k)] = lg;
          }
        }
        c.topk_weights.assign(c.topk_ids.size(), 1.0f / static_cast<float>(K));
        c.attrs["source"] = "sglang expert-distribution per_token (physical ids mapped to logical), weights uniform 1/K (not captured)";
        c.attrs["forward_pass_id"] = pass;
        c.attrs["rank"] = std::to_string(get_int(r, "rank", -1));
        c.attrs["forward_mode"] = forward_mode_name(get_int(r, "forward_mode", 0));
        if (const auto* x = r.if_contains("extend_seq_lens"); x && x->is_array()) c.attrs["extend_seq_lens"] = json::serialize(*x);
        res.tokens += T;
        tr.calls.push_back(std::move(c));
      } else {
        const IntTensor g = read_int(st, r.if_contains("global_physical_count"), where + "/global_physical_count");
        if (g.shape != std::vector<std::int64_t>{NL, P}) throw InputError(where + "/global_physical_count", "shape must be [num_hidden_layers, physical experts]");
        std::vector<std::int64_t> counts(static_cast<std::size_t>(E), 0);
        for (std::int64_t p = 0; p < P; ++p) counts[static_cast<std::size_t>(map.v[static_cast<std::size_t>(L * P + p)])] += g.v[static_cast<std::size_t>(L * P + p)];
        if (!counts_call(std::move(counts), where, "sglang expert-distribution per_pass counts (physical mapped to logical), pass " + pass)) ++skipped;
      }
    }
  } else if (o.contains("logical_count")) {
    const IntTensor lc = read_int(st, o.if_contains("logical_count"), req.input + ":logical_count");
    if (lc.shape.size() != 3 || lc.shape[1] != NL || lc.shape[2] != E)
      throw InputError(req.input + ":logical_count", "shape must be [buffer, num_hidden_layers = " + std::to_string(NL) + ", experts = " + std::to_string(E) + "]");
    for (std::int64_t b = 0; b < lc.shape[0]; ++b) {
      std::vector<std::int64_t> counts(lc.v.begin() + (b * NL + L) * E, lc.v.begin() + (b * NL + L + 1) * E);
      if (!counts_call(std::move(counts), req.input + ":logical_count/" + std::to_string(b), "sglang expert-distribution stat counts (logical, summed over ranks), slot " + std::to_string(b))) ++skipped;
    }
  } else {
    throw InputError(req.input, "not an SGLang expert-distribution dump (no 'records' and no 'logical_count')");
  }
  if (tr.calls.empty()) throw InputError(req.input, "no forward pass with tokens on layer " + std::to_string(L));
  if (skipped) res.notes.push_back(std::to_string(skipped) + " empty pass(es) / ring-buffer slot(s) skipped");
  write_atomically(tr, req.output, res.inputs, [](const std::string&) {});
  res.output = req.output;
  res.model = tr.model;
  res.calls = tr.calls.size();
  return res;
}

}  // namespace moesim::traces::import
