#pragma once
// Fast specialised conversions for the hot loops of the quantizers. Each one is a shortcut for
// a fmt::convert call with the options named in its comment, and is tested bit-identical to
// it (exhaustively for 16-bit sources, strided in ctest and over all 2^32 fp32 inputs in
// bench_formats_exhaustive).
#include <cmath>
#include <cstdint>

#include "sim/core/bits.hpp"

namespace moesim::fmt::fast {

// fp32 -> bf16, RNE, NaN -> 0x7FFF: cvt.rn.bf16.f32 (IEEEInf, canonical NaN).
inline std::uint16_t f32_to_bf16_rn(float f) {
  const std::uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_to_f32(std::uint16_t h) { return f32_from_bits(std::uint32_t(h) << 16); }

// fp32 -> e4m3fn, RNE, SatFinite, NaN -> 0x7F: cvt.rn.satfinite.e4m3x2.f32 / __nv_fp8_e4m3(float).
inline std::uint8_t f32_to_e4m3_satfinite(float f) {
  std::uint32_t u = f32_bits(f);
  const std::uint8_t s = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  u &= 0x7FFFFFFFu;
  if (u > 0x7F800000u) return 0x7F;
  if (u >= 0x43E00000u) return s | 0x7E;  // >= 448 (and Inf) saturates
  if (u < 0x3C800000u) {                  // below 2^-6: subnormal grid of 2^-9
    const float scaled = f32_from_bits(u) * 512.0f;  // exact
    return s | static_cast<std::uint8_t>(std::nearbyint(scaled));  // RNE (default FP env)
  }
  const std::uint32_t r = u + 0x7FFFFu + ((u >> 20) & 1u);
  return s | static_cast<std::uint8_t>((r >> 20) - (120u << 3));
}

// fp32 -> e2m1, RNE, SatFinite (cvt.rn.satfinite.e2m1x2.f32). NaN -> 0x7 (see convert.hpp).
inline std::uint8_t f32_to_e2m1_satfinite(float f) {
  const std::uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7;
  const std::uint8_t s = static_cast<std::uint8_t>((u >> 28) & 0x8u);
  const float a = f32_from_bits(u & 0x7FFFFFFFu);
  // Branch-free count of the RNE decision points crossed (ties go to the even code).
  const int c = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
  return static_cast<std::uint8_t>(s | c);
}

inline constexpr float kE2M1Values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
inline float e2m1_to_f32(std::uint8_t c) { return kE2M1Values[c & 0xF]; }

// e4m3fn byte -> fp32 (exact; 0x7F/0xFF -> quiet NaN).
inline float e4m3_to_f32(std::uint8_t b) {
  const std::uint32_t s = std::uint32_t(b & 0x80u) << 24;
  const std::uint32_t e = (b >> 3) & 0xFu, m = b & 0x7u;
  if (e == 0xF && m == 0x7) return f32_from_bits(s | 0x7FC00000u);
  if (e == 0) return f32_from_bits(s | f32_bits(static_cast<float>(m) * 0x1p-9f));
  return f32_from_bits(s | ((e + 120u) << 23) | (m << 20));
}

// ue8m0 byte -> fp32 (2^(b-127); 0 gives the fp32 subnormal 2^-127; 0xFF -> NaN).
inline float ue8m0_to_f32(std::uint8_t b) {
  if (b == 0xFF) return f32_from_bits(0x7FC00000u);
  if (b == 0) return f32_from_bits(0x00400000u);
  return f32_from_bits(std::uint32_t(b) << 23);
}

}  // namespace moesim::fmt::fast
