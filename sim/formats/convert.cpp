#include "sim/formats/convert.hpp"

#include <algorithm>
#include <bit>

namespace moesim::fmt {

namespace {

// Largest biased exponent field and mantissa of a finite value.
struct MaxField {
  std::uint32_t exp;
  std::uint32_t man;
};

MaxField max_field(const Semantics& s) {
  const std::uint32_t all_man = (1u << s.man_bits) - 1u;
  const std::uint32_t emax = static_cast<std::uint32_t>(s.exp_field_max());
  switch (s.nonfinite) {
    case NonFinite::IEEE: return {emax - 1, all_man};
    case NonFinite::NanOnlyFN: return {emax, all_man - 1};
    case NonFinite::NanOnlyAllOnes:
      return s.man_bits == 0 ? MaxField{emax - 1, 0} : MaxField{emax, all_man - 1};
    case NonFinite::None: return {emax, all_man};
  }
  return {0, 0};
}

std::uint32_t nan_result(const Semantics& to, const ConvertOptions& opt, bool neg) {
  std::uint32_t b = opt.nan.bits ? opt.nan.bits : canonical_nan_bits(to);
  if (opt.nan.keep_sign && neg) b |= sign_bit(to);
  return b & to.mask();
}

}  // namespace

bool has_nan(const Semantics& s) { return s.nonfinite != NonFinite::None; }
bool has_inf(const Semantics& s) { return s.nonfinite == NonFinite::IEEE; }

std::uint32_t max_finite_bits(const Semantics& s) {
  const MaxField m = max_field(s);
  return (m.exp << s.man_bits) | m.man;
}

std::uint32_t canonical_nan_bits(const Semantics& s) {
  if (!has_nan(s)) return max_finite_bits(s);
  const int mag_bits = s.exp_bits + s.man_bits;
  return (1u << mag_bits) - 1u;  // all ones below the sign bit (0x7FFFFFFF, 0x7FFF, 0x7F, 0xFF for ue8m0)
}

std::uint32_t convert(const Semantics& from, const Semantics& to, std::uint32_t bits, const ConvertOptions& opt) {
  Decoded d = decode(from, bits);
  const bool neg = d.neg;
  const std::uint32_t sgn = neg ? sign_bit(to) : 0u;
  if (d.cls == Class::NaN) return nan_result(to, opt, neg);
  if (opt.ftz_input && d.cls == Class::Subnormal) d.cls = Class::Zero;
  if (d.cls == Class::Zero) return to.has_zero ? sgn : 0u;
  if (neg && !to.has_sign) return has_nan(to) ? nan_result(to, opt, false) : 0u;

  const std::uint32_t maxb = max_finite_bits(to);
  auto overflow = [&]() -> std::uint32_t {
    if (!has_nan(to)) return sgn | maxb;  // e2m1: nothing else to give
    switch (opt.saturation) {
      case Saturation::SatFinite: return sgn | maxb;
      case Saturation::NaNOnOverflow: return nan_result(to, opt, neg);
      case Saturation::IEEEInf: {
        if (!has_inf(to)) return nan_result(to, opt, neg);
        const bool toward_zero = opt.rounding == Rounding::RZ || (opt.rounding == Rounding::RP && neg) ||
                                 (opt.rounding == Rounding::RM && !neg);
        if (d.cls == Class::Inf || !toward_zero) return sgn | (static_cast<std::uint32_t>(to.exp_field_max()) << to.man_bits);
        return sgn | maxb;
      }
    }
    return sgn | maxb;
  };
  if (d.cls == Class::Inf) return overflow();

  // Finite non-zero: value = sig * 2^e0.
  const int e0 = d.exp - from.man_bits;
  const std::uint64_t sig = d.sig;
  const int msb = 63 - std::countl_zero(sig);
  const int E = e0 + msb;  // value in [2^E, 2^(E+1))
  // Smallest quantum of the target: subnormal spacing, or for ue8m0 (no zero) the code-0 power.
  const int qmin = to.has_zero ? to.emin() - to.man_bits : to.emin() - 1 - to.man_bits;
  int q = std::max(E - to.man_bits, qmin);
  const int shift = q - e0;
  std::uint64_t n;
  bool inc = false;
  if (shift <= 0) {
    n = sig << (-shift);
  } else {
    std::uint64_t rem;
    std::uint64_t half;
    bool rem_nonzero, above_half, at_half;
    if (shift >= 64) {
      n = 0;
      rem = sig;
      rem_nonzero = true;
      above_half = false;
      at_half = false;
      (void)rem;
      (void)half;
    } else {
      n = sig >> shift;
      rem = sig & ((std::uint64_t{1} << shift) - 1u);
      half = std::uint64_t{1} << (shift - 1);
      rem_nonzero = rem != 0;
      above_half = rem > half;
      at_half = rem == half;
    }
    switch (opt.rounding) {
      case Rounding::RNE: {
        // "Even" is the code's last bit; with no mantissa bits (ue8m0) that is the exponent's.
        const bool lsb_odd = to.man_bits == 0 ? (((q + to.bias) & 1) != 0) : ((n & 1u) != 0);
        inc = above_half || (at_half && lsb_odd);
        break;
      }
      case Rounding::RNA: inc = above_half || at_half; break;
      case Rounding::RZ: inc = false; break;
      case Rounding::RP: inc = !neg && rem_nonzero; break;
      case Rounding::RM: inc = neg && rem_nonzero; break;
    }
  }
  n += inc ? 1u : 0u;
  if (n >> (to.man_bits + 1)) {  // carried into the next binade (n is then a power of two)
    n >>= 1;
    ++q;
  }
  if (n == 0) return to.has_zero ? sgn : 0u;
  std::uint32_t exp_field, man_field;
  if (n < (std::uint64_t{1} << to.man_bits)) {  // subnormal (only formats with zero get here)
    exp_field = 0;
    man_field = static_cast<std::uint32_t>(n);
  } else {
    const long long biased = static_cast<long long>(q) + to.man_bits + to.bias;
    if (biased > static_cast<long long>(to.exp_field_max())) return overflow();
    exp_field = static_cast<std::uint32_t>(biased);
    man_field = static_cast<std::uint32_t>(n - (std::uint64_t{1} << to.man_bits));
  }
  const std::uint32_t mag = (exp_field << to.man_bits) | man_field;
  if (mag > maxb) return overflow();
  return sgn | mag;
}

std::string_view rounding_name(Rounding r) {
  switch (r) {
    case Rounding::RNE: return "rn";
    case Rounding::RZ: return "rz";
    case Rounding::RP: return "rp";
    case Rounding::RM: return "rm";
    case Rounding::RNA: return "rna";
  }
  return "?";
}

std::string_view saturation_name(Saturation s) {
  switch (s) {
    case Saturation::SatFinite: return "satfinite";
    case Saturation::NaNOnOverflow: return "nan-on-overflow";
    case Saturation::IEEEInf: return "ieee-inf";
  }
  return "?";
}

}  // namespace moesim::fmt
