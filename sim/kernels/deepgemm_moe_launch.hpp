#pragma once
// The DeepGEMM contiguous-layout MoE path of vLLM (DeepGemmExperts,
// vllm/model_executor/layers/fused_moe/deep_gemm_utils.py) and SGLang (DeepEPMoE,
// python/sglang/srt/layers/moe/ep_moe/kernels.py): ep_scatter copies every routed slot into an
// expert-sorted buffer of M_sum rows (each expert's rows padded to the DeepGEMM M alignment),
// m_grouped_fp8_gemm_nt_contiguous runs both GEMMs on it, ep_gather reduces it back. The
// Triton scatter/gather kernels address the buffer with int32 row * stride products; which
// ones are widened depends on the revision (models/launch/{vllm,sglang}_deepgemm_moe.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::deepgemm_moe {

inline constexpr const char* kVllm = "vllm_deepgemm_moe";
inline constexpr const char* kSglang = "sglang_deepgemm_moe";

std::vector<Finding> check_vllm(const LaunchProblem& p, const LaunchEnv& env);
std::vector<Finding> check_sglang(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::deepgemm_moe

