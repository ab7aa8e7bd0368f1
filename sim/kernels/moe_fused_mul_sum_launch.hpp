#pragma once
// vLLM moe_fused_mul_sum (vllm/model_executor/layers/fused_moe/moe_fused_mul_sum.py): the
// Triton kernel that multiplies the [M, top_k, H] expert outputs by the router weights and
// sums over top_k. Its row offset offs_m * stride_m (stride_m = top_k * H) is int32 before
// PR #50220 (models/launch/vllm_moe_fused_mul_sum.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::moe_fused_mul_sum {

inline constexpr const char* kVllm = "vllm_moe_fused_mul_sum";

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::moe_fused_mul_sum
