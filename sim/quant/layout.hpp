#pragma once
// Scale-factor layouts with exact forward and inverse index maps and their padding rules.
// The layout tag strings are what traces carry (attribute "layout").
//
//  linear          off = r*cols + c; no padding.
//  swizzled_128x4  FlashInfer/vLLM/TRT-LLM QuantizationSFLayout::SWIZZLED_128x4
//                  (include/flashinfer/fp4_layout.cuh get_sf_out_offset_128x4; vLLM
//                  nvfp4_utils.cuh cvt_quant_to_fp4_get_sf_out_offset): rows padded to 128,
//                  cols to 4; off = (r/128)*(K4*512) + (c/4)*512 + (r%32)*16 + ((r%128)/32)*4 + c%4
//                  with K4 = ceil(cols/4). Padding bytes are 0.
//  swizzled_8x4    get_sf_out_offset_8x4: rows padded to 8, cols to 4;
//                  off = (r/8)*(K4*32) + (c/4)*32 + (r%8)*4 + c%4.
//  trtllm_r128c4, trtllm_r8c4, trtllm_r8c16: trtllm-gen convertsf::dev::getSfOffset
//                  (csrc/fused_moe/trtllm_backend/trtllm_fused_moe_dev_kernel.cu):
//                  blk = ((r/R)*cols)/C + c/C, off = blk*(R*C) + inner(r%R, c%C), with the
//                  integer division after the multiply as written upstream. Equal to the
//                  swizzled forms when cols % C == 0; otherwise rows can collide, which
//                  sf_layout_collisions() reports (a LAYOUT_MISMATCH finding, not a crash).
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace moesim::quant {

enum class SfLayout : std::uint8_t { Linear, Swizzled128x4, Swizzled8x4, TrtllmR128c4, TrtllmR8c4, TrtllmR8c16 };

std::string_view layout_tag(SfLayout l);
SfLayout parse_layout(std::string_view tag);  // InputError listing the known tags

// Bytes the layout occupies for a logical [rows, cols] scale matrix (one batch/expert).
std::int64_t sf_layout_size(SfLayout l, std::int64_t rows, std::int64_t cols);
// Forward map (r < rows, c < cols).
std::int64_t sf_offset(SfLayout l, std::int64_t rows, std::int64_t cols, std::int64_t r, std::int64_t c);
// Inverse map: the logical (r, c) stored at `off`, or nullopt for a padding byte.
// For trtllm layouts with cols % C != 0 the map is not injective; the inverse then returns the
// last writer in row-major order (what a sequential writer leaves behind).
std::optional<std::pair<std::int64_t, std::int64_t>> sf_inverse(SfLayout l, std::int64_t rows, std::int64_t cols,
                                                                 std::int64_t off);
// Number of logical elements whose offset another element also uses (0 for a valid layout).
std::int64_t sf_layout_collisions(SfLayout l, std::int64_t rows, std::int64_t cols);

// Whole-matrix conversions; padding bytes are written as 0 (as the quantize kernels do).
std::vector<std::uint8_t> sf_to_layout(const std::uint8_t* linear, std::int64_t rows, std::int64_t cols, SfLayout l);
std::vector<std::uint8_t> sf_from_layout(const std::uint8_t* laid, std::int64_t rows, std::int64_t cols, SfLayout l);

// ---- SM90 mixed-dtype GEMM interleaves, FlashInfer v0.6.10 .. v0.6.15 and v0.6.17 algorithm
// (flashinfer/fused_moe/core.py interleave_moe_{weights,scales}_for_sm90_mixed_gemm, CUDA in
// moe_gemm_mixed_utils.cu, PR #3084). v0.6.16 and main after PR #3738 use another algorithm:
// sim/quant/sm90_interleave.hpp (which also maps versions/tags to algorithms).

// scales [E, rows, kg] uint8 -> [E, kg/factor, rows*factor], factor = 128/group_size:
// out[e][j][r*factor + f] = in[e][r][j*factor + f]. InputError on the upstream checks.
std::vector<std::uint8_t> sm90_interleave_scales_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                       std::int64_t kg, int group_size);
std::vector<std::uint8_t> sm90_deinterleave_scales_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                         std::int64_t kg, int group_size);

// quant_type "fp4" (1), "int4" (0), and "fp4_fp8" (2, MXFP4 for the FP8 pre-MMA-scale path,
// v0.6.16 algorithm only; the v0.6.10 functions reject it with InputError).
enum class Sm90WeightType : std::uint8_t { Fp4, Int4, Fp4ForFp8 };
// weights [E, n, k/2] bytes (k elements of 4 bits per row). Requires n % 16 == 0 and
// k % 64 == 0; upstream has no check and would read out of bounds (InputError here).
std::vector<std::uint8_t> sm90_interleave_weights_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                        std::int64_t k, Sm90WeightType t);
std::vector<std::uint8_t> sm90_deinterleave_weights_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                          std::int64_t k, Sm90WeightType t);

}  // namespace moesim::quant
