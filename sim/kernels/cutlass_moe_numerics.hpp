#pragma once
// Numerics of FlashInfer's CUTLASS fused MoE (`cutlass_fused_moe`, family "flashinfer_cutlass"
// in models/kernels/*.json), modelled on FlashInfer v0.6.11.post2 (064d9aa2):
//   csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh
//     routing (threeStepBuildExpertMapsSortFirstToken) -> expandInputRowsKernel (permute) ->
//     grouped GEMM1 (TMA warp-specialized, LinearCombination epilogue, alpha per expert) ->
//     doActivationKernel (GLUAdaptor<SiLu>, * fc2 quant scale, cast) -> grouped GEMM2 ->
//     finalizeMoeRoutingKernel (router scale * row, fp32, k order, one cast).
// The module is JIT-compiled with -use_fast_math (flashinfer/jit/core.py), so every fp32
// operation outside the tensor cores flushes subnormals (ftz), expf is __expf and `/` is
// div.approx; the helpers below model exactly that.
//
// The pieces are free functions so tests can check each against an independent formula.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/kernels/nvfp4_moe_common.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels::cutlass {

// ---- fp32 under -ftz=true: subnormal inputs read as signed zero, subnormal results flush.
float ftz(float x);
float fmul_ftz(float a, float b);
float fadd_ftz(float a, float b);
float fma_ftz(float a, float b, float c);

// __expf(x) under -ftz: ex2.approx.ftz.f32(x * log2(e)) (sim/quant/sfu tables).
float expf_fastmath(float x);
// cutlass::epilogue::thread::Sigmoid<float> under fast-math: 1.0f / (1.0f + __expf(-x)), the
// division lowered to div.approx.ftz.f32 = 1 * rcp.approx.ftz.f32(den).
float sigmoid_fastmath(float x);
// GLUAdaptor<SiLu>::operator()(gate, linear) = (gate * sigmoid(gate)) * linear, fp32 ftz.
float swiglu_fastmath(float gate, float linear);

// doActivationKernel's element for a bf16 GEMM1 output: gate/linear widened to fp32,
// swiglu, `* quant_scale` (1 for bf16, fc2_quant for fp8), then the output cast.
std::uint16_t swiglu_to_bf16(std::uint16_t gate, std::uint16_t linear);
std::uint8_t swiglu_to_e4m3(std::uint16_t gate, std::uint16_t linear, float quant_scale);

// LinearCombination epilogue of the grouped GEMM: D = beta*C + alpha*acc with beta = 0 and
// no C, computed in fp32 (ftz) and cast to bf16 (RNE).
std::uint16_t epilogue_bf16(float acc, float alpha);

// finalizeMoeRoutingKernel for one output element: acc = 0; for k in 0..K-1 with a valid
// expert: acc = fma(scale_k, float(row_k), acc) (fmad contraction, ftz); bf16(acc).
// `valid[k]` false skips the term (expert not on this rank).
std::uint16_t finalize_element(const std::uint16_t* rows, std::int64_t stride, const float* scales,
                               const bool* valid, std::int64_t top_k);

// W4A16 (MXFP4 weights x bf16 activations) SM90 mixed-input mainloop for one output:
// per 32-wide K group g, inter_g = wgmma bf16 chain from 0 over the group's two k16 steps
// (weights converted exactly to bf16), then acc = inter_0 * s_0, acc = fma(inter_g, s_g, acc)
// (fp32 ftz), with s_g = bit pattern (ue8m0 << 23) as fp32 (scale_convertor; 0 -> +0.0,
// 255 -> +inf). `w` is the weight row decoded from e2m1 to bf16, `scales` K/32 ue8m0 bytes.
float w4a16_mxfp4_dot(const Bf16Row& a, const Bf16Row& w, const std::uint8_t* scales, std::int64_t k);
float ue8m0_scale_convertor(std::uint8_t s);

// The caller's static per-tensor fp8 input quantization (vLLM scaled_fp8_quant, static):
// e4m3(x * (1 / scale)), RNE, saturating.
std::uint8_t quantize_input_e4m3(std::uint16_t x_bf16, float inv_scale);

// NVFP4 (SM100): one operand row as the block-scaled MMA reads it: e2m1 codes (one per entry)
// and one e4m3 scale byte per 16 elements, K zero-padded to a multiple of 64 (TMA fills the
// data tail with 0; the 128x4 swizzled scale layout pads scale columns to 4 with 0 bytes).
// Forwards to the shared NVFP4 MoE pieces (sim/kernels/nvfp4_moe_common, H5).
using Nvfp4Row = nvfp4::OperandRow;
Nvfp4Row nvfp4_row(const std::uint8_t* packed, const std::uint8_t* sf, std::int64_t k);
// tcgen05.mma kind::mxf4nvf4 block_scale.scale_vec::4X chained over K from 0: the GST-FDPA
// row "blackwell:tcgen05.mxf4nvf4.nvfp4" of models/mma/fdpa.json (nvfp4::block_scaled_dot).
float nvfp4_dot(const Nvfp4Row& a, const Nvfp4Row& b);

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::cutlass
