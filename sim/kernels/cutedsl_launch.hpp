#pragma once
// FlashInfer CuteDSL NVFP4 MoE (cute_dsl_fused_moe_nvfp4): architecture gate, tactic tile
// sizes per version, activation quantisation contract. Models
// flashinfer/fused_moe/cute_dsl/{fused_moe.py,tuner.py,moe_utils.py}.
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::cutedsl {

inline constexpr const char* kKernel = "flashinfer_cutedsl";

// get_max_num_tiles(T, K, L, tile) = T*K if T*K <= L else (T*K + (tile-1)*L) // tile
std::int64_t max_num_tiles(std::int64_t tokens, std::int64_t top_k, std::int64_t local_experts, std::int64_t tile);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::cutedsl
