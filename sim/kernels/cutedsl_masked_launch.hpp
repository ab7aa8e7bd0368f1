#pragma once
// FlashInfer CuteDSL masked (batched) NVFP4 MoE path, as vLLM's FlashInferCuteDSLExperts runs
// it on the DeepEP low-latency layout: scaled_fp4_grouped_quantize(hidden [l, m, H]) ->
// grouped_gemm_nt_masked (GEMM1) -> silu_and_mul_scaled_nvfp4_experts_quantize([l, m, 2I]) ->
// grouped_gemm_nt_masked (GEMM2). Both quantize stages run cvt_fp16_to_fp4_expert, whose
// element loop and offsets are int32 products of l * m * columns; the per-expert global
// scale must hold l values. Models csrc/nv_internal/tensorrt_llm/kernels/quantization.cuh,
// csrc/nv_internal/cpp/kernels/quantization.cu, csrc/nv_internal/tensorrt_llm/thop/fp4Quantize.cpp
// and vLLM fused_moe/flashinfer_cutedsl_moe.py flashinfer_cutedsl_moe_masked.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::cutedsl_masked {

inline constexpr const char* kKernel = "flashinfer_cutedsl_batched";

// --trait names this family reads.
inline const std::vector<std::string>& read_traits() {
  static const std::vector<std::string> t = {"nvcc"};
  return t;
}

// Elements one thread converts (CVT_FP16_TO_FP4_ELTS_PER_THREAD) for this release and build.
int elts_per_thread(const models::CuteDslMaskedProfile& prof, const LaunchEnv& env);

// Largest int32 intermediate of cvt_fp16_to_fp4_expert over a [l*m, k (x2 with silu)] input:
// the loop bound (expert_idx + 1) * m * colsPerRow at expert_idx = l - 1, i.e. l*m*colsPerRow,
// and rowIdx * actualColsPerRow at rowIdx = l*m - 1 (actualColsPerRow = 2*colsPerRow with
// silu_and_mul); colsPerRow = k / elts.
std::int64_t max_int32_intermediate(std::int64_t l, std::int64_t m, std::int64_t k, bool silu, int elts);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::cutedsl_masked
