#pragma once
// e2m1 element encoders as the libraries write them. All round to nearest, ties to even, and
// saturate at 6; they differ only in the sign of zero results and in NaN:
//  * SignBit: the input's sign bit (hardware cvt.rn.satfinite.e2m1x2; torchao
//    f32_to_f4_unpacked): -0.0 -> 0x8, NaN -> 0x7 (see fmt::convert conventions).
//  * LessThanZero: sign = (x < 0) (TE cast_to_fp4x2, ModelOpt _cast_fp4): -0.0 -> 0x0;
//    NaN -> 0x0 in TE (no mask matches) but 0x7 in ModelOpt (searchsorted puts NaN last);
//    NaN cannot reach either from finite inputs, so the NaN code here is 0x7.
#include <cstdint>

#include "sim/formats/fast.hpp"

namespace moesim::quant {

enum class E2m1Sign : std::uint8_t { SignBit, LessThanZero };

inline std::uint8_t e2m1_code(float v, E2m1Sign sign) {
  const std::uint8_t c = fmt::fast::f32_to_e2m1_satfinite(v);
  if (sign == E2m1Sign::LessThanZero && v == 0.0f) return 0;  // -0.0 is not < 0
  return c;
}

}  // namespace moesim::quant
