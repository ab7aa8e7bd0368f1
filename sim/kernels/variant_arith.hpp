#pragma once
// The narrow arithmetic interface the kernel variants are written against:
//   - fp32 -> bf16 round-to-nearest-even (cvt.rn.bf16.f32 / __float2bfloat16_rn);
//   - the Hopper wgmma bf16 dot chain (T-FDPA, L=16, F=25, RZ-FP32, e_zero=-133; MMA-Sim
//     arXiv:2511.10909 Table 4, Khattak & Mikaitis H100TC.m), chained along K in k16 steps.
//
// INTEGRATION NOTE: sim/formats (issue 3) and sim/mma (issue 4) own these models. Until their
// headers land this file carries a minimal implementation so the variants can be built and
// tested; when they land, these functions become thin forwards to them and the private
// implementation in variant_arith.cpp is deleted. Nothing outside sim/kernels/variant* and
// *_numerics.cpp may call the private helpers.
#include <cstdint>
#include <vector>

namespace moesim::kernels {

// fp32 -> bf16 bits, RNE; NaN -> 0x7FFF (canonical, as cvt.rn.bf16.f32 produces); overflow -> inf.
std::uint16_t bf16_rne(float x);
float bf16_to_f32(std::uint16_t h);

// A bf16 row decoded once for repeated dot products: signed integer significand m (hidden bit
// included, 7 fraction bits) and exponent e of the "1.m" form, so value = m * 2^(e-7).
// Zeros have m = 0. Non-finite elements set `nonfinite` (the slow path handles them).
struct Bf16Row {
  std::vector<std::int32_t> m;
  std::vector<std::int32_t> e;
  std::vector<std::uint16_t> raw;
  bool nonfinite = false;
  std::int64_t padded = 0;  // length rounded up to a multiple of 16 (zero padded)
};
void decode_bf16_row(const std::uint16_t* src, std::int64_t n, Bf16Row& out);

// One Hopper wgmma bf16 k16 step chain over K: c is the incoming fp32 accumulator, every
// k16 step is one T-FDPA (16 exact products + C, aligned to e_max, truncated to 25 fraction
// bits, exact sum, RZ to fp32). Rows must be decoded with the same K.
float hopper_bf16_dot_chain(const Bf16Row& a, const Bf16Row& b, std::int64_t k_begin,
                            std::int64_t k_end, float c);

}  // namespace moesim::kernels
