#include "sim/kernels/launch_problem.hpp"

#include "sim/core/error.hpp"

namespace moesim::kernels {

namespace {
struct QuantRow { const char* id; const char* act; const char* weight; };
constexpr QuantRow kQuant[] = {
    {"bf16", "bf16", "bf16"},           {"fp16", "fp16", "fp16"},        {"fp8_per_tensor", "fp8", "fp8"},
    {"fp8", "fp8", "fp8"},              {"fp8_block128", "fp8", "fp8"},  {"mxfp8", "fp8", "fp8"},
    {"nvfp4", "fp4", "fp4"},            {"mxfp4", "fp8", "fp4"},         {"mxfp4_bf16", "bf16", "fp4"},
    {"int4_w4a16", "bf16", "int4"},
};
}  // namespace

bool is_known_quant(const std::string& q) {
  for (const auto& r : kQuant)
    if (q == r.id) return true;
  return false;
}

std::pair<std::string, std::string> quant_dtypes(const std::string& q) {
  for (const auto& r : kQuant)
    if (q == r.id) return {r.act, r.weight};
  std::string known;
  for (const auto& r : kQuant) known += (known.empty() ? "" : ", ") + std::string(r.id);
  throw InputError("", "unknown quant scheme '" + q + "' (known: " + known + ")");
}

std::string upstream_activation(const std::string& a, bool gated) {
  if (a == "swigluoai") return "swiglu_bias";
  if (gated) {
    if (a == "silu" || a == "swiglu") return "swiglu";
    if (a == "gelu" || a == "geglu") return "geglu";
    return a + "_gated";
  }
  if (a == "relu2" || a == "relu2_no_mul") return "relu2";
  return a;
}

int dtype_bits(const std::string& d) {
  if (d == "fp4" || d == "int4") return 4;
  if (d == "fp8") return 8;
  if (d == "bf16" || d == "fp16") return 16;
  return 32;
}

std::string fmt_int(std::int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  std::string o;
  int c = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (c && c % 3 == 0) o.insert(o.begin(), ',');
    o.insert(o.begin(), *it);
    ++c;
  }
  return v < 0 ? "-" + o : o;
}

}  // namespace moesim::kernels
