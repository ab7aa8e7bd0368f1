#pragma once
// vLLM GGUF MoE (vllm/model_executor/layers/quantization/gguf.py _fused_moe_gguf with the
// csrc/quantization/gguf MMQ (moe.cuh) and MMVQ (moe_vec.cuh) kernels): which kernel runs for
// the GGML weight types and batch, and its grid against the CUDA limits
// (models/launch/vllm_gguf_moe.json; the GGML type ids come from --trait gguf_type=N).
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::gguf_moe {

inline constexpr const char* kVllm = "vllm_gguf_moe";

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

}  // namespace moesim::kernels::gguf_moe
