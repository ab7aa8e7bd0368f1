#pragma once
// Number-format semantics as data (LLVM APFloat style): one record per format, and one generic
// decoder that serves them all. Rounding conversions live beside this (sim/formats/convert.*);
// this header is only "what a bit pattern means".
#include <cstdint>
#include <string_view>

namespace moesim::fmt {

// How a format spells non-finite values.
enum class NonFinite : std::uint8_t {
  IEEE,       // all-ones exponent: mantissa 0 = Inf, else NaN (fp32, fp16, bf16, e5m2)
  NanOnlyFN,  // no Inf; only all-ones exponent AND all-ones mantissa is NaN (e4m3fn, ue4m3)
  NanOnlyAllOnes,  // no Inf; the all-ones pattern is NaN (ue8m0: 0xFF)
  None,       // every pattern is finite (e2m1)
};

struct Semantics {
  std::string_view name;
  int bits;         // storage width
  int exp_bits;
  int man_bits;     // explicit fraction bits
  int bias;
  bool has_sign;
  bool has_zero;    // ue8m0 has no zero: exponent field 0 means 2^-127
  bool has_subnormals;
  NonFinite nonfinite;

  constexpr std::uint32_t mask() const { return bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u); }
  constexpr int exp_field_max() const { return (1 << exp_bits) - 1; }
  constexpr int emin() const { return 1 - bias; }  // exponent of the smallest normal
};

// The formats moesim knows. Names follow PyTorch/OCP spelling.
inline constexpr Semantics kFP32{"fp32", 32, 8, 23, 127, true, true, true, NonFinite::IEEE};
inline constexpr Semantics kFP16{"fp16", 16, 5, 10, 15, true, true, true, NonFinite::IEEE};
inline constexpr Semantics kBF16{"bf16", 16, 8, 7, 127, true, true, true, NonFinite::IEEE};
inline constexpr Semantics kE4M3FN{"e4m3fn", 8, 4, 3, 7, true, true, true, NonFinite::NanOnlyFN};
inline constexpr Semantics kE5M2{"e5m2", 8, 5, 2, 15, true, true, true, NonFinite::IEEE};
inline constexpr Semantics kE2M1{"e2m1", 4, 2, 1, 1, true, true, true, NonFinite::None};
// UE8M0 (MX block scale): value 2^(E-127); 0xFF is NaN; no sign, no zero, no mantissa.
inline constexpr Semantics kUE8M0{"ue8m0", 8, 8, 0, 127, false, false, false, NonFinite::NanOnlyAllOnes};
// UE4M3 (NVFP4 block scale): e4m3fn magnitude with no sign bit.
inline constexpr Semantics kUE4M3{"ue4m3", 7, 4, 3, 7, false, true, true, NonFinite::NanOnlyFN};

enum class Class : std::uint8_t { Zero, Subnormal, Normal, Inf, NaN };

// value = (-1)^neg * sig * 2^(exp - man_bits), with sig an integer holding the hidden bit for
// normals (sig in [2^man_bits, 2^(man_bits+1))) and exp = unbiased exponent (subnormals use emin).
struct Decoded {
  Class cls;
  bool neg;
  int exp;
  std::uint32_t sig;
};

constexpr Decoded decode(const Semantics& s, std::uint32_t bits) {
  bits &= s.mask();
  const int sign_shift = s.exp_bits + s.man_bits;
  const bool neg = s.has_sign && ((bits >> sign_shift) & 1u);
  const std::uint32_t e = (bits >> s.man_bits) & ((1u << s.exp_bits) - 1u);
  const std::uint32_t m = bits & ((1u << s.man_bits) - 1u);
  const std::uint32_t mag = bits & ((1u << sign_shift) - 1u);
  switch (s.nonfinite) {
    case NonFinite::IEEE:
      if (e == static_cast<std::uint32_t>(s.exp_field_max()))
        return {m == 0 ? Class::Inf : Class::NaN, neg, 0, m};
      break;
    case NonFinite::NanOnlyFN:
      if (mag == ((1u << sign_shift) - 1u)) return {Class::NaN, neg, 0, m};
      break;
    case NonFinite::NanOnlyAllOnes:
      if (mag == ((1u << sign_shift) - 1u)) return {Class::NaN, neg, 0, m};
      break;
    case NonFinite::None:
      break;
  }
  if (e == 0) {
    if (!s.has_zero) return {Class::Normal, neg, s.emin() - 1, 1u << s.man_bits};  // ue8m0: 2^-127
    if (m == 0) return {Class::Zero, neg, s.emin(), 0};
    return {Class::Subnormal, neg, s.emin(), m};
  }
  return {Class::Normal, neg, static_cast<int>(e) - s.bias, (1u << s.man_bits) | m};
}

// Exact value as a double (every listed format fits in a double exactly). NaN -> quiet NaN.
double to_double(const Semantics& s, std::uint32_t bits);

}  // namespace moesim::fmt
