#include "replay/generated_case.hpp"

#include <cstring>
#include <vector>

#include "sim/core/counter_gen.hpp"
#include "sim/core/error.hpp"
#include "sim/kernels/triton_fp8_numerics.hpp"

namespace moesim::replay {

namespace {

std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

const boost::json::value& field(const boost::json::object& o, const char* k, const std::string& where) {
  const auto* v = o.if_contains(k);
  if (!v) throw InputError(where, std::string("missing '") + k + "'");
  return *v;
}
std::int64_t int_field(const boost::json::object& o, const char* k, const std::string& where) {
  const auto& v = field(o, k, where);
  if (!v.is_int64()) throw InputError(where + "/" + k, "expected an integer");
  return v.as_int64();
}
std::string str_field(const boost::json::object& o, const char* k, const std::string& where) {
  const auto& v = field(o, k, where);
  if (!v.is_string()) throw InputError(where + "/" + k, "expected a string");
  return std::string(v.as_string());
}
std::uint64_t hex_u64(const std::string& s, const std::string& where) {
  if (s.size() < 3 || s.size() > 18 || s.compare(0, 2, "0x") != 0) throw InputError(where, "expected a 0x hash, got '" + s + "'");
  std::uint64_t v = 0;
  for (std::size_t i = 2; i < s.size(); ++i) {
    const char ch = s[i];
    const int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) throw InputError(where, "expected a 0x hash, got '" + s + "'");
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

bool is_fp8(const std::string& variant) { return variant != "triton_bf16"; }

class GeneratedWeights final : public kernels::WeightProvider {
 public:
  explicit GeneratedWeights(GeneratedCase c) : c_(std::move(c)), r_(gen_range(c_.range, c_.name)) {}
  kernels::ExpertMatrix read(const std::string& which, std::int64_t e) const override {
    const bool w13 = which == "w13";
    if (!w13 && which != "w2") throw InputError(c_.name, "no generated weight '" + which + "'");
    if (e < 0 || e >= c_.experts) throw InputError(c_.name, which + ": expert " + std::to_string(e) + " out of range");
    const std::int64_t n = w13 ? 2 * c_.intermediate : c_.hidden, k = w13 ? c_.hidden : c_.intermediate;
    const std::uint64_t stream = w13 ? kW13 : kW2;
    kernels::ExpertMatrix m;
    m.rows = n;
    m.cols = k;
    const std::uint64_t base = static_cast<std::uint64_t>(e * n * k);
    if (!is_fp8(c_.variant)) {
      m.dtype = "bf16";
      m.bytes.resize(static_cast<std::size_t>(n * k * 2));
      auto* p = reinterpret_cast<std::uint16_t*>(m.bytes.data());
      for (std::int64_t i = 0; i < n * k; ++i)
        p[i] = gen::bf16(gen::u64(c_.seed, stream, base + static_cast<std::uint64_t>(i)), r_.bf16_w_lo, r_.bf16_w_span);
      return m;
    }
    m.dtype = "fp8_e4m3fn";
    m.bytes.resize(static_cast<std::size_t>(n * k));
    for (std::int64_t i = 0; i < n * k; ++i)
      m.bytes[static_cast<std::size_t>(i)] =
          gen::e4m3(gen::u64(c_.seed, stream, base + static_cast<std::uint64_t>(i)), r_.e4m3_w_lo, r_.e4m3_w_span);
    const std::uint64_t sstream = w13 ? kW13Scale : kW2Scale;
    const bool block = c_.variant == "triton_fp8_block128";
    const std::int64_t ns = block ? cdiv(n, 128) * cdiv(k, 128) : 1;
    m.scale_shape = block ? std::vector<std::int64_t>{cdiv(n, 128), cdiv(k, 128)} : std::vector<std::int64_t>{1};
    for (std::int64_t i = 0; i < ns; ++i) {
      const std::uint32_t bits = gen::f32_pos(gen::u64(c_.seed, sstream, static_cast<std::uint64_t>(e * ns + i)), kGenScaleLo, kGenScaleSpan);
      float f;
      std::memcpy(&f, &bits, 4);
      m.scale.push_back(f);
    }
    return m;
  }

 private:
  GeneratedCase c_;
  GenRange r_;
};

}  // namespace

GenRange gen_range(const std::string& name, const std::string& where) {
  if (name == "normal") return {123, 6, 118, 6, 4, 12};
  if (name == "wide") return {115, 22, 112, 16, 0, 16};
  throw InputError(where, "unknown generator range '" + name + "' (expected normal | wide)");
}

void check_generator_ranges(const boost::json::object& file, const std::string& where) {
  const auto& r = field(file, "ranges", where);
  if (!r.is_object()) throw InputError(where + "/ranges", "expected an object");
  for (const char* name : {"normal", "wide"}) {
    const GenRange g = gen_range(name, where);
    const auto* o = r.as_object().if_contains(name);
    if (!o || !o->is_object()) throw InputError(where + "/ranges", std::string("missing '") + name + "'");
    const std::pair<const char*, std::pair<std::uint32_t, std::uint32_t>> want[] = {
        {"hidden", {g.hidden_lo, g.hidden_span}}, {"bf16_w", {g.bf16_w_lo, g.bf16_w_span}}, {"e4m3_w", {g.e4m3_w_lo, g.e4m3_w_span}}};
    for (const auto& [k, lohi] : want) {
      const auto* a = o->as_object().if_contains(k);
      if (!a || !a->is_array() || a->as_array().size() != 2 || a->as_array()[0] != boost::json::value(lohi.first) ||
          a->as_array()[1] != boost::json::value(lohi.second))
        throw InputError(where + "/ranges/" + name + "/" + k, "differs from moesim's generator ranges");
    }
  }
  const auto& s = field(file, "scale_range", where);
  if (!s.is_array() || s.as_array().size() != 2 || s.as_array()[0] != boost::json::value(kGenScaleLo) ||
      s.as_array()[1] != boost::json::value(kGenScaleSpan))
    throw InputError(where + "/scale_range", "differs from moesim's generator scale range");
}

GeneratedCase parse_generated_case(const boost::json::object& o, const std::string& where) {
  GeneratedCase c;
  c.name = str_field(o, "name", where);
  const std::string w = where + "(" + c.name + ")";
  c.variant = str_field(o, "variant", w);
  if (c.variant != "triton_bf16" && c.variant != "triton_fp8_per_tensor" && c.variant != "triton_fp8_block128")
    throw InputError(w + "/variant", "'" + c.variant + "' has no generated-input goldens");
  c.range = str_field(o, "range", w);
  (void)gen_range(c.range, w + "/range");
  c.config = str_field(o, "config", w);
  c.model = str_field(o, "model", w);
  c.experts = int_field(o, "E", w);
  c.top_k = int_field(o, "K", w);
  c.hidden = int_field(o, "H", w);
  c.intermediate = int_field(o, "I", w);
  c.tokens = int_field(o, "T", w);
  const auto& sd = field(o, "seed", w);
  if (sd.is_uint64()) c.seed = sd.as_uint64();
  else if (sd.is_int64() && sd.as_int64() >= 0) c.seed = static_cast<std::uint64_t>(sd.as_int64());
  else throw InputError(w + "/seed", "expected a non-negative integer");
  c.block_m = static_cast<int>(int_field(o, "BM", w));
  c.block_n = static_cast<int>(int_field(o, "BN", w));
  c.block_k = static_cast<int>(int_field(o, "BK", w));
  c.group_m = static_cast<int>(int_field(o, "GM", w));
  c.warps = static_cast<int>(int_field(o, "warps", w));
  c.stages = static_cast<int>(int_field(o, "stages", w));
  const auto& sl = field(o, "slow", w);
  if (!sl.is_bool()) throw InputError(w + "/slow", "expected a boolean");
  c.slow = sl.as_bool();
  if (c.experts <= 0 || c.top_k <= 0 || c.top_k > c.experts || c.hidden <= 0 || c.intermediate <= 0 || c.tokens <= 0 ||
      c.tokens > (1 << 16) || c.hidden * c.intermediate * c.experts > (std::int64_t{1} << 33))
    throw InputError(w, "shape out of range");
  const auto& g = field(o, "golden", w);
  if (!g.is_object()) throw InputError(w + "/golden", "expected an object");
  for (const auto& kv : g.as_object()) {
    const std::string bw = w + "/golden/" + std::string(kv.key());
    if (!kv.value().is_object()) throw InputError(bw, "expected an object");
    c.golden[std::string(kv.key())] = {hex_u64(str_field(kv.value().as_object(), "hash", bw), bw + "/hash"),
                                       int_field(kv.value().as_object(), "count", bw)};
  }
  return c;
}

std::string generated_tactic(const GeneratedCase& c) {
  return "BLOCK_SIZE_M=" + std::to_string(c.block_m) + ",BLOCK_SIZE_N=" + std::to_string(c.block_n) +
         ",BLOCK_SIZE_K=" + std::to_string(c.block_k) + ",GROUP_SIZE_M=" + std::to_string(c.group_m) +
         ",num_warps=" + std::to_string(c.warps) + ",num_stages=" + std::to_string(c.stages);
}

kernels::MoeProblem generated_problem(const GeneratedCase& c) {
  kernels::MoeProblem p;
  p.num_tokens = c.tokens;
  p.top_k = c.top_k;
  p.num_experts = c.experts;
  p.hidden = c.hidden;
  p.intermediate = c.intermediate;
  return p;
}

CallInputs generated_call(const GeneratedCase& c) {
  const GenRange r = gen_range(c.range, c.name);
  CallInputs in;
  in.problem = generated_problem(c);
  const std::int64_t T = c.tokens, H = c.hidden, K = c.top_k, E = c.experts;
  in.hidden_states.resize(static_cast<std::size_t>(T * H));
  for (std::int64_t i = 0; i < T * H; ++i)
    in.hidden_states[static_cast<std::size_t>(i)] = gen::bf16(gen::u64(c.seed, kHidden, static_cast<std::uint64_t>(i)), r.hidden_lo, r.hidden_span);
  in.topk_ids.resize(static_cast<std::size_t>(T * K));
  in.topk_weights.resize(static_cast<std::size_t>(T * K));
  for (std::int64_t t = 0; t < T; ++t) {
    std::int64_t got = 0;
    for (std::uint64_t j = 0; j < 4096 && got < K; ++j) {
      const auto cand = static_cast<std::int32_t>(gen::u64(c.seed, kRouteIds, static_cast<std::uint64_t>(t) * 4096 + j) %
                                                  static_cast<std::uint64_t>(E));
      bool dup = false;
      for (std::int64_t q = 0; q < got; ++q) dup = dup || in.topk_ids[static_cast<std::size_t>(t * K + q)] == cand;
      if (!dup) in.topk_ids[static_cast<std::size_t>(t * K + got++)] = cand;
    }
    if (got < K) throw InputError(c.name, "routing generator found fewer than top_k distinct experts");
    for (std::int64_t k = 0; k < K; ++k) {
      const std::uint64_t z = gen::u64(c.seed, kRouteW, static_cast<std::uint64_t>(t * K + k));
      const std::uint32_t bits = (126u << 23) | static_cast<std::uint32_t>((z >> 8) & 0x7FFFFF);
      std::memcpy(&in.topk_weights[static_cast<std::size_t>(t * K + k)], &bits, 4);
    }
  }
  return in;
}

std::unique_ptr<kernels::WeightProvider> generated_weights(const GeneratedCase& c) {
  return std::make_unique<GeneratedWeights>(c);
}

std::uint64_t hash_buffer(const std::string& name, const kernels::EmuBuffer& b) {
  const auto n = static_cast<std::uint64_t>(b.size());
  if (name == "a1q" || name == "a2q") {
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(n));
    const auto* p = b.data<std::uint16_t>();
    for (std::uint64_t i = 0; i < n; ++i) codes[i] = kernels::triton_fp8::bf16_to_e4m3_exact(p[i]);
    return gen::hash_words(codes.data(), n);
  }
  if (b.type() == kernels::ElemType::F32 || b.type() == kernels::ElemType::I32) return gen::hash_words(b.data<std::uint32_t>(), n);
  return gen::hash_words(b.data<std::uint16_t>(), n);
}

}  // namespace moesim::replay
