#pragma once
// vLLM / SGLang Triton fused_moe (fused_moe_kernel): config choice (tuned JSON or defaults),
// int32 offset arithmetic per framework revision (c_ptr + stride_cm * offs_token), and the
// shared-memory estimate of the software-pipelined tiles against the device limit.
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::triton_moe {

inline constexpr const char* kKernel = "triton";

// The Triton dtype string a quant scheme maps to in the config file name ("" for bf16/fp16).
std::string config_dtype(const std::string& quant);

// Config the framework picks for GEMM1 at M tokens.
models::TritonConfig pick_config(const LaunchProblem& p, const LaunchEnv& env);

// Shared-memory estimate of one program: num_stages * (BM*BK*a_bytes + BK*BN*b_bytes)
// (a model of Triton's pipeliner: one A and one B buffer per stage).
std::int64_t smem_estimate(const models::TritonConfig& c, int a_bits, int b_bits);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);
// Config breakpoints (defaults' piece limits, M//E boundary, tuned-key midpoints).
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::triton_moe
