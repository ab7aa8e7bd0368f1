#pragma once
// vLLM's own CUTLASS MoE experts (vllm/model_executor/layers/fused_moe/cutlass_moe.py:
// CutlassExpertsFp8, CutlassBatchedExpertsFp8, CutlassExpertsFp4), not FlashInfer's: the
// workspace the modular kernel allocates for them, standard and batched (DeepEP low-latency)
// activation formats, against device memory (models/launch/vllm_cutlass_moe.json).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::cutlass_experts {

inline constexpr const char* kVllm = "vllm_cutlass_moe";

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::cutlass_experts
