#pragma once
// FlashInfer TRTLLM-gen fused MoE (trtllm_*_moe): launch geometry and hazard checks.
// Models include/flashinfer/trtllm/fused_moe/runner.h (getMaxNumCtasInBatchDim) and
// csrc/trtllm_fused_moe_kernel_launcher.cu (tile lists, computeSelectedTileN, arch gate),
// per FlashInfer version (models/flashinfer/*.json). Numerics would go next to it in
// trtllm_gen_numerics.cpp.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::trtllm_gen {

inline constexpr const char* kKernel = "flashinfer_trtllm";

// nextPowerOfTwo(float) exactly as the launcher: n = int(ceil(v)); n <= 1 -> 1; else next pow2.
std::int32_t next_power_of_two(float v);

// getMaxNumCtasInBatchDim in exact integer arithmetic (the upstream code is int32; callers
// check T*K for int32 overflow separately): min(E, T*K) + max(0, T*K - E) / tile.
std::int64_t max_num_ctas_in_batch_dim(std::int64_t tokens, std::int64_t top_k, std::int64_t experts, std::int64_t tile);

// The launcher's supported tile list for this quant scheme (empty if no launcher).
std::vector<int> supported_tiles(const models::TrtllmGenProfile& prof, const std::string& quant, std::string* launcher_name);

// computeSelectedTileN: candidate set around clamp(nextPowerOfTwo(float(T*K)/L)).
std::set<int> compute_selected_tile_n(const std::vector<int>& tiles, std::int64_t tokens, std::int64_t top_k,
                                      std::int64_t local_experts);
// Default tile when no tactic is given: the smallest candidate.
int default_tile(const std::vector<int>& tiles, std::int64_t tokens, std::int64_t top_k, std::int64_t local_experts);

// The autotuner's token bucket for T (flashinfer/fused_moe/utils.py): "pow2_down" =
// min(last_positive_power_of_2(T), tune_max); "hybrid" (v0.6.10+) = map_to_hybrid_bucket.
std::int64_t autotune_bucket(const std::string& scheme, std::int64_t tokens, std::int64_t tune_max);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

// Token counts in [lo, hi] where the default tile (and the candidate set) changes, plus the
// finalize-kernel switch; every check above is monotone in tokens between these points.
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::trtllm_gen
