#include "replay/oracle/formulas.hpp"

#include <algorithm>

#include "sim/core/error.hpp"

namespace moesim::oracle {

long long trtllm_nvfp4_chunk_size(long long num_experts, long long top_k) {
  constexpr long long kMaxGridY = 65535;       // CUDA grid.y limit
  constexpr long long kMaxTileTokensDim = 128; // largest TRTLLM tile along tokens
  constexpr long long kCap = 300000;
  long long max_supported = (num_experts + (kMaxGridY - num_experts + 1) * kMaxTileTokensDim - 1) / top_k;
  return std::min(kCap, max_supported);
}

std::string compute_formula(const std::string& name, const Context& ctx, const std::string& where) {
  if (name == "trtllm_nvfp4_chunk_size") {
    auto ie = ctx.traits.find("num_experts"), ik = ctx.traits.find("top_k");
    if (ie == ctx.traits.end() || ik == ctx.traits.end())
      throw InputError(where, "formula trtllm_nvfp4_chunk_size needs traits num_experts and top_k");
    long long e = std::stoll(ie->second);
    long long k = std::stoll(ik->second);
    const std::string f = "min(300000, (E + (65535 - E + 1)*128 - 1) // top_k)";
    if (e <= 0 || k <= 0) return f + " (pass --trait num_experts=N --trait top_k=K to evaluate)";
    return std::to_string(trtllm_nvfp4_chunk_size(e, k)) + " = " + f + " with E=" + std::to_string(e) +
           ", top_k=" + std::to_string(k);
  }
  throw InputError(where, "unknown property formula '" + name + "'");
}

}  // namespace moesim::oracle
