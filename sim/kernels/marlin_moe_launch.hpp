#pragma once
// vLLM Marlin MoE (csrc/moe/marlin_moe_wna16: moe_wna16_marlin_gemm, used by fused_marlin_moe
// for int4/fp8/fp4 weight-only MoE): for each grouped GEMM the host needs one compiled thread
// config whose thread_k divides K and thread_n divides N; the config lists per revision are
// data (models/launch/vllm_marlin_moe.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::marlin_moe {

inline constexpr const char* kVllm = "vllm_marlin_moe";

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::marlin_moe
