#pragma once
// One generic, exact converter between any two fmt::Semantics (SoftFloat style: one operation,
// rounding and overflow behaviour explicit). Every fast path in sim/formats/fast.hpp is tested
// bit-identical to this; this in turn is tested against an enumerate-and-pick-nearest
// reference (tests/sim/formats/convert_test.cpp) and against recorded H100 cvt outputs.
#include <cstdint>
#include <string_view>

#include "sim/formats/semantics.hpp"

namespace moesim::fmt {

enum class Rounding : std::uint8_t {
  RNE,  // to nearest, ties to even (.rn)
  RZ,   // toward zero (.rz)
  RP,   // toward +inf (.rp, "ceil")
  RM,   // toward -inf (.rm, "floor")
  RNA,  // to nearest, ties away from zero (microxcaling/qtorch "nearest")
};

// What a finite value (or Inf) too large for the target becomes.
enum class Saturation : std::uint8_t {
  SatFinite,      // clamp to +-max finite; Inf -> +-max too (PTX cvt .satfinite)
  NaNOnOverflow,  // overflow and Inf -> NaN (PyTorch eager e4m3fn cast before 2.13)
  IEEEInf,        // IEEE 754: overflow -> Inf (or max finite when rounding toward zero);
                  // a target without Inf gives NaN (OCP non-saturating mode)
};

// Bits of a NaN result. Hardware cvt writes one canonical pattern (all ones, positive);
// some software casts keep the sign or write a fixed quiet NaN (c10 bf16: 0x7FC0).
struct NanPolicy {
  std::uint32_t bits = 0;  // 0: the target's all-ones NaN (canonical_nan_bits)
  bool keep_sign = false;
};

struct ConvertOptions {
  Rounding rounding = Rounding::RNE;
  Saturation saturation = Saturation::IEEEInf;
  NanPolicy nan{};
  bool ftz_input = false;  // treat subnormal inputs as zero of the same sign (.ftz)
};

// Positive bit patterns of landmarks of a format.
std::uint32_t max_finite_bits(const Semantics& s);
std::uint32_t canonical_nan_bits(const Semantics& s);  // NonFinite::None: max finite (no NaN exists)
bool has_nan(const Semantics& s);
bool has_inf(const Semantics& s);
inline std::uint32_t sign_bit(const Semantics& s) { return s.has_sign ? (1u << (s.bits - 1)) : 0u; }

// Converts `bits` of format `from` to format `to`.
// Conventions for corners no hardware of ours defines (documented in docs/formats.md):
//  * negative non-zero values into an unsigned target (ue8m0, ue4m3) give that target's NaN;
//    -0 gives +0; NaN into e2m1 (no NaN) gives the NanPolicy bits, default +max (0x7).
//  * a target without zero (ue8m0) maps zero and values rounding to zero to its smallest code 0.
std::uint32_t convert(const Semantics& from, const Semantics& to, std::uint32_t bits, const ConvertOptions& opt);

// Name of a rounding mode as PTX spells it ("rn", "rz", "rp", "rm", "rna").
std::string_view rounding_name(Rounding r);
std::string_view saturation_name(Saturation s);

}  // namespace moesim::fmt
