#include "traces/import/routed_experts.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <set>

#include "sim/core/error.hpp"
#include "traces/import/base64.hpp"
#include "traces/import/hf_config.hpp"
#include "traces/import/npy.hpp"

namespace moesim::traces::import {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

RoutedCapture from_npy(const NpyArray& a, const std::string& where) {
  if (a.kind != 'i' && a.kind != 'u') throw InputError(where, "routed_experts dtype " + a.descr + " is not an integer type");
  if (a.shape.size() != 3) throw InputError(where, "routed_experts has " + std::to_string(a.shape.size()) + " dims, expected 3 (tokens, layers, top_k)");
  RoutedCapture c{where, a.shape[0], a.shape[1], a.shape[2], {}};
  c.ids.resize(static_cast<std::size_t>(a.numel()));
  for (std::int64_t i = 0; i < a.numel(); ++i) c.ids[static_cast<std::size_t>(i)] = a.int_at(i);
  return c;
}

RoutedCapture from_raw_i32(const std::vector<std::uint8_t>& b, std::int64_t L, std::int64_t K, const std::string& where) {
  const std::uint64_t row = static_cast<std::uint64_t>(L * K) * 4;
  if (b.size() % row != 0)
    throw InputError(where, "flat routed_experts of " + std::to_string(b.size() / 4) + " int32 values is not a multiple of layers x top_k = " +
                                std::to_string(L) + " x " + std::to_string(K) + " (config.json for another model?)");
  RoutedCapture c{where, static_cast<std::int64_t>(b.size() / row), L, K, {}};
  c.ids.resize(b.size() / 4);
  for (std::size_t i = 0; i < c.ids.size(); ++i) {
    const std::uint32_t u = b[4 * i] | (std::uint32_t(b[4 * i + 1]) << 8) | (std::uint32_t(b[4 * i + 2]) << 16) | (std::uint32_t(b[4 * i + 3]) << 24);
    c.ids[i] = static_cast<std::int32_t>(u);
  }
  return c;
}

// Collects the capture fields of one response object.
void collect(const std::string& engine, const boost::json::value& v, const std::string& where, std::int64_t L, std::int64_t K,
             std::vector<RoutedCapture>& out, int* nulls) {
  if (v.is_array()) {  // SGLang /generate with a batch of prompts answers with a list
    std::size_t i = 0;
    for (const auto& x : v.as_array()) collect(engine, x, where + "/" + std::to_string(i++), L, K, out, nulls);
    return;
  }
  if (!v.is_object()) throw InputError(where, "response is not a JSON object");
  const auto& o = v.as_object();
  auto field = [&](const boost::json::value* f, const std::string& w) {
    if (!f) return;
    if (f->is_null()) {
      ++*nulls;
      return;
    }
    if (!f->is_string()) throw InputError(w, "routed_experts is not a base64 string");
    const auto bytes = base64_decode(f->as_string(), w);
    out.push_back(engine == "vllm" ? from_npy(parse_npy(bytes, w), w) : from_raw_i32(bytes, L, K, w));
  };
  const std::size_t before = out.size();
  const int nulls_before = *nulls;
  if (engine == "vllm") {
    if (const auto* ch = o.if_contains("choices"); ch && ch->is_array()) {
      std::size_t i = 0;
      for (const auto& c : ch->as_array()) {
        if (c.is_object()) field(c.as_object().if_contains("routed_experts"), where + "/choices/" + std::to_string(i) + "/routed_experts");
        ++i;
      }
    }
    field(o.if_contains("routed_experts"), where + "/routed_experts");
  } else {
    if (const auto* m = o.if_contains("meta_info"); m && m->is_object()) field(m->as_object().if_contains("routed_experts"), where + "/meta_info/routed_experts");
    if (const auto* s = o.if_contains("sglext"); s && s->is_object()) field(s->as_object().if_contains("routed_experts"), where + "/sglext/routed_experts");
    if (const auto* ch = o.if_contains("choices"); ch && ch->is_array()) {
      std::size_t i = 0;
      for (const auto& c : ch->as_array()) {
        if (c.is_object())
          for (const char* k : {"sgl_ext", "sglext"})
            if (const auto* s = c.as_object().if_contains(k); s && s->is_object())
              field(s->as_object().if_contains("routed_experts"), where + "/choices/" + std::to_string(i) + "/" + k + "/routed_experts");
        ++i;
      }
    }
  }
  if (out.size() == before && *nulls == nulls_before)
    throw InputError(where, engine == "vllm" ? "no routed_experts field (was the server started with --enable-return-routed-experts?)"
                                             : "no meta_info/sglext routed_experts (server flag --enable-return-routed-experts, request return_routed_experts: true)");
}

}  // namespace

std::vector<RoutedCapture> read_routed_captures(const std::string& engine, const std::string& path, std::int64_t L, std::int64_t K,
                                                int* nulls) {
  std::vector<RoutedCapture> out;
  if (path.size() > 4 && path.substr(path.size() - 4) == ".npy") {
    if (engine != "vllm") throw InputError(path, "SGLang captures are base64 int32 in JSON, not .npy");
    out.push_back(from_npy(read_npy(path), path));
    return out;
  }
  const std::string text = read_file(path);
  boost::system::error_code ec;
  boost::json::value whole = boost::json::parse(text, ec);
  if (!ec) {
    collect(engine, whole, path + ":", L, K, out, nulls);
    return out;
  }
  // JSONL: one response per line.
  std::size_t start = 0, line = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string l = text.substr(start, end - start);
    ++line;
    start = end + 1;
    if (l.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code lec;
    boost::json::value v = boost::json::parse(l, lec);
    if (lec) throw InputError(path + ":" + std::to_string(line), "not JSON (nor a JSON document): " + lec.message());
    collect(engine, v, path + ":" + std::to_string(line), L, K, out, nulls);
  }
  if (line == 0) throw InputError(path, "empty file");
  return out;
}

ImportResult import_routed_experts(const RoutedExpertsRequest& req) {
  if (req.engine != "vllm" && req.engine != "sglang") throw InputError("engine " + req.engine, "expected vllm or sglang");
  if (req.inputs.empty()) throw InputError("moesim import " + req.engine + "-routed-experts", "no input files");
  if (req.config.empty()) throw InputError("--config", "missing: the served model's config.json (layers, top_k, experts, shape)");
  if (req.weights != "uniform" && req.weights != "counts")
    throw InputError("--weights " + req.weights, "expected uniform (1/K: the engines capture no routing weights) or counts");
  if (req.tokens_per_call < 0) throw InputError("--tokens-per-call", "must be >= 0");
  HfModelConfig cfg;
  read_hf_config(req.config, req.models_dir, cfg);
  const std::int64_t L = cfg.pick_layer(req.layer);
  const std::int64_t E = cfg.num_experts, K = cfg.top_k, NL = cfg.num_layers;
  ImportResult res;
  res.kind = req.engine + "-routed-experts";
  res.inputs = req.inputs;
  res.inputs.push_back(req.config);
  int nulls = 0;
  std::vector<RoutedCapture> caps;
  for (const auto& in : req.inputs)
    for (auto& c : read_routed_captures(req.engine, in, NL, K, &nulls)) caps.push_back(std::move(c));
  if (caps.empty()) throw InputError(req.inputs.front(), "every routed_experts is null (requests aborted before their first forward pass)");
  if (nulls) res.notes.push_back(std::to_string(nulls) + " null routed_experts skipped (requests aborted before their first forward pass)");
  // Check every capture against the config, then the selected layer's ids.
  bool any_nonzero = false;
  std::int64_t total = 0;
  for (const auto& c : caps) {
    if (c.layers != NL)
      throw InputError(c.where, "capture has " + std::to_string(c.layers) + " layers but " + cfg.path + " has num_hidden_layers " +
                                    std::to_string(NL) + " (both engines capture every hidden layer)");
    if (c.top_k != K) throw InputError(c.where, "capture has top_k " + std::to_string(c.top_k) + " but the config says " + std::to_string(K));
    for (std::int64_t t = 0; t < c.tokens; ++t)
      for (std::int64_t k = 0; k < K; ++k) {
        const std::int64_t id = c.ids[static_cast<std::size_t>((t * NL + L) * K + k)];
        if (id < 0 || id >= E)
          throw InputError(c.where, "token " + std::to_string(t) + " layer " + std::to_string(L) + " slot " + std::to_string(k) + ": expert id " +
                                        std::to_string(id) + " outside [0, " + std::to_string(E) + ")");
        any_nonzero = any_nonzero || id != 0;
      }
    total += c.tokens;
  }
  if (total > 0 && !any_nonzero)
    throw InputError(caps.front().where, "every expert id of layer " + std::to_string(L) + " is 0 in every capture: the known vLLM bug #44116 "
                                         "(fused FlashInfer MoE kernels compute top-k inside the kernel and never reach select_experts; fixed by PR #44214) - "
                                         "recapture with --moe-backend triton or a vLLM that has #44214");
  for (const auto& c : caps)
    for (std::int64_t t = 0; t < c.tokens; ++t) {
      std::set<std::int64_t> seen;
      for (std::int64_t k = 0; k < K; ++k)
        if (!seen.insert(c.ids[static_cast<std::size_t>((t * NL + L) * K + k)]).second)
          throw InputError(c.where, "token " + std::to_string(t) + " layer " + std::to_string(L) + " routed twice to expert " +
                                        std::to_string(c.ids[static_cast<std::size_t>((t * NL + L) * K + k)]));
    }
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
  tr.context.framework = req.framework;  // NAME@REVISION as moesim check knows it; the bare engine name is no revision
  tr.context.device = req.device;
  tr.attrs["created_by"] = std::string("moesim import ") + res.kind + " " + MOESIM_VERSION;
  tr.attrs["routing"] = req.engine + " routed_experts (logical ids, before EPLB), layer " + std::to_string(L);
  const std::string source = req.engine + " routed_experts, " +
                             (req.weights == "uniform" ? "weights uniform 1/K (not captured)" : "counts only (weights not captured)");
  auto emit = [&](std::vector<std::int32_t>&& ids) {
    MoeCall call;
    call.num_tokens = static_cast<std::int64_t>(ids.size()) / K;
    call.layer = L;
    call.attrs["source"] = source;
    call.topk_ids = std::move(ids);
    if (req.weights == "uniform") {
      call.topk_weights.assign(call.topk_ids.size(), 1.0f / static_cast<float>(K));
    } else {
      call.expert_counts = call.tokens_per_expert(E);
      call.topk_ids.clear();
    }
    res.tokens += call.num_tokens;
    tr.calls.push_back(std::move(call));
  };
  std::vector<std::int32_t> pending;
  for (const auto& c : caps) {
    if (req.tokens_per_call == 0) pending.clear();
    for (std::int64_t t = 0; t < c.tokens; ++t) {
      for (std::int64_t k = 0; k < K; ++k) pending.push_back(static_cast<std::int32_t>(c.ids[static_cast<std::size_t>((t * NL + L) * K + k)]));
      if (req.tokens_per_call > 0 && static_cast<std::int64_t>(pending.size()) == req.tokens_per_call * K) emit(std::move(pending)), pending.clear();
    }
    if (req.tokens_per_call == 0 && !pending.empty()) emit(std::move(pending)), pending.clear();
  }
  if (!pending.empty()) emit(std::move(pending));
  if (tr.calls.empty()) throw InputError(req.inputs.front(), "captures hold no tokens");
  std::int64_t dense = 0;
  for (bool m : cfg.moe_layer) dense += m ? 0 : 1;
  if (dense) res.notes.push_back("dropped " + std::to_string(dense) + " dense / non-MoE layer(s) of the capture; kept layer " + std::to_string(L));
  res.notes.push_back("routing weights are not captured by " + req.engine + ": " + source);
  write_atomically(tr, req.output, res.inputs, [](const std::string&) {});
  res.output = req.output;
  res.model = tr.model;
  res.calls = tr.calls.size();
  return res;
}

}  // namespace moesim::traces::import
