#include "traces/trace_codec.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "sim/core/budget.hpp"

namespace moesim::traces {
namespace {

struct Out {
  std::uint8_t* p = nullptr;  // null: counting pass
  std::size_t n = 0;
  const DeferredPlans* plans = nullptr;
  void put(const void* d, std::size_t k) {
    if (p && k) std::memcpy(p + n, d, k);
    n += k;
  }
  void u64(std::uint64_t v) { put(&v, sizeof v); }
  void i64(std::int64_t v) { put(&v, sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    u64(v.size());
    put(v.data(), v.size() * sizeof(T));
  }
  // A data vector: tag 0 + bytes, or tag 1 + the plan that the decoder fills it from.
  template <class T>
  void data(const std::vector<T>& v, const std::string& k) {
    const h5::RawPlan* plan = nullptr;
    if (plans) {
      auto it = plans->find(k);
      if (it != plans->end()) plan = &it->second;
    }
    u64(plan ? 1 : 0);
    if (!plan) return vec(v);
    str(plan->dataset);
    i64(plan->bytes);
    u64(plan->chunks.size());
    for (const auto& c : plan->chunks) i64(c.file_offset), i64(c.stored), i64(c.dest_offset), i64(c.copy), u64(c.fletcher32);
  }
  void tensor(const Tensor& t, const std::string& k) {
    str(t.dtype);
    vec(t.shape);
    data(t.bytes, k);
    str(t.layout);
  }
  void opt_tensor(const std::optional<Tensor>& t, const std::string& k) {
    u64(t ? 1 : 0);
    if (t) tensor(*t, k);
  }
  void opt_q(const std::optional<QTensor>& q, const std::string& k) {
    u64(q ? 1 : 0);
    if (!q) return;
    tensor(q->data, k);
    opt_tensor(q->scale, k + "_scale");
    opt_tensor(q->global_scale, k + "_global_scale");
  }
  void smap(const std::map<std::string, std::string>& m) {
    u64(m.size());
    for (const auto& [k, v] : m) str(k), str(v);
  }
  void weights(const WeightsInfo& w) {
    u64(w.present);
    str(w.dtype);
    vec(w.w13_shape), vec(w.w2_shape);
    u64(w.has_scales);
    str(w.scale_dtype), str(w.scale_layout);
    u64(w.has_global_scales);
    u64(w.has_biases);
  }
};

struct In {
  const std::uint8_t* p;
  std::size_t n, i = 0;
  const PlanFiller* fill = nullptr;
  // Planned datasets are filled from distinct stored chunks of the file, so together they
  // are at most the file's size: checked before each allocation (the buffer is untrusted).
  std::int64_t planned = 0, max_planned = std::numeric_limits<std::int64_t>::max();
  void get(void* d, std::size_t k) {
    if (k > n - i) throw std::runtime_error("isolated reader returned a truncated trace buffer");
    if (k) std::memcpy(d, p + i, k);
    i += k;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    get(&v, sizeof v);
    return v;
  }
  std::int64_t i64() {
    std::int64_t v = 0;
    get(&v, sizeof v);
    return v;
  }
  std::size_t len(std::size_t elem) {
    const std::uint64_t k = u64();
    if (elem && k > (n - i) / elem) throw std::runtime_error("isolated reader returned a malformed trace buffer");
    return static_cast<std::size_t>(k);
  }
  std::string str() {
    std::string s(len(1), '\0');
    get(s.data(), s.size());
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    std::vector<T> v(len(sizeof(T)));
    get(v.data(), v.size() * sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> data() {
    if (!u64()) return vec<T>();
    h5::RawPlan plan;
    plan.dataset = str();  // named in errors: one printable line, whatever the child wrote
    if (plan.dataset.size() > 256) plan.dataset.resize(256);
    for (char& ch : plan.dataset)
      if (ch < 0x20 || ch >= 0x7f) ch = '?';
    plan.bytes = i64();
    const std::size_t nc = len(40);
    plan.chunks.resize(nc);
    for (auto& c : plan.chunks) c.file_offset = i64(), c.stored = i64(), c.dest_offset = i64(), c.copy = i64(), c.fletcher32 = u64() != 0;
    if (plan.bytes < 0 || plan.bytes % static_cast<std::int64_t>(sizeof(T)) || !fill || !*fill)
      throw std::runtime_error("isolated reader returned a malformed data plan");
    // The chunks must tile [0, bytes) (fill_from_plan re-checks them against the file).
    std::int64_t tiled = 0;
    for (const auto& c : plan.chunks)
      if (c.copy < 0 || c.stored < c.copy || __builtin_add_overflow(tiled, c.copy, &tiled))
        throw std::runtime_error("isolated reader returned a malformed data plan");
    if (tiled != plan.bytes || __builtin_add_overflow(planned, plan.bytes, &planned) || planned > max_planned)
      throw std::runtime_error("isolated reader returned a data plan larger than the file");
    require_within_budget(plan.bytes, plan.dataset, "this dataset");
    std::vector<T> v(static_cast<std::size_t>(plan.bytes) / sizeof(T));
    (*fill)(plan, reinterpret_cast<std::uint8_t*>(v.data()));
    return v;
  }
  Tensor tensor() {
    Tensor t;
    t.dtype = str();
    t.shape = vec<std::int64_t>();
    t.bytes = data<std::uint8_t>();
    t.layout = str();
    return t;
  }
  std::optional<Tensor> opt_tensor() {
    if (!u64()) return std::nullopt;
    return tensor();
  }
  std::optional<QTensor> opt_q() {
    if (!u64()) return std::nullopt;
    QTensor q;
    q.data = tensor();
    q.scale = opt_tensor();
    q.global_scale = opt_tensor();
    return q;
  }
  WeightsInfo weights() {
    WeightsInfo w;
    w.present = u64() != 0;
    w.dtype = str();
    w.w13_shape = vec<std::int64_t>(), w.w2_shape = vec<std::int64_t>();
    w.has_scales = u64() != 0;
    w.scale_dtype = str(), w.scale_layout = str();
    w.has_global_scales = u64() != 0;
    w.has_biases = u64() != 0;
    return w;
  }
  std::map<std::string, std::string> smap() {
    std::map<std::string, std::string> m;
    const std::size_t k = len(16);
    for (std::size_t j = 0; j < k; ++j) {
      std::string key = str();
      m[key] = str();
    }
    return m;
  }
};

void enc(Out& o, const Trace& t) {
  o.str(t.path);
  const ModelShape& m = t.model;
  o.str(m.name);
  o.i64(m.num_experts), o.i64(m.top_k), o.i64(m.hidden), o.i64(m.intermediate);
  o.str(m.activation);
  o.u64(m.gated);
  o.i64(m.num_shared_experts);
  o.str(m.quant), o.str(m.weight_layout), o.str(m.scale_layout);
  const RecordingContext& c = t.context;
  o.str(c.device), o.str(c.flashinfer_version), o.str(c.framework), o.str(c.backend), o.str(c.tactic);
  o.i64(c.tp), o.i64(c.ep), o.i64(c.dp), o.i64(c.max_num_batched_tokens);
  o.smap(c.env);
  o.u64(t.calls.size());
  for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
    const MoeCall& call = t.calls[ci];
    const std::string c = "c" + std::to_string(ci) + "/";
    o.i64(call.num_tokens), o.i64(call.layer);
    o.data(call.topk_ids, c + "topk_ids"), o.data(call.topk_weights, c + "topk_weights");
    o.u64(call.ids_masked);
    o.data(call.expert_counts, c + "expert_counts");
    o.opt_tensor(call.router_logits, c + "router_logits");
    o.opt_q(call.hidden_states, c + "hidden_states");
    o.opt_q(call.golden_output, c + "golden/output");
    o.u64(call.golden_recorded);
    o.u64(call.intermediates.size());
    for (const auto& [k, v] : call.intermediates) o.str(k), o.tensor(v, c + "golden/" + k);
    o.smap(call.attrs);
  }
  o.weights(t.weights);
  o.u64(t.layers.size());
  for (const auto& l : t.layers) o.i64(l.index), o.weights(l.weights);
  o.smap(t.attrs);
}

}  // namespace

std::size_t encoded_size(const Trace& t, const DeferredPlans* plans) {
  Out o;
  o.plans = plans;
  enc(o, t);
  return o.n;
}

void encode(const Trace& t, std::uint8_t* out, const DeferredPlans* plans) {
  Out o;
  o.p = out;
  o.plans = plans;
  enc(o, t);
}

Trace decode(const std::uint8_t* p, std::size_t n, const PlanFiller& fill, std::int64_t max_planned_bytes) {
  In in{p, n};
  in.fill = &fill;
  in.max_planned = max_planned_bytes;
  Trace t;
  t.path = in.str();
  ModelShape& m = t.model;
  m.name = in.str();
  m.num_experts = in.i64(), m.top_k = in.i64(), m.hidden = in.i64(), m.intermediate = in.i64();
  m.activation = in.str();
  m.gated = in.u64() != 0;
  m.num_shared_experts = in.i64();
  m.quant = in.str(), m.weight_layout = in.str(), m.scale_layout = in.str();
  RecordingContext& c = t.context;
  c.device = in.str(), c.flashinfer_version = in.str(), c.framework = in.str(), c.backend = in.str(), c.tactic = in.str();
  c.tp = in.i64(), c.ep = in.i64(), c.dp = in.i64(), c.max_num_batched_tokens = in.i64();
  c.env = in.smap();
  const std::size_t ncalls = in.len(8);
  for (std::size_t ci = 0; ci < ncalls; ++ci) {  // grown as decoded: a declared count costs nothing
    MoeCall& call = t.calls.emplace_back();
    call.num_tokens = in.i64(), call.layer = in.i64();
    call.topk_ids = in.data<std::int32_t>();
    call.topk_weights = in.data<float>();
    call.ids_masked = in.u64() != 0;
    call.expert_counts = in.data<std::int64_t>();
    call.router_logits = in.opt_tensor();
    call.hidden_states = in.opt_q();
    call.golden_output = in.opt_q();
    call.golden_recorded = in.u64() != 0;
    const std::size_t ni = in.len(16);
    for (std::size_t j = 0; j < ni; ++j) {
      std::string k = in.str();
      call.intermediates[k] = in.tensor();
    }
    call.attrs = in.smap();
  }
  t.weights = in.weights();
  const std::size_t nl = in.len(16);
  t.layers.resize(nl);
  for (LayerInfo& l : t.layers) l.index = in.i64(), l.weights = in.weights();
  t.attrs = in.smap();
  if (in.i != n) throw std::runtime_error("isolated reader returned a trace buffer with trailing bytes");
  return t;
}

}  // namespace moesim::traces
