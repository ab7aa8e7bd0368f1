#pragma once
// Numerics of vLLM's Triton fused_moe with fp8 w8a8 (vLLM 52a31cce), family
// "triton_fused_moe_fp8" in models/kernels/*.json:
//   moe_align_block_size -> activation quant (dynamic per tensor, or per token per 128-group)
//   -> fused_moe_kernel GEMM1 (fp8 x fp8 tl.dot) -> silu_and_mul -> requant -> GEMM2 (router
//   weight in the fp32 epilogue) -> moe_sum.
//
// Quantized activations live in the replay's bf16 buffers: every e4m3fn value is exactly a
// bf16 value, so widening is lossless and bf16 bit equality is fp8 bit equality.
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::triton_fp8 {

inline constexpr float kE4M3Max = 448.0f;

// --- Activation quantizers: bit models of vLLM's CUDA ops (csrc/libtorch_stable/quantization/
// w8a8/fp8/common.cu and per_token_group_quant.cu, vLLM 52a31cce). Inputs are bf16 bits.

// dynamic_scaled_fp8_quant, scale half: the scale is memset to 0, every row takes
// rowmax = fmaxf-reduction of |x| starting from 0 (NaN ignored), then atomicMax(scale,
// rowmax / 448.f) (IEEE division). Division by 448 is monotonic, so the result is
// RN(max|x| / 448); an all-zero tensor gives scale 0.
float per_tensor_scale(const std::uint16_t* x, std::int64_t n);
// scaled_fp8_quant_kernel_strided_dynamic: inv = 1.0f / scale (RN), then per element
// scaled_fp8_conversion<true>: r = fmaxf(-448, fminf(x * inv, 448)) (NaN -> 448),
// cvt.rn.satfinite.e4m3x2.f32.
float per_tensor_inverse(float scale);
std::uint8_t quantize_per_tensor(std::uint16_t x, float inv_scale);

// per_token_group_quant_8bit_kernel (what per_token_group_quant_fp8 calls on CUDA):
// absmax = fmaxf-reduction of |x| starting from eps (NaN ignored); y_s = absmax / 448.f (RN).
float group_scale(const std::uint16_t* x, std::int64_t n, float eps = 1e-10f);
// q = fminf(fmaxf(x / y_s, -448), 448) (IEEE division; NaN -> -448), c10::Float8_e4m3fn(q)
// (RNE; inside [-448, 448] the same bits as cvt.rn.satfinite).
std::uint8_t quantize_group(std::uint16_t x, float y_s);

// Exact e4m3fn <-> bf16 (the replay keeps quantized activations in bf16 buffers).
std::uint16_t e4m3_to_bf16(std::uint8_t q);
std::uint8_t bf16_to_e4m3_exact(std::uint16_t b);  // for bf16 images of e4m3 values

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::triton_fp8
