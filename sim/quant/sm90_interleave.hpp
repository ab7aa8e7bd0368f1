#pragma once
// SM90 mixed-input (W4A16 / W4A8) MoE GEMM weight and scale interleaves, FlashInfer's
// interleave_moe_{weights,scales}_for_sm90_mixed_gemm, per algorithm. Layout tags (what traces
// carry) name the algorithm: "sm90_interleave_v0.6.10" (sim/quant/layout.hpp *_v0610) and
// "sm90_interleave_v0.6.16" (here). Which FlashInfer versions run which is data:
// models/flashinfer/sm90_interleave.json (models/lib/sm90_interleave_versions.hpp).
//
// v0.6.16 algorithm: PR #3738 (commit 5823159c3b7774e5e01bf7d935763f75b2f3731f), read at tag
// v0.6.16 = 8da13a29c85f7e5b1c81878d933f84ae9fc4afa9 (identical at main fb28d7242b35):
//  * scales, flashinfer/fused_moe/prepare.py interleave_moe_scales_for_sm90_mixed_gemm:
//    [E, rows, kg] elements of `elem_bytes` bytes (uint8 E8M0 for MXFP4 with group 32, bf16 bit
//    patterns for W4A8 with group 128) ->
//    reshape(E, rows/64, m_slices, folded_m, kg/spk, spk).permute(0,1,4,3,2,5)
//      .reshape(E, rows/64, kg/spk, folded_m, physical_cols)
//    with spk = 128/group, physical_cols = 128/(8*elem_bytes), m_slices = physical_cols/spk,
//    folded_m = 64/m_slices; i.e. element (r, c), r = 64*R + folded_m*s + f, c = spk*j + q goes to
//    out[R][j][f][spk*s + q]. Checks (InputError, upstream messages): group divides 128,
//    physical_cols % spk == 0, 64 % m_slices == 0, rows % 64 == 0, kg % spk == 0.
//  * weights, csrc/nv_internal/.../moe_gemm/moe_gemm_mixed_utils.cu (binding checks n % 16 == 0
//    and k % 64 == 0): per expert [n, k/2] bytes, every 16-row group R, i in 0..7, 64-element
//    partition P and lane l in 0..15 moves one 32-bit unit gathered from rows R+i and R+i+8:
//      fp4:          bytes (R+i, c0), (R+i+8, c0), (R+i, c0+4), (R+i+8, c0+4), c0 = 32P + 8(l/4) + l%4,
//                    bit-permuted (kFp4BitPerm, the kernel's 20 mask/shift lines) and stored as 4
//                    bytes at row R+i+8((l/4)%2), byte column 32P + 16(l/8) + 4(l%4);
//      int4:         16-bit words a = (R+i, 16P+l), b = (R+i+8, 16P+l) stored at row R+i+8((l%8)/4),
//                    word columns 16P + 8(l/8) + 2(l%4) (a) and +1 (b) -- unchanged from v0.6.10;
//      fp4_fp8:      as int4, with the 8 e2m1 sign bits of a|b<<16 permuted
//                    (preprocess_fp4x8_signs_for_fp8).
//    Everything is a bijection on the bits of each expert; the inverses are exact.
#include <cstdint>
#include <string_view>
#include <vector>

#include "sim/quant/layout.hpp"

namespace moesim::quant {

enum class Sm90Interleave : std::uint8_t { V0610, V0616 };
std::string_view sm90_interleave_tag(Sm90Interleave a);  // "sm90_interleave_v0.6.10" / "..._v0.6.16"
Sm90Interleave parse_sm90_interleave(std::string_view tag);  // InputError listing the known tags

// ---- scales (v0.6.16)
struct Sm90ScaleFold {
  int spk = 0;            // scale groups per K=128 block (128 / group_size)
  int physical_cols = 0;  // scale elements in 16 bytes
  int m_slices = 0;       // physical_cols / spk
  int folded_m = 0;       // 64 / m_slices
};
// InputError on the upstream dtype/group checks.
Sm90ScaleFold sm90_scale_fold_v0616(int group_size, int elem_bytes);
// Element offset inside one expert of logical (r, c) and its inverse; shapes must be valid.
std::int64_t sm90_scale_offset_v0616(std::int64_t rows, std::int64_t kg, const Sm90ScaleFold& f, std::int64_t r,
                                     std::int64_t c);
std::pair<std::int64_t, std::int64_t> sm90_scale_inverse_v0616(std::int64_t rows, std::int64_t kg,
                                                               const Sm90ScaleFold& f, std::int64_t off);
// `in`: E*rows*kg elements of elem_bytes bytes each (little-endian as stored); same size out.
std::vector<std::uint8_t> sm90_interleave_scales_v0616(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                       std::int64_t kg, int group_size, int elem_bytes);
std::vector<std::uint8_t> sm90_deinterleave_scales_v0616(const std::uint8_t* in, std::int64_t experts,
                                                         std::int64_t rows, std::int64_t kg, int group_size,
                                                         int elem_bytes);

// ---- weights (v0.6.16)
// Bit index inside one expert's [n, k/2] bytes: byte*8 + bit (bit 0 = LSB). Forward: where the
// bit at `src_bit` of the input lands; inverse: which input bit the output bit `dst_bit` holds.
std::int64_t sm90_weight_bit_dest_v0616(std::int64_t n, std::int64_t k, Sm90WeightType t, std::int64_t src_bit);
std::int64_t sm90_weight_bit_src_v0616(std::int64_t n, std::int64_t k, Sm90WeightType t, std::int64_t dst_bit);
// weights [E, n, k/2] bytes. InputError unless n % 16 == 0, k % 64 == 0 (upstream binding).
std::vector<std::uint8_t> sm90_interleave_weights_v0616(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                        std::int64_t k, Sm90WeightType t);
std::vector<std::uint8_t> sm90_deinterleave_weights_v0616(const std::uint8_t* in, std::int64_t experts,
                                                          std::int64_t n, std::int64_t k, Sm90WeightType t);

// ---- dispatch by algorithm (v0.6.10 scales are uint8 only: elem_bytes must be 1)
std::vector<std::uint8_t> sm90_interleave_scales(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                 std::int64_t rows, std::int64_t kg, int group_size, int elem_bytes);
std::vector<std::uint8_t> sm90_deinterleave_scales(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                   std::int64_t rows, std::int64_t kg, int group_size, int elem_bytes);
std::vector<std::uint8_t> sm90_interleave_weights(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                  std::int64_t n, std::int64_t k, Sm90WeightType t);
std::vector<std::uint8_t> sm90_deinterleave_weights(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                    std::int64_t n, std::int64_t k, Sm90WeightType t);

}  // namespace moesim::quant
