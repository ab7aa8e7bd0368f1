#pragma once
// NVFP4 "Four Over Six" block-scale selection (Cook et al., arXiv 2512.02010): every 16-element
// block is quantized twice, once with the usual scale (block max -> e2m1 6, "map-to-6") and once
// with that scale expanded by 1.5 (block max -> e2m1 4, "map-to-4"); the candidate with the lower
// configured error is stored. Ties keep map-to-6 (`error4 < error6` picks map-to-4).
//
// Two upstream implementations are modelled, each in its own fp32 operation order:
//
//  * TransformerEngine CUDA kernel, transformer_engine/common/cast/nvfp4/quantize_4over6_nvfp4.cuh
//    @d0067d0da6cb01811b8072a7d304f0e00344ce2b (PR #2972 dc9af4ab, error path #3068 b972fa89);
//    options NVTE_NVFP4_4OVER6_ERR_MODE (MAE default | MSE), NVTE_NVFP4_4OVER6_ERR_USE_FAST_MATH
//    (0 default), NVTE_NVFP4_4OVER6_E4M3_USE_256 (256 default | 448): the e4m3 bound in the
//    global encode scale S_enc = E*6/amax (TE computes it from the tensor amax itself).
//  * FlashInfer quantize kernel, csrc/nv_internal/tensorrt_llm/kernels/quantization_utils.cuh
//    cvt_warp_fp16_to_fp4 4over6 branch @fb28d7242b3506a2348265962041acc1fb56cca4 (PR #3264
//    a0f61ad3; in v0.6.12 and later); env FLASHINFER_NVFP4_4OVER6=1 with
//    FLASHINFER_NVFP4_4OVER6_ERR_MODE, FLASHINFER_NVFP4_4OVER6_ERR_USE_FAST_MATH and
//    FLASHINFER_DISABLE_FP4_QUANT_FAST_MATH (rcp.approx.ftz vs IEEE divisions). The caller
//    passes the encode scale; FLASHINFER_NVFP4_4OVER6_E4M3_USE_256 only changes the per-token
//    kernel (not modelled), so here E is the bound the caller used for g = E*6/amax.
//
// The ModelOpt "four_over_six" option is a calibration procedure, not a quantizer rule; see
// docs/quantizers.md for why it is not modelled.
//
// Fidelity: modelled (source-exact op order; no hardware or library recording; the e2m1 cvt it
// relies on exists only on sm_100a+).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/quant/nvfp4.hpp"

namespace moesim::quant {

struct FourOverSix {
  enum class Impl : std::uint8_t { TransformerEngine = 0, FlashInferFast = 1, FlashInferExact = 2 };
  enum class Err : std::uint8_t { MAE = 0, MSE = 1 };
  Impl impl = Impl::TransformerEngine;
  Err err = Err::MAE;
  bool err_fp16 = false;  // "ERR_USE_FAST_MATH": compare e2m1*e4m3 (fp16 product) with x*S_enc
  int e4m3_max = 256;     // 256 or 448: the bound E in the global encode scale E*6/amax
};

// The 4over6 variants are Nvfp4Rule values (so every NVFP4 API takes them); these convert.
Nvfp4Rule four_over_six_rule(const FourOverSix& p);
std::optional<FourOverSix> four_over_six_of(Nvfp4Rule r);
// "te-4over6[-mse][-fp16err][-e448]", "flashinfer-4over6[-exact][-mse][-fp16err][-e256]":
// the unsuffixed names are each library's defaults.
std::string_view four_over_six_name(const FourOverSix& p);  // storage lives for the process
// Every modelled variant (TE: 8, FlashInfer: 16), defaults first.
const std::vector<FourOverSix>& all_four_over_six();

// One 16-element block; returns the e4m3 scale byte and writes 8 packed bytes (element 2i in
// the low nibble). `g` is what the rule's API takes: TE the tensor (or row) amax, FlashInfer
// the encode scale. If map4/map6 are non-null they receive each candidate's fp32 error.
std::uint8_t quantize_block_4over6(const float* v, float g, const FourOverSix& p, std::uint8_t* out,
                                   float* err4 = nullptr, float* err6 = nullptr);

// Global encode scale S_enc as TE's kernel computes it from the amax (compute_global_encode_
// scaling_factor_FP4<E>): min(E*6/amax, FLT_MAX), and 1 when amax is 0 or the result is 0.
float te_4over6_encode_scale(float amax, int e4m3_max);

}  // namespace moesim::quant
