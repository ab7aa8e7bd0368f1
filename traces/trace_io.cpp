#include "traces/trace_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <set>

#include "sim/core/atomic_file.hpp"
#include "sim/core/budget.hpp"
#include "sim/core/checked.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"
#include "traces/context_rules.hpp"
#include "traces/dtypes.hpp"
#include "traces/h5.hpp"
#include "traces/raw_read.hpp"
#include "traces/trace_codec.hpp"

namespace moesim::traces {

// ---------------------------------------------------------------- Tensor / MoeCall helpers

std::int64_t Tensor::numel() const { return checked_product(shape, "tensor " + dtype); }

std::size_t Tensor::element_size() const {
  return is_known_dtype(dtype) ? h5::scalar_size(dtype_info(dtype, "").storage) : 1;
}

std::vector<std::int64_t> MoeCall::tokens_per_expert(std::int64_t num_experts) const {
  if (!has_routing()) return expert_counts;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_experts), 0);
  for (auto id : topk_ids)
    if (id >= 0 && id < num_experts) ++counts[static_cast<std::size_t>(id)];
  return counts;
}

std::string layer_group(std::int64_t layer) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "/layers/%04lld", static_cast<long long>(layer));
  return buf;
}

std::string weights_group(std::int64_t layer) { return layer < 0 ? std::string("/weights") : layer_group(layer) + "/weights"; }

namespace {

std::string call_group(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/calls/%04zu", i);
  return buf;
}

// A name from an untrusted source, safe in a one-line error.
std::string printable(const std::string& s) {
  std::string o;
  for (char c : s.substr(0, 64)) o += (c >= 0x20 && c < 0x7f) ? c : '?';
  return o + (s.size() > 64 ? "..." : "");
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string o = "[";
  for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

// ---------------------------------------------------------------- reading

// `rows`: when >= 0, the dataset must be [rows, hidden / elems_per_storage] (checked before
// any data is read, so a declared size never reaches an allocation unchecked).
// In the isolated child (`def` set), simple datasets are planned, not read: the parent fills
// them with pread (traces/raw_read.hpp) and validates them.
template <class T>
void read_data(const h5::File& f, const std::string& ds, h5::Scalar want, std::vector<T>& out, DeferredPlans* def,
               const std::string& key) {
  if (def) {
    if (auto plan = f.plan_raw(ds, want)) {
      (*def)[key] = std::move(*plan);
      return;
    }
  }
  out = f.read<T>(ds, want);
}

Tensor read_tensor(const h5::File& f, const std::string& ds, std::int64_t rows = -1, std::int64_t hidden = 0,
                   const std::string& expected = "", DeferredPlans* def = nullptr, const std::string& key = "") {
  Tensor t;
  h5::Scalar stored = f.scalar(ds);
  t.dtype = f.attr_string_opt(ds, "dtype").value_or(default_dtype(stored));
  const DtypeInfo& info = dtype_info(t.dtype, f.path() + ":" + ds);
  if (info.storage != stored)
    f.fail(ds, "dtype attribute '" + t.dtype + "' needs " + h5::scalar_name(info.storage) + " storage, found " +
                   h5::scalar_name(stored));
  t.shape = f.shape(ds);
  if (rows >= 0) {
    const std::int64_t per = info.elems_per_storage;
    const std::vector<std::int64_t> want{rows, hidden / per};
    if (t.shape != want)
      f.fail(ds, "wrong shape " + shape_str(t.shape) + ", expected " + expected + (per > 1 ? "/2" : "") + "] = " + shape_str(want));
  }
  read_data(f, ds, stored, t.bytes, def, key);
  t.layout = f.attr_string_opt(ds, "layout").value_or("linear");
  return t;
}

std::optional<QTensor> read_qtensor(const h5::File& f, const std::string& ds, std::int64_t rows, std::int64_t hidden,
                                    DeferredPlans* def, const std::string& key) {
  if (!f.exists(ds)) return std::nullopt;
  QTensor q;
  q.data = read_tensor(f, ds, rows, hidden, "[num_tokens, hidden", def, key);
  if (f.exists(ds + "_scale")) q.scale = read_tensor(f, ds + "_scale", -1, 0, "", def, key + "_scale");
  if (f.exists(ds + "_global_scale")) q.global_scale = read_tensor(f, ds + "_global_scale", -1, 0, "", def, key + "_global_scale");
  return q;
}

// A fixed-layout dataset: the stored type and the shape must be exactly these.
// `expected` names the shape in the spec's terms, e.g. "[num_tokens, top_k]".
void require(const h5::File& f, const std::string& ds, h5::Scalar want, const std::vector<std::int64_t>& shape,
             const std::string& expected) {
  if (f.scalar(ds) != want)
    f.fail(ds, std::string("wrong dtype: expected ") + h5::scalar_name(want) + ", found " + h5::scalar_name(f.scalar(ds)));
  if (f.shape(ds) != shape) f.fail(ds, "wrong shape " + shape_str(f.shape(ds)) + ", expected " + expected + " = " + shape_str(shape));
}

void read_model(const h5::File& f, ModelShape& m) {
  const std::string g = "/model";
  if (!f.is_group(g)) f.fail(g, "missing group (every trace needs the model shape)");
  m.name = f.attr_string_opt(g, "name").value_or("");
  m.num_experts = f.attr_int(g, "num_experts");
  m.top_k = f.attr_int(g, "top_k");
  m.hidden = f.attr_int(g, "hidden");
  m.intermediate = f.attr_int(g, "intermediate");
  m.activation = f.attr_string_opt(g, "activation").value_or("silu");
  m.gated = f.attr_int_opt(g, "gated").value_or(1) != 0;
  m.num_shared_experts = f.attr_int_opt(g, "num_shared_experts").value_or(0);
  m.quant = f.attr_string_opt(g, "quant").value_or("bf16");
  m.weight_layout = f.attr_string_opt(g, "weight_layout").value_or("linear");
  m.scale_layout = f.attr_string_opt(g, "scale_layout").value_or("linear");
}

void read_context(const h5::File& f, RecordingContext& c) {
  const std::string g = "/context";
  if (!f.is_group(g)) return;  // context is optional
  c.device = f.attr_string_opt(g, "device").value_or("");
  c.flashinfer_version = f.attr_string_opt(g, "flashinfer_version").value_or("");
  c.framework = f.attr_string_opt(g, "framework").value_or("");
  c.backend = f.attr_string_opt(g, "backend").value_or("");
  c.tactic = f.attr_string_opt(g, "tactic").value_or("");
  c.tp = f.attr_int_opt(g, "tp").value_or(1);
  c.ep = f.attr_int_opt(g, "ep").value_or(1);
  c.dp = f.attr_int_opt(g, "dp").value_or(1);
  c.max_num_batched_tokens = f.attr_int_opt(g, "max_num_batched_tokens").value_or(0);
  if (f.is_group(g + "/env")) {
    // env vars are attributes of /context/env
    for (const auto& name : f.attr_names(g + "/env")) c.env[name] = f.attr_string(g + "/env", name);
  }
}

void read_call(const h5::File& f, const std::string& g, const ModelShape& m, bool load_acts, MoeCall& c, DeferredPlans* def,
               std::size_t ci) {
  const std::string key = "c" + std::to_string(ci) + "/";
  c.num_tokens = f.attr_int(g, "num_tokens");
  if (c.num_tokens < 0) f.fail(g + "@num_tokens", "negative token count " + std::to_string(c.num_tokens));
  c.layer = f.attr_int_opt(g, "layer").value_or(-1);
  c.ids_masked = f.attr_int_opt(g, "ids_masked").value_or(0) != 0;
  const std::vector<std::int64_t> tk{c.num_tokens, m.top_k};
  if (f.exists(g + "/topk_ids")) {
    const std::string ds = g + "/topk_ids";
    require(f, ds, h5::Scalar::I32, tk, "[num_tokens, top_k]");
    read_data(f, ds, h5::Scalar::I32, c.topk_ids, def, key + "topk_ids");
    const std::string ws = g + "/topk_weights";
    if (!f.exists(ws)) f.fail(ws, "missing (topk_ids present, so topk_weights is required)");
    require(f, ws, h5::Scalar::F32, tk, "[num_tokens, top_k]");
    read_data(f, ws, h5::Scalar::F32, c.topk_weights, def, key + "topk_weights");
  } else if (f.exists(g + "/topk_weights")) {
    f.fail(g + "/topk_ids", "missing (topk_weights present without topk_ids)");
  }
  if (f.exists(g + "/expert_counts")) {
    const std::string ds = g + "/expert_counts";
    require(f, ds, h5::Scalar::I64, {m.num_experts}, "[num_experts]");
    read_data(f, ds, h5::Scalar::I64, c.expert_counts, def, key + "expert_counts");
  }
  if (f.exists(g + "/router_logits")) {
    const std::string ds = g + "/router_logits";
    if (f.scalar(ds) != h5::Scalar::F32 || f.attr_string_opt(ds, "dtype").value_or("f32") != "f32")
      f.fail(ds, "expected f32 router logits");
    c.router_logits = read_tensor(f, ds, c.num_tokens, m.num_experts, "[num_tokens, num_experts", def, key + "router_logits");
  }
  c.golden_recorded = f.exists(g + "/golden/output");
  if (load_acts) {
    c.hidden_states = read_qtensor(f, g + "/hidden_states", c.num_tokens, m.hidden, def, key + "hidden_states");
    c.golden_output = read_qtensor(f, g + "/golden/output", c.num_tokens, m.hidden, def, key + "golden/output");
    if (f.is_group(g + "/golden")) {
      for (const auto& name : f.children(g + "/golden")) {
        if (name == "output" || name.ends_with("_scale") || name.ends_with("_global_scale")) continue;
        if (f.is_dataset(g + "/golden/" + name))
          c.intermediates[name] = read_tensor(f, g + "/golden/" + name, -1, 0, "", def, key + "golden/" + name);
      }
    }
  }
  for (const char* key : {"kernel", "capture", "source"})
    if (auto v = f.attr_string_opt(g, key)) c.attrs[key] = *v;
}

void read_weights_info(const h5::File& f, const ModelShape& m, WeightsInfo& w, const std::string& base) {
  const std::string w13 = base + "/w13", w2n = base + "/w2";
  if (!f.exists(w13) && !f.exists(w2n)) {
    for (const std::string& bn : {w13 + "_bias", w2n + "_bias"})
      if (f.exists(bn)) f.fail(bn, "expert biases without weights (w13, w2)");
    return;
  }
  for (const std::string& name : {w13, w2n})
    if (!f.exists(name)) f.fail(name, "missing (weights must provide both w13 and w2)");
  w.present = true;
  h5::Scalar s = f.scalar(w13);
  w.dtype = f.attr_string_opt(w13, "dtype").value_or(default_dtype(s));
  const DtypeInfo& info = dtype_info(w.dtype, f.path() + ":" + w13);
  if (info.storage != s) f.fail(w13, "dtype attribute '" + w.dtype + "' does not match stored " + h5::scalar_name(s));
  std::string d2 = f.attr_string_opt(w2n, "dtype").value_or(default_dtype(f.scalar(w2n)));
  if (d2 != w.dtype) f.fail(w2n, "dtype '" + d2 + "' differs from " + w13 + " dtype '" + w.dtype + "'");
  w.w13_shape = f.shape(w13);
  w.w2_shape = f.shape(w2n);
  const std::int64_t per = info.elems_per_storage;
  const std::int64_t n1 = m.gated ? 2 * m.intermediate : m.intermediate;
  const std::vector<std::int64_t> e13{m.num_experts, n1, m.hidden / per}, e2{m.num_experts, m.hidden, m.intermediate / per};
  if (w.w13_shape != e13)
    f.fail(w13, "wrong shape " + shape_str(w.w13_shape) + ", expected [E, " + std::string(m.gated ? "2I" : "I") +
                    ", H" + (per > 1 ? "/2" : "") + "] = " + shape_str(e13));
  if (w.w2_shape != e2)
    f.fail(w2n, "wrong shape " + shape_str(w.w2_shape) + ", expected [E, H, I" + (per > 1 ? "/2" : "") + "] = " + shape_str(e2));
  w.has_scales = f.exists(w13 + "_scale");
  if (w.has_scales) {
    if (!f.exists(w2n + "_scale")) f.fail(w2n + "_scale", "missing (w13_scale present)");
    w.scale_dtype = f.attr_string_opt(w13 + "_scale", "dtype").value_or(default_dtype(f.scalar(w13 + "_scale")));
    w.scale_layout = f.attr_string_opt(w13 + "_scale", "layout").value_or("linear");
    for (const std::string& sc : {w13 + "_scale", w2n + "_scale"})
      if (f.shape(sc).empty() || f.shape(sc)[0] != m.num_experts)
        f.fail(sc, "wrong shape " + shape_str(f.shape(sc)) + ": dimension 0 must be num_experts = " + std::to_string(m.num_experts));
  }
  w.has_global_scales = f.exists(w13 + "_global_scale");
  // Expert biases: both or neither, f32 [E, N1] / [E, H], shapes checked here (metadata only)
  // before any row is read; the sizes are products of the range-checked /model attributes.
  const bool b13 = f.exists(w13 + "_bias"), b2 = f.exists(w2n + "_bias");
  if (b13 != b2) f.fail(b13 ? w2n + "_bias" : w13 + "_bias", std::string("missing (") + (b13 ? "w13_bias" : "w2_bias") + " present: biases come in pairs)");
  w.has_biases = b13;
  if (w.has_biases) {
    const std::pair<std::string, std::vector<std::int64_t>> want[] = {{w13 + "_bias", {m.num_experts, n1}}, {w2n + "_bias", {m.num_experts, m.hidden}}};
    for (const auto& [bn, shape] : want) {
      if (!f.is_dataset(bn)) f.fail(bn, "not a dataset");
      const h5::Scalar bs = f.scalar(bn);
      const std::string bd = f.attr_string_opt(bn, "dtype").value_or(default_dtype(bs));
      if (bd != "f32" || bs != h5::Scalar::F32)
        f.fail(bn, "expert biases must be f32, got dtype '" + bd + "' stored as " + h5::scalar_name(bs));
      if (f.shape(bn) != shape)
        f.fail(bn, "wrong shape " + shape_str(f.shape(bn)) + ", expected " + (bn == w13 + "_bias" ? std::string("[E, ") + (m.gated ? "2I" : "I") + "]" : std::string("[E, H]")) +
                       " = " + shape_str(shape));
    }
  }
}

bool same_weights(const WeightsInfo& a, const WeightsInfo& b) {
  return a.present == b.present && a.dtype == b.dtype && a.w13_shape == b.w13_shape && a.w2_shape == b.w2_shape &&
         a.has_scales == b.has_scales && a.scale_dtype == b.scale_dtype && a.scale_layout == b.scale_layout &&
         a.has_global_scales == b.has_global_scales && a.has_biases == b.has_biases;
}

// /layers/LLLL of a multi-layer trace: canonical decimal names, at most kMaxLayers, each
// layer's weights read like /weights and required to agree with the first layer's.
void read_layers(const h5::File& f, Trace& t) {
  if (!f.exists("/layers")) return;
  if (!f.is_group("/layers")) f.fail("/layers", "not a group (a multi-layer trace holds /layers/LLLL groups)");
  if (f.exists("/weights"))
    f.fail("/layers", "a trace holds either /weights (one layer) or /layers/LLLL/weights (several layers), not both");
  const auto names = f.children("/layers");
  if (names.empty()) f.fail("/layers", "empty group: a multi-layer trace needs at least one /layers/LLLL");
  if (static_cast<std::int64_t>(names.size()) > kMaxLayers)
    f.fail("/layers", std::to_string(names.size()) + " layers (limit " + std::to_string(kMaxLayers) + ")");
  for (const auto& name : names) {
    std::int64_t idx = -1;
    if (!name.empty() && name.size() <= 5 && name.find_first_not_of("0123456789") == std::string::npos) idx = std::stoll(name);
    if (idx < 0 || layer_group(idx) != "/layers/" + name)
      f.fail("/layers/" + name, "group name must be a layer index written with at least 4 decimal digits (0000..99999, e.g. 0003)");
    if (!f.is_group(layer_group(idx))) f.fail(layer_group(idx), "not a group");
    LayerInfo li;
    li.index = idx;
    read_weights_info(f, t.model, li.weights, weights_group(idx));
    if (!t.layers.empty() && !same_weights(li.weights, t.layers.front().weights)) {
      const std::string first = weights_group(t.layers.front().index);
      if (li.weights.present != t.layers.front().weights.present)
        f.fail(li.weights.present ? weights_group(idx) : first,
               "weights present in some layers only (every layer of a multi-layer trace has weights, or none)");
      f.fail(weights_group(idx) + "/w13", "dtype, shapes, scales or biases differ from " + first +
                                              " (one model: every layer's weights have the same format)");
    }
    t.layers.push_back(std::move(li));
  }
  // children() sorts by name, which is not numeric order once an index has 5 digits.
  std::sort(t.layers.begin(), t.layers.end(), [](const LayerInfo& a, const LayerInfo& b) { return a.index < b.index; });
  t.weights = t.layers.front().weights;
}

// Reads every weight row (and scale) once, discarding it: run inside the isolated reader, so
// the chunk index, filters and data of every weight dataset have been through libhdf5 under
// the child's limits before WeightReader reads them in-process.
void verify_weights(const h5::File& f, const Trace& t, const std::string& group) {
  for (const std::string& base : {group + "/w13", group + "/w2"}) {
    for (const std::string& ds : {base, base + "_scale", base + "_bias"}) {
      if (!f.exists(ds)) continue;
      const h5::Scalar s = f.scalar(ds);
      const auto shape = f.shape(ds);
      if (shape.empty() || shape[0] != t.model.num_experts)
        f.fail(ds, "dimension 0 must be num_experts = " + std::to_string(t.model.num_experts));
      for (std::int64_t e = 0; e < shape[0]; ++e) f.read_rows(ds, s, e, 1);
    }
    const std::string gs = base + "_global_scale";
    if (f.exists(gs)) {
      const auto g = f.read<float>(gs, h5::Scalar::F32);
      if (static_cast<std::int64_t>(g.size()) != t.model.num_experts)
        f.fail(gs, "expected [num_experts] = [" + std::to_string(t.model.num_experts) + "] per-expert global scales");
    }
  }
}

void verify_weights(const h5::File& f, const Trace& t, const ReadOptions& opt) {
  if (!t.multi_layer()) return verify_weights(f, t, "/weights");
  for (const auto& l : t.layers)
    if (!opt.verify_layers || opt.verify_layers->count(l.index)) verify_weights(f, t, weights_group(l.index));
}

// The ranges of the shape attributes (the reader checks them before sizing any dataset).
std::vector<std::string> model_problems(const ModelShape& m) {
  std::vector<std::string> p;
  auto range = [&](const char* name, std::int64_t v, std::int64_t lo, std::int64_t hi, const std::string& hi_text) {
    if (v < lo || v > hi)
      p.push_back(std::string("/model@") + name + ": must be in [" + std::to_string(lo) + ", " + hi_text + "], got " + std::to_string(v));
  };
  range("num_experts", m.num_experts, 1, 1 << 20, "2^20");
  if (p.empty()) range("top_k", m.top_k, 1, m.num_experts, "num_experts=" + std::to_string(m.num_experts));
  range("hidden", m.hidden, 1, 1 << 24, "2^24");
  range("intermediate", m.intermediate, 1, 1 << 24, "2^24");
  range("num_shared_experts", m.num_shared_experts, 0, 1024, "1024");
  return p;
}

void throw_first_problem(const std::string& path, const std::vector<std::string>& problems) {
  if (!problems.empty())
    throw InputError(path + ":" + problems.front().substr(0, problems.front().find(": ")),
                     problems.front().substr(problems.front().find(": ") + 2));
}

// `def` set: the isolated child's mode -- simple datasets are planned, not read, and content
// validation is left to the parent (which fills and validates them).
Trace read_trace_impl(const std::string& path, const ReadOptions& opt, DeferredPlans* def) {
  h5::File f = h5::File::open_read(path);
  Trace t;
  t.path = path;
  auto tag = f.attr_string_opt("/", "format");
  if (!tag || *tag != kFormatTag)
    f.fail("/@format", tag ? "not a moesim trace (format = '" + *tag + "', expected '" + kFormatTag + "')"
                           : "missing attribute: not a moesim trace (expected format = 'moesim-trace')");
  std::int64_t ver = f.attr_int("/", "format_version");
  if (ver != kFormatVersion)
    f.fail("/@format_version", "unsupported trace format version " + std::to_string(ver) + " (this moesim reads version " +
                                   std::to_string(kFormatVersion) + ")");
  for (const char* key : {"created_by", "preset", "seed", "routing", "description"})
    if (auto v = f.attr_string_opt("/", key)) t.attrs[key] = *v;
  read_model(f, t.model);
  read_context(f, t.context);
  if (opt.validate) {
    // Shape attributes before any dataset is sized from them.
    throw_first_problem(path, model_problems(t.model));
    validate_context(t, path);
  }
  if (f.is_group("/calls")) {
    const auto names = f.children("/calls");
    for (std::size_t i = 0; i < names.size(); ++i) {
      MoeCall c;
      const bool acts = opt.load_activations && (!opt.activations_for_calls || opt.activations_for_calls->count(i));
      read_call(f, "/calls/" + names[i], t.model, acts, c, def, i);
      t.calls.push_back(std::move(c));
    }
  }
  if (t.calls.empty()) f.fail("/calls", "missing or empty: a trace needs at least one MoE call");
  read_weights_info(f, t.model, t.weights, "/weights");
  read_layers(f, t);
  if (opt.validate && !def) throw_first_problem(path, validate(t));
  if (opt.verify_weights && t.weights.present) verify_weights(f, t, opt);
  return t;
}

}  // namespace

Trace read_trace_in_process(const std::string& path, const ReadOptions& opt) { return read_trace_impl(path, opt, nullptr); }

namespace {
// ReadOptions as the isolated reader's argument string (sim/core/isolate.hpp handlers):
// "avw|L<ids>|C<ids>" -- the three flags, then the layer and call selections ('*' = unset,
// else comma-separated). Every field of ReadOptions except `isolate` must travel here, or
// the worker would read with a default the caller did not ask for.
template <class Set>
std::string encode_set(const std::optional<Set>& s) {
  if (!s) return "*";
  std::string out;
  for (const auto v : *s) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}
template <class T>
std::optional<std::set<T>> decode_set(const std::string& s) {
  if (s == "*") return std::nullopt;
  std::set<T> out;
  std::size_t a = 0;
  while (a < s.size()) {
    std::size_t z = s.find(',', a);
    if (z == std::string::npos) z = s.size();
    out.insert(static_cast<T>(std::stoll(s.substr(a, z - a))));
    a = z + 1;
  }
  return out;
}
std::string encode_options(const ReadOptions& o) {
  static_assert(sizeof(ReadOptions) == 4 * 1 + 4 + 2 * sizeof(std::optional<std::set<std::int64_t>>),
                "ReadOptions changed: encode the new field for the isolated reader");
  return std::string{o.load_activations ? 'a' : '-', o.validate ? 'v' : '-', o.verify_weights ? 'w' : '-'} + "|L" +
         encode_set(o.verify_layers) + "|C" + encode_set(o.activations_for_calls);
}
ReadOptions decode_options(const std::string& s) {
  const auto l = s.find("|L"), c = s.find("|C");
  if (l != 3 || c == std::string::npos || c < l) throw std::logic_error("trace reader: bad option string");
  ReadOptions o;
  o.load_activations = s[0] == 'a';
  o.validate = s[1] == 'v';
  o.verify_weights = s[2] == 'w';
  o.isolate = false;
  o.verify_layers = decode_set<std::int64_t>(s.substr(l + 2, c - l - 2));
  o.activations_for_calls = decode_set<std::size_t>(s.substr(c + 2));
  return o;
}

// The child's half: parse + plan, encoded into the sink.
void parse_and_plan(const std::string& path, const ReadOptions& opt, isolate::Sink& sink) {
  DeferredPlans plans;
  const Trace t = read_trace_impl(path, opt, &plans);
  const std::size_t n = encoded_size(t, &plans);
  encode(t, sink.allocate(n), &plans);
}

void trace_reader(const std::string& path, const std::string& args, isolate::Sink& sink) {
  parse_and_plan(path, decode_options(args), sink);
}
// Run once in the pool's zygote (trusted data only), so every worker starts with the models/
// vocabularies loaded and libhdf5 initialised, its symbols bound and the code and caches a
// read goes through paged in -- otherwise each worker pays all of that again on the read's
// critical path (measured: 2x the in-process read's CPU time).
void warm_reader() {
  preload_vocabularies();
  h5::File f = h5::File::in_memory("moesim-reader-warm-up");
  f.make_group("/model");
  f.make_group("/calls/0000");
  f.set_attr("/", "format", std::string(kFormatTag));
  f.set_attr("/model", "num_experts", std::int64_t{8});
  f.set_attr("/model", "scale", 0.5);
  std::vector<std::int32_t> ids(4096, 3);
  std::vector<float> w(4096, 0.25f);
  f.write("/calls/0000/topk_ids", h5::Scalar::I32, {1024, 4}, ids.data(), {256, 4});
  f.write("/calls/0000/topk_weights", h5::Scalar::F32, {1024, 4}, w.data());
  (void)f.attr_string_opt("/", "format");
  (void)f.attr_int("/model", "num_experts");
  (void)f.attr_double("/model", "scale");
  (void)f.attr_names("/model");
  for (const auto& c : f.children("/calls")) {
    const std::string g = "/calls/" + c;
    (void)f.is_group(g);
    for (const char* d : {"/topk_ids", "/topk_weights"}) {
      const std::string ds = g + d;
      (void)f.exists(ds), (void)f.shape(ds), (void)f.scalar(ds);
      (void)f.plan_raw(ds, f.scalar(ds));
      (void)f.read_raw(ds, f.scalar(ds));
      (void)f.read_rows(ds, f.scalar(ds), 0, 2);
    }
  }
}
[[maybe_unused]] const bool kRegistered = isolate::register_handler("trace", trace_reader) && isolate::register_warmer(warm_reader);

// The isolated read in two halves. child: parse + plan (runs in the forked child, or inline
// for the fuzz harness); parent: decode, fill planned datasets with pread, validate.
Trace read_trace_split(const std::string& path, const ReadOptions& opt, bool fork_child) {
  // The parent opens the file before the child parses it; it fills the planned datasets from
  // this descriptor with pread (no libhdf5) and validates what it filled.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) close(fd);
    }
  } closer{fd};
  auto child = [&](isolate::Sink& sink) { parse_and_plan(path, opt, sink); };
  std::vector<std::uint8_t> inline_buf;
  struct VecSink : isolate::Sink {
    std::vector<std::uint8_t>* v;
    std::uint8_t* allocate(std::size_t n) override {
      v->resize(n);
      return v->data();
    }
  };
  isolate::Result r;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  if (fork_child) {
    preload_vocabularies();
    r = isolate::run(path, "trace", encode_options(opt));
    data = r.data(), size = r.size();
  } else {
    VecSink sink;
    sink.v = &inline_buf;
    child(sink);
    data = inline_buf.data(), size = inline_buf.size();
  }
  if (fd < 0) throw InputError(path, "cannot open file for reading");
  note_input(path);
  return decode_isolated_result(path, fd, data, size, opt);
}
}  // namespace

Trace decode_isolated_result(const std::string& path, int fd, const std::uint8_t* data, std::size_t size, const ReadOptions& opt) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw InputError(path, "cannot stat file");
  Trace t;
  try {
    t = decode(data, size, [&](const h5::RawPlan& plan, std::uint8_t* dest) {
      fill_from_plan(fd, static_cast<std::int64_t>(st.st_size), path, plan, dest);
    }, static_cast<std::int64_t>(st.st_size));
  } catch (const InputError& e) {
    if (e.where().rfind(path, 0) == 0) throw;
    throw InputError(path + (e.where().empty() ? "" : ":" + e.where()), e.problem());
  } catch (const std::bad_alloc&) {
    throw InputError(path, "the isolated reader returned a result too large to decode (corrupt or hostile file)");
  } catch (const std::exception& e) {  // the child's result is untrusted: a malformed buffer is bad input
    throw InputError(path, std::string(e.what()) + " (corrupt or hostile file)");
  }
  t.path = path;
  if (opt.validate) {
    // Everything the child checked is checked again here on the decoded values: structure
    // (validate_structure), context (the flag rules), then content (validate).
    throw_first_problem(path, validate_structure(t));
    validate_context(t, path);
    throw_first_problem(path, validate(t));
  }
  return t;
}

Trace read_trace(const std::string& path, const ReadOptions& opt) {
  if (!opt.isolate || isolate::in_child()) return read_trace_in_process(path, opt);
  return read_trace_split(path, opt, true);
}

std::vector<std::uint8_t> encode_isolated_result(const std::string& path, const ReadOptions& opt) {
  DeferredPlans plans;
  const Trace t = read_trace_impl(path, opt, &plans);
  std::vector<std::uint8_t> buf(encoded_size(t, &plans));
  encode(t, buf.data(), &plans);
  return buf;
}

Trace read_trace_split_in_process(const std::string& path, const ReadOptions& opt) { return read_trace_split(path, opt, false); }

// ---------------------------------------------------------------- validation

std::vector<std::string> validate(const Trace& t) {
  std::vector<std::string> p;
  const ModelShape& m = t.model;
  if (m.num_experts <= 0) p.push_back("/model@num_experts: must be positive, got " + std::to_string(m.num_experts));
  if (m.top_k <= 0 || m.top_k > m.num_experts)
    p.push_back("/model@top_k: must be in [1, num_experts=" + std::to_string(m.num_experts) + "], got " + std::to_string(m.top_k));
  if (m.hidden <= 0) p.push_back("/model@hidden: must be positive, got " + std::to_string(m.hidden));
  if (m.intermediate <= 0) p.push_back("/model@intermediate: must be positive, got " + std::to_string(m.intermediate));
  if (!p.empty()) return p;
  if (t.multi_layer()) {
    std::string list;
    std::set<std::int64_t> known_layers;
    for (const auto& l : t.layers) {
      if (known_layers.size() < 16) list += (list.empty() ? "" : ", ") + std::to_string(l.index);
      known_layers.insert(l.index);
    }
    if (known_layers.size() > 16) list += ", ...";
    for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
      const std::int64_t L = t.calls[ci].layer;
      const bool known = known_layers.count(L) != 0;
      if (!known) {
        p.push_back(call_group(ci) + "@layer: " + (L < 0 ? std::string("missing") : "layer " + std::to_string(L)) +
                    " (a multi-layer trace's calls each name one of its /layers: " + list + ")");
        return p;
      }
    }
  }
  for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
    const MoeCall& c = t.calls[ci];
    const std::string g = call_group(ci);
    std::int64_t tk64 = 0;
    if (c.num_tokens < 0 || __builtin_mul_overflow(c.num_tokens, m.top_k, &tk64)) {
      p.push_back(g + "@num_tokens: num_tokens*top_k overflows (num_tokens = " + std::to_string(c.num_tokens) + ")");
      continue;
    }
    const std::size_t tk = static_cast<std::size_t>(tk64);
    if (!c.has_routing() && c.expert_counts.empty() && c.num_tokens > 0)
      p.push_back(g + ": has neither topk_ids nor expert_counts");
    if (c.has_routing()) {
      if (c.topk_ids.size() != tk || c.topk_weights.size() != tk) {
        p.push_back(g + "/topk_ids: size " + std::to_string(c.topk_ids.size()) + " does not match num_tokens*top_k = " + std::to_string(tk));
        continue;
      }
      for (std::size_t i = 0; i < tk; ++i) {
        const std::int32_t id = c.topk_ids[i];
        if (id >= m.num_experts || id < -1 || (id == -1 && !c.ids_masked)) {
          p.push_back(g + "/topk_ids: expert id " + std::to_string(id) + " at [" + std::to_string(i / m.top_k) + ", " +
                      std::to_string(i % m.top_k) + "] outside [0, " + std::to_string(m.num_experts) + ")" +
                      (id == -1 ? " (-1 is allowed only with ids_masked = 1)" : ""));
          break;
        }
      }
      for (std::size_t i = 0; i < tk; ++i) {
        if (!std::isfinite(c.topk_weights[i])) {
          p.push_back(g + "/topk_weights: non-finite routing weight " + std::to_string(c.topk_weights[i]) + " at [" +
                      std::to_string(i / m.top_k) + ", " + std::to_string(i % m.top_k) + "]");
          break;
        }
      }
      // A token must not pick the same expert twice: O(T*K) with a per-expert stamp.
      std::vector<std::int64_t> stamp(static_cast<std::size_t>(m.num_experts), -1);
      for (std::int64_t tok = 0; tok < c.num_tokens; ++tok) {
        bool dup = false;
        for (std::int64_t k = 0; k < m.top_k; ++k) {
          const std::int32_t id = c.topk_ids[static_cast<std::size_t>(tok * m.top_k + k)];
          if (id < 0 || id >= m.num_experts) continue;
          if (stamp[static_cast<std::size_t>(id)] == tok) {
            p.push_back(g + "/topk_ids: token " + std::to_string(tok) + " routes to expert " + std::to_string(id) + " twice");
            dup = true;
            break;
          }
          stamp[static_cast<std::size_t>(id)] = tok;
        }
        if (dup) break;
      }
    }
    if (!c.expert_counts.empty()) {
      std::int64_t sum = 0;
      bool bad = false;
      for (std::size_t e = 0; e < c.expert_counts.size() && !bad; ++e) {
        if (c.expert_counts[e] < 0) {
          p.push_back(g + "/expert_counts: negative count " + std::to_string(c.expert_counts[e]) + " at expert " + std::to_string(e));
          bad = true;
        } else if (__builtin_add_overflow(sum, c.expert_counts[e], &sum)) {
          p.push_back(g + "/expert_counts: total overflows 64 bits at expert " + std::to_string(e));
          bad = true;
        }
      }
      if (bad) continue;
      if (sum > c.num_tokens * m.top_k)
        p.push_back(g + "/expert_counts: total " + std::to_string(sum) + " exceeds num_tokens*top_k = " + std::to_string(c.num_tokens * m.top_k));
      if (!c.ids_masked && sum != c.num_tokens * m.top_k)
        p.push_back(g + "/expert_counts: total " + std::to_string(sum) + " != num_tokens*top_k = " + std::to_string(c.num_tokens * m.top_k) +
                    " (set ids_masked = 1 if some assignments are dropped)");
      if (c.has_routing() && c.tokens_per_expert(m.num_experts) != c.expert_counts)
        p.push_back(g + "/expert_counts: disagrees with the counts implied by topk_ids");
    }
    auto check_rows = [&](const std::optional<QTensor>& q, const std::string& name) {
      if (!q) return;
      const Tensor& d = q->data;
      const std::int64_t per = dtype_info(d.dtype, g + "/" + name).elems_per_storage;
      const std::vector<std::int64_t> want{c.num_tokens, m.hidden / per};
      if (d.shape != want) p.push_back(g + "/" + name + ": wrong shape " + shape_str(d.shape) + ", expected [num_tokens, hidden" +
                                       (per > 1 ? "/2" : "") + "] = " + shape_str(want));
    };
    check_rows(c.hidden_states, "hidden_states");
    check_rows(c.golden_output, "golden/output");
    if (c.router_logits) {
      const std::vector<std::int64_t> want{c.num_tokens, m.num_experts};
      if (c.router_logits->shape != want || c.router_logits->dtype != "f32")
        p.push_back(g + "/router_logits: expected f32 " + shape_str(want) + ", got " + c.router_logits->dtype + " " + shape_str(c.router_logits->shape));
    }
  }
  return p;
}

std::vector<std::string> validate_structure(const Trace& t) {
  std::vector<std::string> p = model_problems(t.model);
  if (!p.empty()) return p;
  const ModelShape& m = t.model;
  if (t.calls.empty()) p.push_back("/calls: missing or empty: a trace needs at least one MoE call");
  // A tensor's bytes must be exactly its shape times its dtype's storage size.
  auto tensor = [&](const Tensor& x, const std::string& ds) {
    if (!is_known_dtype(x.dtype)) return p.push_back(ds + ": unknown dtype '" + printable(x.dtype) + "'");
    std::int64_t n = 1;
    for (std::int64_t d : x.shape)
      if (d < 0 || __builtin_mul_overflow(n, d, &n)) return p.push_back(ds + ": invalid shape " + shape_str(x.shape));
    std::int64_t bytes = 0;
    const auto es = static_cast<std::int64_t>(h5::scalar_size(dtype_info(x.dtype, ds).storage));
    if (__builtin_mul_overflow(n, es, &bytes) || bytes != static_cast<std::int64_t>(x.bytes.size()))
      p.push_back(ds + ": " + std::to_string(x.bytes.size()) + " bytes do not match shape " + shape_str(x.shape) + " of " + x.dtype);
  };
  auto qtensor = [&](const std::optional<QTensor>& q, const std::string& ds) {
    if (!q) return;
    tensor(q->data, ds);
    if (q->scale) tensor(*q->scale, ds + "_scale");
    if (q->global_scale) tensor(*q->global_scale, ds + "_global_scale");
  };
  for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
    const MoeCall& c = t.calls[ci];
    const std::string g = call_group(ci);
    if (c.num_tokens < 0) p.push_back(g + "@num_tokens: negative token count " + std::to_string(c.num_tokens));
    if (c.topk_ids.empty() && !c.topk_weights.empty()) p.push_back(g + "/topk_ids: missing (topk_weights present without topk_ids)");
    if (!c.expert_counts.empty() && static_cast<std::int64_t>(c.expert_counts.size()) != m.num_experts)
      p.push_back(g + "/expert_counts: wrong shape [" + std::to_string(c.expert_counts.size()) + "], expected [num_experts] = [" +
                  std::to_string(m.num_experts) + "]");
    if (c.router_logits) tensor(*c.router_logits, g + "/router_logits");
    qtensor(c.hidden_states, g + "/hidden_states");
    qtensor(c.golden_output, g + "/golden/output");
    for (const auto& [name, x] : c.intermediates) tensor(x, g + "/golden/" + printable(name));
  }
  const WeightsInfo& w = t.weights;
  if (w.present) {
    if (!is_known_dtype(w.dtype)) {
      p.push_back("/weights/w13: unknown dtype '" + printable(w.dtype) + "'");
    } else {
      const std::int64_t per = dtype_info(w.dtype, "/weights/w13").elems_per_storage;
      const std::vector<std::int64_t> e13{m.num_experts, m.gated ? 2 * m.intermediate : m.intermediate, m.hidden / per},
          e2{m.num_experts, m.hidden, m.intermediate / per};
      if (w.w13_shape != e13) p.push_back("/weights/w13: wrong shape " + shape_str(w.w13_shape) + ", expected " + shape_str(e13));
      if (w.w2_shape != e2) p.push_back("/weights/w2: wrong shape " + shape_str(w.w2_shape) + ", expected " + shape_str(e2));
    }
  } else if (w.has_biases) {
    p.push_back("/weights/w13_bias: expert biases without weights (w13, w2)");
  }
  for (const auto& l : t.layers)
    if (l.weights.has_biases != w.has_biases)
      p.push_back(weights_group(l.index) + "/w13_bias: biases in some layers only (every layer has biases, or none)");
  return p;
}

// ---------------------------------------------------------------- writing

namespace {

void write_tensor(h5::File& f, const std::string& ds, const Tensor& t) {
  const DtypeInfo& info = dtype_info(t.dtype, f.path() + ":" + ds);
  if (static_cast<std::int64_t>(t.bytes.size()) != t.numel() * static_cast<std::int64_t>(h5::scalar_size(info.storage)))
    f.fail(ds, "tensor byte size " + std::to_string(t.bytes.size()) + " does not match shape " + shape_str(t.shape));
  f.write(ds, info.storage, t.shape, t.bytes.data());
  f.set_attr(ds, "dtype", std::string(t.dtype));
  if (t.layout != "linear") f.set_attr(ds, "layout", t.layout);
}

void write_qtensor(h5::File& f, const std::string& ds, const QTensor& q) {
  write_tensor(f, ds, q.data);
  if (q.scale) write_tensor(f, ds + "_scale", *q.scale);
  if (q.global_scale) write_tensor(f, ds + "_global_scale", *q.global_scale);
}

}  // namespace

void write_trace(const Trace& t, const std::string& path) { write_trace(t, path, {}); }

void write_trace(const Trace& t, const std::string& path, const std::function<void(h5::File&)>& extra) {
  h5::File f = h5::File::create(path);
  f.set_attr("/", "format", std::string(kFormatTag));
  f.set_attr("/", "format_version", static_cast<std::int64_t>(kFormatVersion));
  for (const auto& [k, v] : t.attrs) f.set_attr("/", k, v);
  const ModelShape& m = t.model;
  f.make_group("/model");
  f.set_attr("/model", "name", m.name);
  f.set_attr("/model", "num_experts", m.num_experts);
  f.set_attr("/model", "top_k", m.top_k);
  f.set_attr("/model", "hidden", m.hidden);
  f.set_attr("/model", "intermediate", m.intermediate);
  f.set_attr("/model", "activation", m.activation);
  f.set_attr("/model", "gated", static_cast<std::int64_t>(m.gated));
  f.set_attr("/model", "num_shared_experts", m.num_shared_experts);
  f.set_attr("/model", "quant", m.quant);
  f.set_attr("/model", "weight_layout", m.weight_layout);
  f.set_attr("/model", "scale_layout", m.scale_layout);
  const RecordingContext& c = t.context;
  f.make_group("/context");
  f.set_attr("/context", "device", c.device);
  f.set_attr("/context", "flashinfer_version", c.flashinfer_version);
  f.set_attr("/context", "framework", c.framework);
  f.set_attr("/context", "backend", c.backend);
  f.set_attr("/context", "tactic", c.tactic);
  f.set_attr("/context", "tp", c.tp);
  f.set_attr("/context", "ep", c.ep);
  f.set_attr("/context", "dp", c.dp);
  f.set_attr("/context", "max_num_batched_tokens", c.max_num_batched_tokens);
  if (!c.env.empty()) {
    f.make_group("/context/env");
    for (const auto& [k, v] : c.env) f.set_attr("/context/env", k, v);
  }
  f.make_group("/calls");
  for (std::size_t i = 0; i < t.calls.size(); ++i) {
    const MoeCall& call = t.calls[i];
    const std::string g = call_group(i);
    f.make_group(g);
    f.set_attr(g, "num_tokens", call.num_tokens);
    if (call.layer >= 0) f.set_attr(g, "layer", call.layer);
    if (call.ids_masked) f.set_attr(g, "ids_masked", static_cast<std::int64_t>(1));
    for (const auto& [k, v] : call.attrs) f.set_attr(g, k, v);
    const std::vector<std::int64_t> tk{call.num_tokens, m.top_k};
    // Routing is chunked but not compressed: a million-token trace must write and read in
    // well under a second (bench/synth_inspect); counts-only traces are the compact form.
    const std::vector<std::int64_t> chunk{std::min<std::int64_t>(std::max<std::int64_t>(call.num_tokens, 1), 65536), m.top_k};
    if (call.has_routing()) {
      f.write(g + "/topk_ids", h5::Scalar::I32, tk, call.topk_ids.data(), chunk);
      f.write(g + "/topk_weights", h5::Scalar::F32, tk, call.topk_weights.data(), chunk);
    }
    if (!call.expert_counts.empty())
      f.write(g + "/expert_counts", h5::Scalar::I64, {static_cast<std::int64_t>(call.expert_counts.size())}, call.expert_counts.data());
    if (call.router_logits) write_tensor(f, g + "/router_logits", *call.router_logits);
    if (call.hidden_states) write_qtensor(f, g + "/hidden_states", *call.hidden_states);
    if (call.golden_output) write_qtensor(f, g + "/golden/output", *call.golden_output);
    for (const auto& [name, tensor] : call.intermediates) write_tensor(f, g + "/golden/" + name, tensor);
  }
  for (const auto& l : t.layers) f.make_group(layer_group(l.index));
  if (extra) extra(f);
  f.commit();
}

}  // namespace moesim::traces
