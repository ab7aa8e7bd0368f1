#pragma once
// Raw bit views of IEEE values; every numeric room works on these.
#include <bit>
#include <cstdint>
#include <cstring>

namespace moesim {

inline std::uint32_t f32_bits(float f) { return std::bit_cast<std::uint32_t>(f); }
inline float f32_from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }
inline std::uint64_t f64_bits(double d) { return std::bit_cast<std::uint64_t>(d); }
inline double f64_from_bits(std::uint64_t u) { return std::bit_cast<double>(u); }

// bf16 is the top half of an fp32. These two are exact views, not conversions with rounding
// (the rounding conversions live in sim/formats).
inline float bf16_bits_to_f32(std::uint16_t h) { return f32_from_bits(std::uint32_t(h) << 16); }

}  // namespace moesim
