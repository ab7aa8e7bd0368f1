#include "replay/inputs.hpp"

#include <cmath>
#include <numeric>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::replay {

MemoryWeights::MemoryWeights(std::int64_t experts, std::int64_t n1, std::int64_t hidden, std::int64_t inter,
                             std::vector<std::uint16_t> w13, std::vector<std::uint16_t> w2)
    : e_(experts), n1_(n1), h_(hidden), i_(inter), w13_(std::move(w13)), w2_(std::move(w2)) {
  if (static_cast<std::int64_t>(w13_.size()) != e_ * n1_ * h_ || static_cast<std::int64_t>(w2_.size()) != e_ * h_ * i_)
    throw InputError("MemoryWeights", "weight sizes do not match [E, N1, H] and [E, H, I]");
}

kernels::ExpertMatrix MemoryWeights::read(const std::string& which, std::int64_t expert) const {
  if (expert < 0 || expert >= e_) throw InputError("weights/" + which, "expert " + std::to_string(expert) + " out of range");
  kernels::ExpertMatrix m;
  m.dtype = "bf16";
  const bool w13 = which == "w13";
  m.rows = w13 ? n1_ : h_;
  m.cols = w13 ? h_ : i_;
  const std::vector<std::uint16_t>& src = w13 ? w13_ : w2_;
  const std::int64_t n = m.rows * m.cols;
  m.bytes.resize(static_cast<std::size_t>(n) * 2);
  std::memcpy(m.bytes.data(), src.data() + expert * n, m.bytes.size());
  return m;
}

SyntheticWeights::SyntheticWeights(const kernels::MoeProblem& p, std::uint64_t seed, double scale)
    : p_(p), seed_(seed), scale_(scale) {}

kernels::ExpertMatrix SyntheticWeights::read(const std::string& which, std::int64_t expert) const {
  kernels::ExpertMatrix m;
  m.dtype = "bf16";
  const bool w13 = which == "w13";
  m.rows = w13 ? p_.n1() : p_.hidden;
  m.cols = w13 ? p_.hidden : p_.intermediate;
  const std::int64_t n = m.rows * m.cols;
  m.bytes.resize(static_cast<std::size_t>(n) * 2);
  auto* dst = reinterpret_cast<std::uint16_t*>(m.bytes.data());
  Rng rng(seed_, static_cast<std::uint64_t>(expert) * 2 + (w13 ? 0 : 1));
  // Uniform on [-sqrt(3), sqrt(3)) * scale / sqrt(cols) (unit variance before scaling): four
  // 16-bit draws per 64-bit word, so a DeepSeek-V3 layer's 11e9 weights synthesise quickly.
  const float s = static_cast<float>(scale_ * std::sqrt(3.0) / std::sqrt(static_cast<double>(m.cols)));
  for (std::int64_t i = 0; i < n; i += 4) {
    std::uint64_t r = rng.next();
    for (std::int64_t j = i; j < std::min(n, i + 4); ++j, r >>= 16) {
      const float u = (static_cast<float>(r & 0xFFFF) - 32768.0f) * (1.0f / 32768.0f);
      dst[j] = kernels::bf16_rne(u * s);
    }
  }
  return m;
}

bool apply_triton_tactic(kernels::VariantSpec& spec, const std::string& tactic, const std::string& where) {
  if ((spec.family != "triton_fused_moe" && spec.family != "triton_fused_moe_fp8") || tactic.empty()) return false;
  static const std::pair<const char*, const char*> keys[] = {
      {"BLOCK_SIZE_M", "block_m"}, {"BLOCK_SIZE_N", "block_n"}, {"BLOCK_SIZE_K", "block_k"}, {"GROUP_SIZE_M", "group_m"}};
  bool any = false;
  std::size_t pos = 0;
  while (pos <= tactic.size()) {
    const std::size_t end = std::min(tactic.find(',', pos), tactic.size());
    const std::string item = tactic.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    // Unknown keys are refused, as --triton-config refuses malformed configs: a tactic the
    // model does not read must not be silently ignored.
    if (eq == std::string::npos)
      throw InputError(where, "tactic item '" + item + "' is not KEY=VALUE (keys: BLOCK_SIZE_M, BLOCK_SIZE_N, BLOCK_SIZE_K, GROUP_SIZE_M, num_warps, num_stages)");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    bool known = k == "num_warps" || k == "num_stages";
    for (const auto& [from, to] : keys)
      if (k == from) {
        known = true;
        std::size_t used = 0;
        long long x = 0;
        try {
          x = std::stoll(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != v.size() || x < 1 || x > 4096)
          throw InputError(where, "tactic value '" + item + "' is not an integer in [1, 4096]");
        spec.params[to] = x;
        any = true;
      }
    if (!known)
      throw InputError(where, "unknown tactic key '" + k + "' (keys: BLOCK_SIZE_M, BLOCK_SIZE_N, BLOCK_SIZE_K, GROUP_SIZE_M, num_warps, num_stages)");
  }
  return any;
}

CallInputs synth_call(const kernels::MoeProblem& p, std::uint64_t seed, double hidden_scale) {
  if (p.top_k > p.num_experts) throw InputError("synth", "top_k exceeds num_experts");
  CallInputs c;
  c.problem = p;
  Rng rng(seed, 0x5157);
  c.hidden_states.resize(static_cast<std::size_t>(p.num_tokens * p.hidden));
  for (auto& h : c.hidden_states) h = kernels::bf16_rne(static_cast<float>(rng.normal() * hidden_scale));
  std::vector<std::int32_t> perm(static_cast<std::size_t>(p.num_experts));
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    std::iota(perm.begin(), perm.end(), 0);
    float total = 0.0f;
    std::vector<float> w(static_cast<std::size_t>(p.top_k));
    for (std::int64_t k = 0; k < p.top_k; ++k) {
      const std::int64_t j = k + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(p.num_experts - k)));
      std::swap(perm[k], perm[j]);
      c.topk_ids.push_back(perm[k]);
      w[k] = static_cast<float>(0.05 + rng.uniform());
      total += w[k];
    }
    for (auto x : w) c.topk_weights.push_back(x / total);
  }
  return c;
}

}  // namespace moesim::replay
