#include "traces/import/hf_checkpoint.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "traces/import/hf_config.hpp"
#include "traces/import/safetensors.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces::import {

namespace {

namespace fs = std::filesystem;

std::string subst(std::string s, const std::string& key, std::int64_t v) {
  for (std::size_t p; (p = s.find(key)) != std::string::npos;) s.replace(p, key.size(), std::to_string(v));
  return s;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct Config {
  HfModelConfig m;
  std::string path;
  std::string quant_method, quant_algo, quant_source;  // from quantization_config / hf_quant_config.json
  std::optional<std::vector<std::int64_t>> block_size;
  std::optional<std::int64_t> group_size;
  std::optional<models::Node> quantized_layers;  // MIXED_PRECISION map
  models::Document hf_quant;
};

void load_config(const HfCheckpointRequest& req, Config& c) {
  const fs::path dir = fs::is_directory(req.checkpoint) ? fs::path(req.checkpoint) : fs::path(req.checkpoint).parent_path();
  c.path = req.config.empty() ? (dir / "config.json").string() : req.config;
  if (!fs::exists(c.path)) throw InputError(c.path, "config.json not found (the model shape comes from it; pass --config)");
  read_hf_config(c.path, req.models_dir, c.m);
  const models::Node root = c.m.doc.root();
  if (auto qc = root.find("quantization_config"); qc && qc->is_object()) {
    c.quant_source = c.path + ":/quantization_config";
    c.quant_method = qc->get_string("quant_method", "");
    c.quant_algo = qc->get_string("quant_algo", "");
    if (auto b = qc->find("weight_block_size"); b && !b->is_null()) c.block_size = b->as_int_vector();
    if (auto g = qc->find("group_size"); g && !g->is_null()) c.group_size = g->as_int();
    if (auto q = qc->find("quantized_layers"); q && q->is_object()) c.quantized_layers = *q;
  }
  const fs::path hq = dir / "hf_quant_config.json";
  if (fs::exists(hq)) {
    c.hf_quant = models::Document::load(hq.string());
    const models::Node q = c.hf_quant.root().at("quantization");
    c.quant_source = hq.string() + ":/quantization";
    c.quant_method = "modelopt";
    c.quant_algo = q.get_string("quant_algo", "");
    if (auto g = q.find("group_size"); g && !g->is_null()) c.group_size = g->as_int();
    if (auto m = q.find("quantized_layers"); m && m->is_object()) c.quantized_layers = *m;
  }
}

enum class Fmt { Bf16, Fp8Block, Fp8Tensor, Nvfp4, Mxfp4 };
const char* fmt_name(Fmt f) {
  switch (f) {
    case Fmt::Bf16: return "bf16";
    case Fmt::Fp8Block: return "fp8_block128";
    case Fmt::Fp8Tensor: return "fp8_per_tensor";
    case Fmt::Nvfp4: return "nvfp4";
    case Fmt::Mxfp4: return "mxfp4";
  }
  return "?";
}

// Reads checkpoint tensors with shape/dtype checks that name shard and tensor.
struct Reader {
  const SafetensorsCheckpoint& ck;
  const StTensorInfo& info(const std::string& n) const { return ck.file_of(n).info(n); }
  [[noreturn]] void fail(const std::string& n, const std::string& problem) const { throw InputError(ck.where(n), problem); }
  void expect(const std::string& n, const std::string& dtype, const std::vector<std::int64_t>& shape) const {
    const auto& t = info(n);
    if (t.dtype != dtype) fail(n, "dtype " + t.dtype + ", expected " + dtype);
    if (t.shape != shape) fail(n, "shape " + shape_str(t.shape) + ", expected " + shape_str(shape));
  }
  std::vector<std::uint8_t> all(const std::string& n) const { return ck.file_of(n).read(n); }
  std::vector<std::uint8_t> rows(const std::string& n, std::int64_t r0, std::int64_t nr) const { return ck.file_of(n).read_rows(n, r0, nr); }
  // A scalar f32 ([] or [1]: ModelOpt's on-disk shape is not pinned down, accept both).
  float scalar_f32(const std::string& n) const {
    const auto& t = info(n);
    if (t.dtype != "F32" || t.numel() != 1 || t.shape.size() > 1) fail(n, "expected an F32 scalar ([] or [1]), got " + t.dtype + " " + shape_str(t.shape));
    auto b = all(n);
    float v;
    std::memcpy(&v, b.data(), 4);
    if (!std::isfinite(v)) fail(n, "non-finite scale");
    return v;
  }
};

// Hostile-input checks on raw bytes (the trace reader would also reject them, but here the
// message names the checkpoint tensor).
void check_values(const Reader& r, const std::string& n, const std::string& st_dtype, const std::vector<std::uint8_t>& b) {
  auto bad = [&](std::size_t i, const char* what) { r.fail(n, std::string(what) + " at flat index " + std::to_string(i)); };
  if (st_dtype == "BF16") {
    for (std::size_t i = 0; i + 1 < b.size(); i += 2)
      if ((b[i + 1] & 0x7F) == 0x7F && (b[i] & 0x80)) bad(i / 2, "non-finite weight");
  } else if (st_dtype == "F8_E4M3") {
    for (std::size_t i = 0; i < b.size(); ++i)
      if ((b[i] & 0x7F) == 0x7F) bad(i, "NaN code");
  } else if (st_dtype == "F32") {
    for (std::size_t i = 0; i + 3 < b.size(); i += 4) {
      float v;
      std::memcpy(&v, b.data() + i, 4);
      if (!std::isfinite(v)) bad(i / 4, "non-finite scale");
    }
  } else if (st_dtype == "UE4M3") {  // NVFP4 block scales: F8_E4M3 bytes that must be positive
    for (std::size_t i = 0; i < b.size(); ++i) {
      if ((b[i] & 0x7F) == 0x7F) bad(i, "NaN block scale");
      if (b[i] & 0x80) bad(i, "negative block scale (NVFP4 scales are unsigned e4m3)");
    }
  } else if (st_dtype == "UE8M0") {
    for (std::size_t i = 0; i < b.size(); ++i)
      if (b[i] == 0xFF) bad(i, "NaN e8m0 scale (0xFF)");
  }
}

std::vector<std::uint8_t> cat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// E8M0 bytes -> exact f32 multipliers 2^(b-127) (b = 0 is 2^-127, a subnormal f32).
std::vector<std::uint8_t> e8m0_to_f32(const std::vector<std::uint8_t>& b) {
  std::vector<std::uint8_t> out(b.size() * 4);
  for (std::size_t i = 0; i < b.size(); ++i) {
    const float v = b[i] == 0 ? f32_from_bits(0x00400000u) : f32_from_bits(std::uint32_t(b[i]) << 23);
    std::memcpy(out.data() + 4 * i, &v, 4);
  }
  return out;
}

// gpt-oss interleaves gate_up rows: row 2j is gate j, row 2j+1 is up j (GOSS:weights.py, the
// `x[..., ::2], x[..., 1::2]` split). Returns [gate; up].
std::vector<std::uint8_t> deinterleave_rows(const std::vector<std::uint8_t>& b, std::int64_t rows) {
  const std::size_t rb = b.size() / static_cast<std::size_t>(rows);
  std::vector<std::uint8_t> out(b.size());
  const std::int64_t half = rows / 2;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t src = r < half ? 2 * r : 2 * (r - half) + 1;
    std::memcpy(out.data() + static_cast<std::size_t>(r) * rb, b.data() + static_cast<std::size_t>(src) * rb, rb);
  }
  return out;
}

// True when every element of a BF16 or F32 bias slice is +0 or -0.
bool all_zero_bias(const Reader& r, const std::string& n, const std::vector<std::uint8_t>& b) {
  const std::string& dt = r.info(n).dtype;
  if (dt != "BF16" && dt != "F32") r.fail(n, "bias dtype " + dt + ", expected BF16 or F32");
  const std::size_t w = dt == "BF16" ? 2 : 4;
  for (std::size_t i = 0; i + w <= b.size(); i += w) {
    for (std::size_t j = 0; j + 1 < w; ++j)
      if (b[i + j]) return false;
    if (b[i + w - 1] & 0x7F) return false;
  }
  return true;
}

// One expert's bias row (BF16 widened exactly, or F32) as f32, every value finite.
std::vector<float> bias_f32(const Reader& r, const std::string& n, const std::vector<std::uint8_t>& b) {
  const bool bf = r.info(n).dtype == "BF16";
  const std::size_t w = bf ? 2 : 4;
  std::vector<float> out(b.size() / w);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (bf) {
      std::uint16_t h;
      std::memcpy(&h, b.data() + 2 * i, 2);
      out[i] = f32_from_bits(std::uint32_t(h) << 16);
    } else {
      std::memcpy(&out[i], b.data() + 4 * i, 4);
    }
    if (!std::isfinite(out[i])) r.fail(n, "non-finite bias at flat index " + std::to_string(i) + " of its expert row");
  }
  return out;
}

}  // namespace

ImportResult import_hf_checkpoint(const HfCheckpointRequest& req) {
  if (req.calls_from.empty())
    throw InputError("--calls", "missing: the trace whose calls (routing, activations) the imported weights replay, e.g. from "
                                "`moesim synth ... --activations` or `moesim import vllm-routed-experts`");
  Config cfg;
  load_config(req, cfg);
  const std::string cfg_where = cfg.path;
  if (req.layer.empty() == req.layers.empty())
    throw InputError("--layer", "give --layer N (a single-layer trace) or --layers all|L1,L2,... (a multi-layer trace)");
  const bool multi = !req.layers.empty();
  const std::vector<std::int64_t> layers = multi ? cfg.m.pick_layers(req.layers) : std::vector<std::int64_t>{cfg.m.pick_layer(req.layer)};
  std::int64_t L = layers.front();  // the layer being worked on (the lambdas below follow it)
  SafetensorsCheckpoint ck(req.checkpoint);
  Reader r{ck};
  const HfNaming& s = cfg.m.naming;
  const std::int64_t E = cfg.m.num_experts, H = cfg.m.hidden, I = cfg.m.intermediate, N1 = s.gated ? 2 * I : I;
  std::string prefix_l = subst(s.expert, "{L}", L);
  auto pname = [&](std::int64_t e, const std::string& proj, const std::string& suffix) {
    return subst(prefix_l, "{e}", e) + proj + "." + suffix;
  };
  auto fname = [&](const std::string& tensor) { return prefix_l + tensor; };
  ImportResult res;
  res.kind = "hf-checkpoint";
  res.inputs = {req.checkpoint, cfg.path, req.calls_from};
  Fmt fmt{};
  // Layer L's experts: present, and stored in a modelled format that the config agrees with.
  auto detect = [&]() {
  const std::string probe = s.layout == "per_expert" ? pname(0, s.down, "weight") : fname(s.down + "_blocks");
  if (!ck.has(probe)) {
    std::vector<std::string> moe;
    for (std::int64_t l = 0; l < cfg.m.num_layers; ++l)
      if (ck.has(s.layout == "per_expert" ? subst(subst(s.expert, "{L}", l), "{e}", 0) + s.down + ".weight"
                                          : subst(s.expert, "{L}", l) + s.down + "_blocks"))
        moe.push_back(std::to_string(l));
    throw InputError(ck.root() + ":" + probe, "layer " + std::to_string(L) + " has no routed experts in this checkpoint (dense or " +
                                                  "non-MoE layer?); layers with experts: " + (moe.empty() ? "none" : join(moe)));
  }

  if (s.layout == "per_expert" && !ck.has(pname(E - 1, s.down, "weight")))
    throw InputError(ck.root() + ":" + pname(E - 1, s.down, "weight"), "missing: config.json says " + std::to_string(E) + " routed experts");
  // --- detect the weight format from the tensors; cross-check the config ---
  if (s.layout == "fused_interleaved") {
    if (!ck.has(fname(s.gate_up + "_blocks")))
      r.fail(fname(s.gate_up + "_blocks"), "missing: only the MXFP4 form of gpt-oss experts (_blocks/_scales) is modelled");
    fmt = Fmt::Mxfp4;
  } else {
    const auto& w = r.info(pname(0, s.down, "weight"));
    const bool sinv = ck.has(pname(0, s.down, "weight_scale_inv")), ws = ck.has(pname(0, s.down, "weight_scale")),
               ws2 = ck.has(pname(0, s.down, "weight_scale_2"));
    if (w.dtype == "BF16" && !sinv && !ws) fmt = Fmt::Bf16;
    else if (w.dtype == "F8_E4M3" && sinv) fmt = Fmt::Fp8Block;
    else if (w.dtype == "F8_E4M3" && ws && !ws2) fmt = Fmt::Fp8Tensor;
    else if (w.dtype == "U8" && ws && ws2) fmt = Fmt::Nvfp4;
    else
      r.fail(pname(0, s.down, "weight"), "weight format not modelled: dtype " + w.dtype + (sinv ? " + weight_scale_inv" : "") +
                                              (ws ? " + weight_scale" : "") + (ws2 ? " + weight_scale_2" : "") +
                                              " (modelled: BF16; F8_E4M3 + weight_scale_inv (128x128 blocks); F8_E4M3 + weight_scale (per tensor); "
                                              "U8 + F8_E4M3 weight_scale + weight_scale_2 (ModelOpt NVFP4); gpt-oss MXFP4 _blocks/_scales)");
  }
  const std::string qm = cfg.quant_method, qa = cfg.quant_algo;
  auto cfg_mismatch = [&](const std::string& what) {
    throw InputError(cfg.quant_source, "checkpoint config says " + what + " but layer " + std::to_string(L) + " experts are stored as " + fmt_name(fmt));
  };
  if (qm == "compressed-tensors" && fmt != Fmt::Bf16)
    throw InputError(cfg.quant_source, "compressed-tensors checkpoints are not modelled (their NVFP4 global scale is stored inverted, V0:modelopt.py:1241-1244)");
  if (fmt == Fmt::Fp8Block) {
    if (qm != "fp8") cfg_mismatch("quant_method '" + qm + "'");
    if (cfg.block_size && *cfg.block_size != std::vector<std::int64_t>{128, 128})
      throw InputError(cfg.quant_source + "/weight_block_size", "block size " + shape_str(*cfg.block_size) + " not modelled (modelled: [128, 128])");
    if (I % 128 != 0 || H % 128 != 0)
      throw InputError(cfg_where, "fp8 128x128 blocks need hidden and intermediate multiples of 128 (gate and up blocks would straddle w13), got H=" +
                                      std::to_string(H) + " I=" + std::to_string(I));
  }
  if (fmt == Fmt::Nvfp4 || fmt == Fmt::Fp8Tensor) {
    if (qm != "modelopt") cfg_mismatch("quant_method '" + qm + "' (ModelOpt tensors need quant_method modelopt or hf_quant_config.json)");
    const std::string want = fmt == Fmt::Nvfp4 ? "NVFP4" : "FP8";
    if (qa == "MIXED_PRECISION") {
      if (!cfg.quantized_layers) throw InputError(cfg.quant_source, "MIXED_PRECISION without a quantized_layers map");
      // The checkpoint's own per-module map is authoritative (the recipe header may disagree).
      const std::string mod = subst(prefix_l, "{e}", 0) + s.down;
      if (auto m = cfg.quantized_layers->find(mod)) {
        const std::string algo = m->get_string("quant_algo", "");
        if (algo != want) throw InputError(m->where(), "module quantized as '" + algo + "' but its tensors are " + fmt_name(fmt));
        if (fmt == Fmt::Nvfp4 && m->get_int("group_size", 16) != 16) m->fail("NVFP4 group_size must be 16");
      } else {
        res.notes.push_back("quantized_layers has no entry for " + mod + "; format taken from the tensors (" + fmt_name(fmt) + ")");
      }
    } else if (qa != want) {
      cfg_mismatch("quant_algo '" + qa + "'");
    }
    if (fmt == Fmt::Nvfp4 && cfg.group_size && *cfg.group_size != 16 && qa != "MIXED_PRECISION")
      throw InputError(cfg.quant_source + "/group_size", "NVFP4 group_size " + std::to_string(*cfg.group_size) + " not modelled (16)");
  }
  if (fmt == Fmt::Mxfp4 && qm != "mxfp4") cfg_mismatch("quant_method '" + qm + "'");
  if (fmt == Fmt::Bf16 && !qm.empty())
    res.notes.push_back("config quantization " + qm + (qa.empty() ? "" : "/" + qa) + " does not cover layer " + std::to_string(L) +
                        " experts: they are stored BF16 (excluded module)");
  const std::int64_t kb = fmt == Fmt::Nvfp4 ? 16 : fmt == Fmt::Mxfp4 ? 32 : 1;
  if (H % kb != 0 || I % kb != 0)
    throw InputError(cfg_where, std::string(fmt_name(fmt)) + " needs hidden and intermediate multiples of " + std::to_string(kb));

  };
  std::optional<Fmt> first_fmt;
  for (const std::int64_t l : layers) {
    L = l;
    prefix_l = subst(s.expert, "{L}", L);
    detect();
    if (first_fmt && *first_fmt != fmt)
      throw InputError(ck.root() + ":" + pname(0, s.down, "weight"), "layer " + std::to_string(L) + " experts are " + fmt_name(fmt) + ", layer " +
                                                                        std::to_string(layers.front()) + "'s " + fmt_name(*first_fmt) +
                                                                        ": one trace holds one weight format (import them into separate traces)");
    first_fmt = fmt;
  }
  // --- model shape, calls ---
  Trace t;
  t.model.name = cfg.m.model_type;
  t.model.num_experts = E;
  t.model.top_k = cfg.m.top_k;
  t.model.hidden = H;
  t.model.intermediate = I;
  t.model.activation = s.activation;
  t.model.gated = s.gated;
  t.model.num_shared_experts = cfg.m.num_shared_experts;
  t.model.quant = fmt_name(fmt);
  {
    Trace src = read_trace(req.calls_from);
    const auto& m = src.model;
    if (m.num_experts != E || m.top_k != cfg.m.top_k)
      throw InputError(req.calls_from + ":/model", "routing is for E=" + std::to_string(m.num_experts) + " K=" + std::to_string(m.top_k) +
                                                       ", the checkpoint has E=" + std::to_string(E) + " K=" + std::to_string(cfg.m.top_k));
    for (std::size_t i = 0; i < src.calls.size(); ++i) {
      auto& c = src.calls[i];
      if (c.hidden_states && m.hidden != H)
        throw InputError(req.calls_from + ":/calls/" + std::to_string(i) + "/hidden_states",
                         "activations are H=" + std::to_string(m.hidden) + ", the checkpoint has H=" + std::to_string(H));
      if (!src.multi_layer()) c.layer = L;
      res.tokens += c.num_tokens;
      // Goldens were produced with other weights: keeping them would diff the checkpoint against a stranger.
      if (c.golden_output || !c.intermediates.empty()) {
        c.golden_output.reset();
        c.intermediates.clear();
        if (res.notes.empty() || res.notes.back().rfind("dropped golden", 0) != 0)
          res.notes.push_back("dropped golden outputs of --calls (recorded with other weights than this checkpoint's)");
      }
    }
    if (!multi) {
      t.calls = std::move(src.calls);
    } else if (src.multi_layer()) {
      // A multi-layer --calls trace: its calls of the imported layers, each layer needing one.
      std::set<std::int64_t> want(layers.begin(), layers.end()), have;
      for (auto& c : src.calls)
        if (want.count(c.layer)) have.insert(c.layer), t.calls.push_back(std::move(c));
      for (const auto l : layers)
        if (!have.count(l)) throw InputError(req.calls_from + ":/layers", "no calls of layer " + std::to_string(l) + " (imported with --layers)");
    } else {
      // One routing for every layer: each imported layer replays the --calls trace's calls.
      for (const auto l : layers)
        for (const auto& c : src.calls) {
          t.calls.push_back(c);
          t.calls.back().layer = l;
        }
      res.tokens *= static_cast<std::int64_t>(layers.size());
      res.notes.push_back("the calls of " + req.calls_from + " are replayed in each of the " + std::to_string(layers.size()) + " layers");
    }
    t.context = src.context;
  }
  res.calls = t.calls.size();
  t.attrs["created_by"] = std::string("moesim import hf-checkpoint ") + MOESIM_VERSION;
  std::string layer_list;
  for (const auto l : layers) layer_list += (layer_list.empty() ? "" : ",") + std::to_string(l);
  t.attrs["source"] = "hf-checkpoint:" + req.checkpoint + (multi ? " layers " : " layer ") + layer_list + " (" + cfg.m.model_type + ")";
  t.attrs["routing"] = "calls from " + req.calls_from;
  if (cfg.m.num_shared_experts > 0) res.notes.push_back("not imported: " + std::to_string(cfg.m.num_shared_experts) + " shared expert(s) (trace v1 replays routed experts only)");

  WeightsInfo info;
  info.present = true;
  std::vector<std::int64_t> s13, s2;
  switch (fmt) {
    case Fmt::Bf16: info.dtype = "bf16"; break;
    case Fmt::Fp8Block:
      info.dtype = "fp8_e4m3fn", info.has_scales = true, info.scale_dtype = "f32", info.scale_layout = "block128x128";
      s13 = {N1 / 128, H / 128}, s2 = {H / 128, I / 128};
      break;
    case Fmt::Fp8Tensor:
      info.dtype = "fp8_e4m3fn", info.has_scales = true, info.scale_dtype = "f32", info.scale_layout = "per_tensor";
      break;
    case Fmt::Nvfp4:
      info.dtype = "e2m1x2", info.has_scales = true, info.scale_dtype = "ue4m3", info.scale_layout = "linear";
      s13 = {N1, H / 16}, s2 = {H, I / 16};
      break;
    case Fmt::Mxfp4:
      info.dtype = "e2m1x2", info.has_scales = true, info.scale_dtype = "ue8m0", info.scale_layout = "linear";
      s13 = {N1, H / 32}, s2 = {H, I / 32};
      break;
  }
  info.has_global_scales = fmt == Fmt::Nvfp4;

  // --- expert biases (gpt-oss <gate_up>_bias [E, 2I] interleaved like the rows, <down>_bias
  // [E, H]; BF16 or F32): checked and scanned per layer before anything is written. Imported
  // into w13_bias / w2_bias when any is non-zero (every layer then carries them; a layer with
  // only one of the two gets zeros for the other), unless --drop-biases.
  auto bias_names = [&]() { return std::vector<std::string>{fname(s.gate_up + s.bias), fname(s.down + s.bias)}; };
  if (fmt == Fmt::Mxfp4 && !s.bias.empty()) {
    std::vector<std::string> with, without;
    std::vector<std::string> nonzero;
    for (const std::int64_t l : layers) {
      L = l;
      prefix_l = subst(s.expert, "{L}", L);
      const auto names = bias_names();
      (ck.has(names[0]) || ck.has(names[1]) ? with : without).push_back(std::to_string(l));
      const std::vector<std::int64_t> shapes[2] = {{E, N1}, {E, H}};
      for (int i = 0; i < 2; ++i) {
        const std::string& b = names[static_cast<std::size_t>(i)];
        if (!ck.has(b)) continue;
        const auto& bi = r.info(b);
        if (bi.dtype != "BF16" && bi.dtype != "F32") r.fail(b, "bias dtype " + bi.dtype + ", expected BF16 or F32");
        if (bi.shape != shapes[i]) r.fail(b, "shape " + shape_str(bi.shape) + ", expected " + shape_str(shapes[i]));
        bool zero = true;
        for (std::int64_t e = 0; e < E; ++e) {
          const auto row = r.rows(b, e, 1);
          bias_f32(r, b, row);  // finite
          zero = zero && all_zero_bias(r, b, row);
        }
        if (!zero) nonzero.push_back(ck.where(b));
      }
    }
    if (!with.empty() && !without.empty())
      throw InputError(ck.root() + ":" + subst(s.expert, "{L}", std::stoll(without.front())) + s.gate_up + s.bias,
                       "layer(s) " + join(with) + " have expert biases, layer(s) " + join(without) +
                           " have none: the layers of one trace agree on having biases (import them separately)");
    if (!nonzero.empty() && req.drop_biases) {
      for (const auto& n : nonzero) res.notes.push_back("dropped (--drop-biases): " + n + " is non-zero; replay omits it (differs from the model)");
    } else if (!nonzero.empty()) {
      info.has_biases = true;
    } else if (!with.empty()) {
      res.notes.push_back("expert biases are all zero: not imported (a replay without them is the same)");
    }
  }

  // --- per-expert readers, one expert resident at a time ---
  int scale2_mismatch = 0;
  float input_scale_max[2] = {0, 0};
  // A per-expert projection: weight [rows, cols] (packed cols for fp4) + its scale.
  auto read_proj = [&](std::int64_t e, const std::string& proj, std::int64_t rows, std::int64_t cols, ExpertWeights& out, float* gscale) {
    const std::string w = pname(e, proj, "weight");
    switch (fmt) {
      case Fmt::Bf16:
        r.expect(w, "BF16", {rows, cols});
        out.w.bytes = cat(std::move(out.w.bytes), r.all(w));
        check_values(r, w, "BF16", out.w.bytes);
        break;
      case Fmt::Fp8Block: {
        r.expect(w, "F8_E4M3", {rows, cols});
        auto b = r.all(w);
        check_values(r, w, "F8_E4M3", b);
        out.w.bytes = cat(std::move(out.w.bytes), b);
        const std::string sn = pname(e, proj, "weight_scale_inv");
        const auto& si = r.info(sn);
        const std::vector<std::int64_t> sshape{(rows + 127) / 128, (cols + 127) / 128};
        if (si.shape != sshape) r.fail(sn, "shape " + shape_str(si.shape) + ", expected " + shape_str(sshape));
        std::vector<std::uint8_t> sb;
        if (si.dtype == "F32") sb = r.all(sn), check_values(r, sn, "F32", sb);
        else if (si.dtype == "F8_E8M0") { auto raw = r.all(sn); check_values(r, sn, "UE8M0", raw); sb = e8m0_to_f32(raw); }
        else r.fail(sn, "dtype " + si.dtype + ", expected F32 or F8_E8M0");
        if (!out.scale) out.scale = Tensor{"f32", {}, {}, "block128x128"};
        out.scale->bytes = cat(std::move(out.scale->bytes), sb);
        break;
      }
      case Fmt::Fp8Tensor: {
        r.expect(w, "F8_E4M3", {rows, cols});
        auto b = r.all(w);
        check_values(r, w, "F8_E4M3", b);
        out.w.bytes = cat(std::move(out.w.bytes), b);
        *gscale = r.scalar_f32(pname(e, proj, "weight_scale"));
        break;
      }
      case Fmt::Nvfp4: {
        r.expect(w, "U8", {rows, cols / 2});
        out.w.bytes = cat(std::move(out.w.bytes), r.all(w));
        const std::string sn = pname(e, proj, "weight_scale");
        r.expect(sn, "F8_E4M3", {rows, cols / 16});
        auto sb = r.all(sn);
        check_values(r, sn, "UE4M3", sb);
        if (!out.scale) out.scale = Tensor{"ue4m3", {}, {}, "linear"};
        out.scale->bytes = cat(std::move(out.scale->bytes), sb);
        *gscale = r.scalar_f32(pname(e, proj, "weight_scale_2"));
        break;
      }
      case Fmt::Mxfp4: break;
    }
  };
  std::string gu_blocks, gu_scales, dn_blocks, dn_scales;
  // Per layer, before any expert is read: names of the fused MXFP4 tensors, their shapes, biases.
  auto prepare_layer = [&]() {
  gu_blocks = fname(s.gate_up + "_blocks"), gu_scales = fname(s.gate_up + "_scales");
  dn_blocks = fname(s.down + "_blocks"), dn_scales = fname(s.down + "_scales");
  if (fmt == Fmt::Mxfp4) {
    r.expect(gu_blocks, "U8", {E, N1, H / 32, 16});
    r.expect(gu_scales, "U8", {E, N1, H / 32});
    r.expect(dn_blocks, "U8", {E, H, I / 32, 16});
    r.expect(dn_scales, "U8", {E, H, I / 32});
  }

  };
  std::vector<float> g13(static_cast<std::size_t>(E), 1.f), g2 = g13;
  if (multi)
    for (const auto l : layers) t.layers.push_back(LayerInfo{l, info});
  write_atomically(t, req.output, res.inputs, [&](const std::string& tmp) {
   for (const std::int64_t l : layers) {
    L = l;
    prefix_l = subst(s.expert, "{L}", L);
    prepare_layer();
    WeightWriter ww(tmp, t.model, info, s13, s2, multi ? L : -1);
    for (std::int64_t e = 0; e < E; ++e) {
      ExpertWeights w13, w2;
      w13.w.dtype = w2.w.dtype = info.dtype;
      float ga = 1.f, gb = 1.f, gd = 1.f;
      if (fmt == Fmt::Mxfp4) {
        auto b = r.rows(gu_blocks, e, 1), sc = r.rows(gu_scales, e, 1);
        check_values(r, gu_scales, "UE8M0", sc);
        w13.w.bytes = deinterleave_rows(b, N1);
        w13.scale = Tensor{"ue8m0", s13, deinterleave_rows(sc, N1), "linear"};
        w2.w.bytes = r.rows(dn_blocks, e, 1);
        auto sd = r.rows(dn_scales, e, 1);
        check_values(r, dn_scales, "UE8M0", sd);
        w2.scale = Tensor{"ue8m0", s2, std::move(sd), "linear"};
        if (info.has_biases) {
          const auto names = bias_names();
          // gate_up bias entries interleave gate/up like the rows: de-interleave to [gate; up].
          if (ck.has(names[0])) {
            const auto fb = bias_f32(r, names[0], r.rows(names[0], e, 1));
            std::vector<std::uint8_t> raw(fb.size() * 4);
            std::memcpy(raw.data(), fb.data(), raw.size());
            raw = deinterleave_rows(raw, N1);
            w13.bias = std::vector<float>(fb.size());
            std::memcpy(w13.bias->data(), raw.data(), raw.size());
          } else {
            w13.bias = std::vector<float>(static_cast<std::size_t>(N1), 0.0f);
          }
          w2.bias = ck.has(names[1]) ? bias_f32(r, names[1], r.rows(names[1], e, 1)) : std::vector<float>(static_cast<std::size_t>(H), 0.0f);
        }
      } else {
        if (s.gated) read_proj(e, s.gate, I, H, w13, &ga);
        read_proj(e, s.up, I, H, w13, &gb);
        read_proj(e, s.down, H, I, w2, &gd);
        if (!s.gated) ga = gb;
        if (fmt == Fmt::Fp8Tensor) {
          if (ga != gb)
            r.fail(pname(e, s.up, "weight_scale"), "per-tensor scale " + std::to_string(gb) + " differs from the gate's " + std::to_string(ga) +
                                                       "; one fp8 scale per expert w13 is modelled (requantization not modelled)");
          auto put = [](float v) { std::vector<std::uint8_t> b(4); std::memcpy(b.data(), &v, 4); return b; };
          w13.scale = Tensor{"f32", {}, put(ga), "per_tensor"};
          w2.scale = Tensor{"f32", {}, put(gd), "per_tensor"};
        }
        if (fmt == Fmt::Nvfp4) {
          if (ga != gb) ++scale2_mismatch;
          g13[static_cast<std::size_t>(e)] = ga;  // vLLM uses the gate's weight_scale_2 for both halves
          g2[static_cast<std::size_t>(e)] = gd;
          for (int which = 0; which < 2; ++which)
            for (const auto& proj : which == 0 ? std::vector<std::string>{s.gated ? s.gate : s.up, s.up} : std::vector<std::string>{s.down})
              if (ck.has(pname(e, proj, "input_scale")))
                input_scale_max[which] = std::max(input_scale_max[which], r.scalar_f32(pname(e, proj, "input_scale")));
        }
      }
      ww.write("w13", e, w13);
      ww.write("w2", e, w2);
    }
    if (fmt == Fmt::Nvfp4) {
      ww.write_global_scales("w13", g13);
      ww.write_global_scales("w2", g2);
    }
   }
  });
  if (scale2_mismatch)
    res.notes.push_back(std::to_string(scale2_mismatch) + " expert(s) have up weight_scale_2 != gate weight_scale_2; w13_global_scale is the gate's, "
                        "as vLLM does (V0:modelopt.py:1544-1552: \"Accuracy may be affected\")");
  if (input_scale_max[0] > 0 || input_scale_max[1] > 0)
    res.notes.push_back("not modelled: ModelOpt static input_scale (max w13 " + std::to_string(input_scale_max[0]) + ", w2 " +
                        std::to_string(input_scale_max[1]) + "); NVFP4 replay calibrates activation global scales from the activations");
  res.notes.push_back("not imported: router weight " + subst(s.router, "{L}", layers.front()) + (multi ? " (and the other layers')" : "") +
                      " (routing comes from --calls)");
  res.output = req.output;
  res.model = t.model;
  res.weights = true;
  return res;
}

}  // namespace moesim::traces::import
