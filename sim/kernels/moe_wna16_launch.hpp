#pragma once
// vLLM moe_wna16 CUDA GEMM (csrc/moe/moe_wna16.cu): the small-batch GPTQ/AWQ int4 MoE kernel
// fused_experts_impl picks when T*top_k / E <= 6. Grid, shared memory and the uint32 / int32
// index products of its kernel (models/launch/vllm_moe_wna16.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::moe_wna16 {

inline constexpr const char* kVllm = "vllm_moe_wna16";

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::moe_wna16
