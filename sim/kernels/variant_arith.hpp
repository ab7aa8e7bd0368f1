#pragma once
// The narrow arithmetic interface the kernel variants are written against:
//   - fp32 -> bf16 round-to-nearest-even (cvt.rn.bf16.f32 / __float2bfloat16_rn);
//   - the Hopper wgmma bf16 dot chain (T-FDPA, L=16, F=25, RZ-FP32, e_zero=-133; MMA-Sim
//     arXiv:2511.10909 Table 4, Khattak & Mikaitis H100TC.m), chained along K in k16 steps.
// Both are forwards: the rounding to sim/formats (fmt::fast, exhaustively tested against the
// generic converter), the chain to sim/mma's packed T-FDPA kernels (bit-identical to the
// hw-verified scalar model mma::dot), with the parameters read from models/mma/fdpa.json.
// Whole tiles should go through mma::PackedA/PackedB/gemm_packed directly (SIMD across output
// columns); these helpers serve one-output-at-a-time loops.
#include <cstdint>
#include <vector>

#include "sim/formats/fast.hpp"
#include "sim/mma/fdpa_params.hpp"
#include "sim/mma/gemm.hpp"

namespace moesim::kernels {

// fp32 -> bf16 bits, RNE; NaN -> 0x7FFF (canonical, as cvt.rn.bf16.f32 produces); overflow -> inf.
inline std::uint16_t bf16_rne(float x) { return fmt::fast::f32_to_bf16_rn(x); }
inline float bf16_to_f32(std::uint16_t h) { return fmt::fast::bf16_to_f32(h); }

// models/mma/fdpa.json hopper:wgmma.bf16.f32 (loaded once).
const mma::FdpaParams& hopper_bf16_params();

// A bf16 row decoded once for repeated dot products (mma::PackedA with one row; K zero
// padded to a multiple of 16, as a masked tl.dot load gives).
struct Bf16Row {
  mma::PackedA packed;
  bool nonfinite = false;   // any NaN/Inf element (those steps go through the scalar model)
  std::int64_t padded = 0;  // length rounded up to a multiple of 16
};
void decode_bf16_row(const std::uint16_t* src, std::int64_t n, Bf16Row& out);

// One Hopper wgmma bf16 k16 step chain over [k_begin, k_end) (multiples of 16 inside the
// padded length): c is the incoming fp32 accumulator, every k16 step is one T-FDPA (16 exact
// products + C, aligned to e_max, truncated to 25 fraction bits, exact sum, RZ to fp32).
// Rows must be decoded with the same K.
float hopper_bf16_dot_chain(const Bf16Row& a, const Bf16Row& b, std::int64_t k_begin,
                            std::int64_t k_end, float c);

}  // namespace moesim::kernels
