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

// Shared memory Triton's software pipeliner allocates for the K loop's A and B tiles:
// buffers * (BM*BK*a_bytes + BK*BN*b_bytes), with
//   buffers = num_stages - 1             (AssignLatencies: loadLatency = (num_stages - 1) /
//                                          (maxIndirectionLevel + 1); fused_moe's A/B loads are
//                                          direct, level 0; LowerLoops lowerLoads allocates
//                                          stageDiff = latency buffers per pipelined load)
//           + 1 on SM90                  (loadRequiresAdditionalBuffer: operands consumed from
//                                          NVMMA shared memory by a WarpGroupDotOp / wgmma)
//   buffers = 1 when num_stages <= 1     (not pipelined; one local_alloc per dot operand).
// Epilogue scratch (accumulator layout conversion) is not included: the allocator reuses the
// loop buffers after the loop, so this is the loop's requirement, a lower bound of the total.
int triton_pipeline_buffers(int num_stages, int sm);
std::int64_t smem_estimate(const models::TritonConfig& c, int a_bits, int b_bits, int sm);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);
// Config breakpoints (defaults' piece limits, M//E boundary, tuned-key midpoints).
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::triton_moe
