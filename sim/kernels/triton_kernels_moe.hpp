#pragma once
// Numerics of Triton's own `triton_kernels` MoE path on Hopper as vLLM and SGLang run it for
// gpt-oss (vllm/model_executor/layers/fused_moe/experts/gpt_oss_triton_kernels_moe.py,
// triton_kernels v3.6.0 = triton-lang/triton 7c56a5e40f7fd928dfd5c72902d5def0097db73a):
//   routing (SparseMatrix bitmatrix metadata) -> matmul_ogs GEMM1 (gather, MXFP4 weights upcast
//   to bf16, wgmma, bias, fused swiglu) -> matmul_ogs GEMM2 (bias, router weight, scatter) ->
//   reduce over top_k.
// Source lines are cited at that commit (python/triton_kernels/triton_kernels/...).
#include <cstdint>
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::tk {

// HopperMXValueLayout's upcast (tensor_details/layout_details/hopper_value.py:290-338
// mxfp4_to_bf16_triton): the e2m1 code's bits are moved into a bf16, multiplied by 2^126
// (mul.bf16x2, exact) and then by the scale as bf16 (ue8m0 byte << 7: byte 0 -> +0.0, 255 ->
// +inf) with one more mul.bf16x2 (RNE). Returns the bf16 bits of the weight.
std::uint16_t mxfp4_to_bf16(std::uint8_t code, std::uint8_t scale);

// PTX div.full.f32 as ptxas 13 (Triton 3.6) lowers it for sm_90 (SASS read from the captured
// _matmul_ogs kernels): if b > 2^126 both operands are scaled by 1/4, then a * MUFU.RCP(b).
// Only called with b >= 1 (1 + ex2), where MUFU.RCP never leaves the normal range.
float div_full(float a, float b);

// The fused swiglu of matmul_ogs (swiglu_details/_swiglu.py:39-53 _swiglu_fn/compute_swiglu)
// on one (gate, linear) pair of fp32 accumulators (acc + bias): g = min(gate, limit),
// l = clamp(linear, -limit, limit), s = div.full(g, 1 + ex2.approx((-alpha * g) * log2(e))),
// out = bf16_rn(fma(s, l, s)).
std::uint16_t swiglu(float gate, float linear, float alpha, float limit);

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::tk
