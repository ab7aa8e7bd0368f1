#include "replay/tk_generated_case.hpp"

#include <bit>
#include <fstream>
#include <sstream>

#include "replay/generated_case.hpp"
#include "sim/core/counter_gen.hpp"
#include "sim/core/error.hpp"
#include "sim/quant/tk_hopper_layout.hpp"

namespace moesim::replay {
namespace {

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

GeneratedCase as_generated(const TkCase& c) {
  GeneratedCase g;
  g.name = c.name;
  g.variant = c.variant;
  g.range = c.range;
  g.experts = c.experts;
  g.top_k = c.top_k;
  g.hidden = c.hidden;
  g.intermediate = c.intermediate;
  g.tokens = c.tokens;
  g.seed = c.seed;
  return g;
}

class TkWeights final : public kernels::WeightProvider {
 public:
  TkWeights(TkCase c, std::string layout) : c_(std::move(c)), layout_(std::move(layout)) {
    if (layout_ != "linear" && layout_ != quant::kTkHopperMxW8)
      throw InputError(c_.name, "generated MXFP4 weights come linear or " + std::string(quant::kTkHopperMxW8) + ", not '" + layout_ + "'");
  }
  kernels::ExpertMatrix read(const std::string& which, std::int64_t e) const override {
    kernels::ExpertMatrix m = tk_generated_expert(c_, which, e);
    if (layout_ != "linear") {
      const std::int64_t n = m.rows, k = m.cols * 2;
      m.bytes = quant::tk_hopper_value_swizzle(m.bytes.data(), n, k);
      m.scale_bytes = quant::tk_hopper_scale_swizzle(m.scale_bytes.data(), n, k / 32, 8);
      m.scale_layout = layout_;
    }
    return m;
  }

 private:
  TkCase c_;
  std::string layout_;
};

}  // namespace

TkGenRange tk_gen_range(const std::string& name, const std::string& where) {
  if (name == "normal") return {123, 6, 121, 6, 121, 6};
  if (name == "wide") return {115, 22, 112, 14, 112, 16};
  throw InputError(where, "unknown generator range '" + name + "' (expected normal | wide)");
}

std::vector<TkCase> load_tk_goldens(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError(path, "cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  boost::system::error_code ec;
  const auto root = boost::json::parse(ss.str(), ec);
  if (ec || !root.is_object()) throw InputError(path, "not a JSON object");
  const auto& file = root.as_object();
  if (str_field(file, "schema", path) != "moesim.tk_mxfp4_goldens/1") throw InputError(path + "/schema", "expected moesim.tk_mxfp4_goldens/1");
  const auto& r = field(file, "ranges", path);
  if (!r.is_object()) throw InputError(path + "/ranges", "expected an object");
  for (const char* name : {"normal", "wide"}) {
    const TkGenRange g = tk_gen_range(name, path);
    const auto* o = r.as_object().if_contains(name);
    if (!o || !o->is_object()) throw InputError(path + "/ranges", std::string("missing '") + name + "'");
    const std::pair<const char*, std::pair<std::uint32_t, std::uint32_t>> want[] = {
        {"hidden", {g.hidden_lo, g.hidden_span}}, {"scale", {g.scale_lo, g.scale_span}}, {"bias", {g.bias_lo, g.bias_span}}};
    for (const auto& [k, lohi] : want) {
      const auto* a = o->as_object().if_contains(k);
      if (!a || !a->is_array() || a->as_array().size() != 2 || a->as_array()[0] != boost::json::value(lohi.first) ||
          a->as_array()[1] != boost::json::value(lohi.second))
        throw InputError(path + "/ranges/" + name + "/" + k, "differs from moesim's generator ranges");
    }
  }
  const auto& sw = field(file, "swiglu", path);
  if (!sw.is_object() || !sw.as_object().contains("alpha") || sw.as_object().at("alpha") != boost::json::value(1.702) ||
      !sw.as_object().contains("limit") || sw.as_object().at("limit") != boost::json::value(7.0))
    throw InputError(path + "/swiglu", "expected alpha 1.702, limit 7.0");
  std::vector<TkCase> out;
  for (const auto& v : field(file, "cases", path).as_array()) {
    if (!v.is_object()) throw InputError(path + "/cases", "expected objects");
    const auto& o = v.as_object();
    TkCase c;
    c.name = str_field(o, "name", path);
    const std::string w = path + "(" + c.name + ")";
    if (o.contains("error")) throw InputError(w, "the capture failed for this case");
    c.variant = str_field(o, "variant", w);
    c.range = str_field(o, "range", w);
    (void)tk_gen_range(c.range, w + "/range");
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
    const auto& sl = field(o, "slow", w);
    if (!sl.is_bool()) throw InputError(w + "/slow", "expected a boolean");
    c.slow = sl.as_bool();
    if (c.experts <= 0 || c.top_k <= 0 || c.top_k > c.experts || c.hidden <= 0 || c.hidden % 32 != 0 || c.intermediate <= 0 ||
        c.intermediate % 32 != 0 || c.tokens <= 0 || c.tokens > (1 << 16) || c.hidden * c.intermediate * c.experts > (std::int64_t{1} << 33))
      throw InputError(w, "shape out of range");
    for (const auto& fl : field(o, "opt_flags", w).as_array()) {
      const auto& fo = fl.as_object();
      std::string s;
      for (const char* k : {"block_m", "block_n", "block_k", "num_warps", "num_stages", "group_m", "split_k"})
        s += std::string(s.empty() ? "" : ",") + k + "=" + std::to_string(int_field(fo, k, w + "/opt_flags"));
      s += std::string(",is_persistent=") + (field(fo, "is_persistent", w).as_bool() ? "true" : "false");
      c.opt_flags.push_back(s);
    }
    const auto& g = field(o, "golden", w);
    if (!g.is_object()) throw InputError(w + "/golden", "expected an object");
    for (const auto& kv : g.as_object()) {
      const std::string bw = w + "/golden/" + std::string(kv.key());
      if (!kv.value().is_object()) throw InputError(bw, "expected an object");
      c.golden[std::string(kv.key())] = {hex_u64(str_field(kv.value().as_object(), "hash", bw), bw + "/hash"),
                                         int_field(kv.value().as_object(), "count", bw)};
    }
    out.push_back(std::move(c));
  }
  return out;
}

CallInputs tk_generated_call(const TkCase& c) {
  CallInputs in = generated_call(as_generated(c));  // same hidden-state and routing streams
  in.problem.activation = "swigluoai";
  in.problem.gated = true;
  in.problem.has_bias = true;
  return in;
}

kernels::ExpertMatrix tk_generated_expert(const TkCase& c, const std::string& which, std::int64_t e) {
  const bool w13 = which == "w13";
  if (!w13 && which != "w2") throw InputError(c.name, "no generated weight '" + which + "'");
  if (e < 0 || e >= c.experts) throw InputError(c.name, which + ": expert " + std::to_string(e) + " out of range");
  const TkGenRange r = tk_gen_range(c.range, c.name);
  const std::int64_t n = w13 ? 2 * c.intermediate : c.hidden, k = w13 ? c.hidden : c.intermediate, g = k / 32;
  const std::uint64_t stream = w13 ? kW13 : kW2, sstream = w13 ? kW13Scale : kW2Scale, bstream = w13 ? kTkB13 : kTkB2;
  kernels::ExpertMatrix m;
  m.dtype = "e2m1x2";
  m.rows = n;
  m.cols = k / 2;
  m.bytes.resize(static_cast<std::size_t>(n * k / 2));
  const auto base = static_cast<std::uint64_t>(e * n * k);
  for (std::int64_t i = 0; i < n * k; i += 2) {
    const auto lo = static_cast<std::uint8_t>((gen::u64(c.seed, stream, base + static_cast<std::uint64_t>(i)) >> 8) & 0xF);
    const auto hi = static_cast<std::uint8_t>((gen::u64(c.seed, stream, base + static_cast<std::uint64_t>(i) + 1) >> 8) & 0xF);
    m.bytes[static_cast<std::size_t>(i / 2)] = static_cast<std::uint8_t>(lo | hi << 4);
  }
  m.scale_dtype = "ue8m0";
  m.scale_bytes.resize(static_cast<std::size_t>(n * g));
  const auto sbase = static_cast<std::uint64_t>(e * n * g);
  for (std::int64_t i = 0; i < n * g; ++i)
    m.scale_bytes[static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(r.scale_lo + (gen::u64(c.seed, sstream, sbase + static_cast<std::uint64_t>(i)) >> 32) % r.scale_span);
  m.bias.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    m.bias[static_cast<std::size_t>(i)] = std::bit_cast<float>(
        std::uint32_t{gen::bf16(gen::u64(c.seed, bstream, static_cast<std::uint64_t>(e * n + i)), r.bias_lo, r.bias_span)} << 16);
  return m;
}

std::unique_ptr<kernels::WeightProvider> tk_generated_weights(const TkCase& c, const std::string& layout) {
  return std::make_unique<TkWeights>(c, layout);
}

}  // namespace moesim::replay
