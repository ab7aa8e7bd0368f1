#pragma once
// moesim's counter-based test-data generator ("moesim.gen/1"): element i of stream s under seed
// S is a pure function of (S, s, i), so a capture script on a GPU machine and a CPU test can
// regenerate the same tensors without storing them. scripts/gpu/capture_triton_prod.py holds a
// numpy twin of every function here; tests/sim/core/counter_gen_test.cpp checks they agree.
//
//   u64(S, s, i) = mix64((S ^ s * 0xD1B54A32D192ED03) + (i + 1) * 0x9E3779B97F4A7C15)   (mod 2^64)
//   mix64 = the SplitMix64 finaliser.
// Element formats take the fields of z = u64(...): sign = z >> 63, exponent field
// lo + (z >> 32) % span, mantissa from z >> 8, exact zero when (z >> 20) & 0xFFF == 0.
#include <cstdint>

namespace moesim::gen {

inline constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
inline constexpr std::uint64_t kStreamMul = 0xD1B54A32D192ED03ull;

inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t u64(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  return mix64((seed ^ (stream * kStreamMul)) + (i + 1) * kGolden);
}

// bf16 bits: exponent field in [lo, lo + span), random sign and 7 mantissa bits, 1/4096 zeros.
inline std::uint16_t bf16(std::uint64_t z, std::uint32_t lo, std::uint32_t span) {
  const std::uint32_t s = static_cast<std::uint32_t>(z >> 63);
  if (((z >> 20) & 0xFFF) == 0) return static_cast<std::uint16_t>(s << 15);
  const std::uint32_t e = lo + static_cast<std::uint32_t>((z >> 32) % span);
  return static_cast<std::uint16_t>((s << 15) | (e << 7) | static_cast<std::uint32_t>((z >> 8) & 0x7F));
}

// e4m3fn code: exponent field in [lo, lo + span) (span <= 16 - lo), NaN codes (S.1111.111)
// become 0x7E | sign (448), 1/4096 zeros.
inline std::uint8_t e4m3(std::uint64_t z, std::uint32_t lo, std::uint32_t span) {
  const std::uint32_t s = static_cast<std::uint32_t>(z >> 63);
  if (((z >> 20) & 0xFFF) == 0) return static_cast<std::uint8_t>(s << 7);
  const std::uint32_t e = lo + static_cast<std::uint32_t>((z >> 32) % span);
  std::uint32_t c = (e << 3) | static_cast<std::uint32_t>((z >> 8) & 7);
  if (c == 0x7F) c = 0x7E;
  return static_cast<std::uint8_t>((s << 7) | c);
}

// Positive normal fp32 bits: exponent field in [lo, lo + span), 23 random mantissa bits.
inline std::uint32_t f32_pos(std::uint64_t z, std::uint32_t lo, std::uint32_t span) {
  const std::uint32_t e = lo + static_cast<std::uint32_t>((z >> 32) % span);
  return (e << 23) | static_cast<std::uint32_t>((z >> 8) & 0x7FFFFF);
}

// Position-keyed hash of a buffer of words (u8/u16/u32 widened): sum_i mix64(w_i ^ i * kGolden)
// mod 2^64. Order-sensitive through i; vectorises in numpy.
template <class T>
std::uint64_t hash_words(const T* w, std::uint64_t n) {
  std::uint64_t h = 0;
  for (std::uint64_t i = 0; i < n; ++i) h += mix64(static_cast<std::uint64_t>(w[i]) ^ (i * kGolden));
  return h;
}

}  // namespace moesim::gen
