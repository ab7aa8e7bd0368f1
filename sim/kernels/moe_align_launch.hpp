#pragma once
// moe_align_block_size (vLLM csrc/moe/moe_align_sum_kernels.cu; SGLang sgl-kernel
// csrc/moe/moe_align_kernel.cu): one CTA sorts the routed slots by expert. Its block size and
// dynamic shared memory grow with the expert count E the kernel sees (local experts plus fused
// shared experts), so the launch fails for large E on devices with less shared memory; the
// per-revision formulas and guards are data (models/launch/{vllm,sglang}_moe_align.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::moe_align {

inline constexpr const char* kVllm = "vllm_moe_align";

std::vector<Finding> check_vllm(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::moe_align

