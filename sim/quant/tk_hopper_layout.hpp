#pragma once
// triton_kernels' Hopper MXFP4 weight layouts (triton-lang/triton v3.6.0 =
// 7c56a5e40f7fd928dfd5c72902d5def0097db73a, python/triton_kernels/triton_kernels/
// tensor_details/layout_details/): what vLLM's and SGLang's _swizzle_mxfp4 store for matmul_ogs
// on capability 9.x (make_default_matmul_mxfp4_w_layout(mx_axis=1) -> HopperMXValueLayout,
// make_default_matmul_mxfp4_w_scale_layout(mx_axis=1, num_warps=8) -> HopperMXScaleLayout).
// One layout tag names both, per expert (ExpertMatrix::scale_layout, as the FlashInfer SM90
// interleave tag does): kTkHopperMxW8. Listed in models/triton_kernels/layouts.json.
//
// Canonical forms (traces): packed e2m1 [n][k/2] bytes (low nibble = even k), ue8m0 scales
// [n][k/32]; n = output feature, k = reduction.
//
// Values, HopperMXValueLayout.swizzle_data (hopper_value.py:105-190, mma_version 3): pad n and
// k/2 to multiples of 64 (zeros); stored as [n_p/4][4 * kb_p] bytes where 4-byte group
// q = 32*r1 + 16*s0 + 4*t1 + k1 of physical row R = 4*r0 + t0 holds the canonical bytes
// (n = 16*r0 + 8*w0 + 2*t0 + s0, kb = 32*r1 + 8*k1 + 4*w1 + t1) at position p = 2*w1 + w0,
// bit-twiddled by _pack_bits (hopper_value.py:33-46) into one little-endian 32-bit word: low
// nibbles in bits 0..15, high nibbles in 16..31, per half: byte0 sign->15 em->8..6, byte1
// sign->12 em->5..3, byte2 sign->9 em->2..0, byte3 sign->14 e->11..10 m->13.
// Scales, HopperMXScaleLayout.swizzle_data (hopper_scale.py:27-50, num_warps W): pad n to a
// multiple of 2*W*2*8 and k/32 to a multiple of 2; stored as [n_p/32][32 * g_p] bytes, element
// (n = 256a + 128b + 16w + 8c + d for W = 8, g = 2h + f) at row 8a + w (W a + w), column
// 64h + 32b + 4d + 2f + c.
// Both maps are bijections on the padded tensors; unswizzle drops the padding.
#include <cstdint>
#include <vector>

namespace moesim::quant {

inline constexpr const char* kTkHopperMxW8 = "triton_kernels_hopper_mx_w8";

std::int64_t tk_hopper_value_bytes(std::int64_t n, std::int64_t k);  // padded size of one expert
std::vector<std::uint8_t> tk_hopper_value_swizzle(const std::uint8_t* canonical, std::int64_t n, std::int64_t k);
std::vector<std::uint8_t> tk_hopper_value_unswizzle(const std::uint8_t* swizzled, std::int64_t n, std::int64_t k);

std::int64_t tk_hopper_scale_bytes(std::int64_t n, std::int64_t groups, int num_warps);
std::vector<std::uint8_t> tk_hopper_scale_swizzle(const std::uint8_t* canonical, std::int64_t n, std::int64_t groups, int num_warps);
std::vector<std::uint8_t> tk_hopper_scale_unswizzle(const std::uint8_t* swizzled, std::int64_t n, std::int64_t groups, int num_warps);

}  // namespace moesim::quant
