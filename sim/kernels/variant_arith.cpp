// Minimal bf16 rounding and Hopper bf16 T-FDPA chain (see the integration note in the header).
#include "sim/kernels/variant_arith.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>

namespace moesim::kernels {

std::uint16_t bf16_rne(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;
  const std::uint32_t lsb = (u >> 16) & 1u;
  return static_cast<std::uint16_t>((u + 0x7FFFu + lsb) >> 16);
}

float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(std::uint32_t(h) << 16); }

void decode_bf16_row(const std::uint16_t* src, std::int64_t n, Bf16Row& out) {
  const std::int64_t padded = (n + 15) / 16 * 16;
  out.m.assign(static_cast<std::size_t>(padded), 0);
  out.e.assign(static_cast<std::size_t>(padded), 0);
  out.raw.assign(static_cast<std::size_t>(padded), 0);
  out.nonfinite = false;
  out.padded = padded;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint16_t h = src[i];
    out.raw[static_cast<std::size_t>(i)] = h;
    const int ef = (h >> 7) & 0xFF;
    const int mf = h & 0x7F;
    const bool neg = (h >> 15) != 0;
    int m = 0, e = 0;
    if (ef == 0xFF) {
      out.nonfinite = true;
    } else if (ef == 0) {
      m = mf;
      e = -126;
    } else {
      m = 0x80 | mf;
      e = ef - 127;
    }
    out.m[static_cast<std::size_t>(i)] = neg ? -m : m;
    out.e[static_cast<std::size_t>(i)] = e;
  }
}

namespace {

constexpr int kL = 16;
constexpr int kF = 25;
constexpr int kEZero = -133;

// Non-finite step: NaN if any NaN, inf*0 or inf-inf; else the signed infinity.
float nonfinite_step(const Bf16Row& a, const Bf16Row& b, std::int64_t k0, float c) {
  bool nan = std::isnan(c), pinf = std::isinf(c) && c > 0, ninf = std::isinf(c) && c < 0;
  for (int j = 0; j < kL; ++j) {
    const float x = bf16_to_f32(a.raw[static_cast<std::size_t>(k0 + j)]);
    const float y = bf16_to_f32(b.raw[static_cast<std::size_t>(k0 + j)]);
    if (std::isnan(x) || std::isnan(y)) nan = true;
    if ((std::isinf(x) && y == 0.0f) || (std::isinf(y) && x == 0.0f)) nan = true;
    if (std::isinf(x) || std::isinf(y)) {
      const bool neg = std::signbit(x) != std::signbit(y);
      (neg ? ninf : pinf) = true;
    }
  }
  if (nan || (pinf && ninf)) return std::bit_cast<float>(0x7FFFFFFFu);
  if (pinf) return INFINITY;
  if (ninf) return -INFINITY;
  return c;  // not reached for a non-finite step
}

bool step_nonfinite(const Bf16Row& r, std::int64_t k0) {
  for (int j = 0; j < kL; ++j)
    if (((r.raw[static_cast<std::size_t>(k0 + j)] >> 7) & 0xFF) == 0xFF) return true;
  return false;
}

// RZ conversion of S * 2^scale to fp32 (subnormals kept, overflow -> inf).
float rz_to_f32(std::int64_t s, int scale) {
  if (s == 0) return 0.0f;
  const bool neg = s < 0;
  std::uint64_t a = neg ? static_cast<std::uint64_t>(-s) : static_cast<std::uint64_t>(s);
  const int n = 64 - std::countl_zero(a);
  const int lead = scale + n - 1;
  if (lead >= 128) return neg ? -INFINITY : INFINITY;
  if (lead >= -126) {
    if (n > 24) {
      a >>= (n - 24);
      scale += n - 24;
    }
  } else {
    const int shift = -149 - scale;
    if (shift > 0) {
      a = shift >= 64 ? 0 : (a >> shift);
      scale = -149;
    }
  }
  const float r = static_cast<float>(std::ldexp(static_cast<double>(a), scale));
  return neg ? -r : r;
}

float fdpa_step(const Bf16Row& a, const Bf16Row& b, std::int64_t k0, float c) {
  // Decode C as m * 2^(e-23), m with hidden bit.
  const std::uint32_t cu = std::bit_cast<std::uint32_t>(c);
  const int cef = (cu >> 23) & 0xFF;
  std::int64_t cm = cu & 0x7FFFFF;
  int ce;
  if (cef == 0) {
    ce = -126;
  } else {
    cm |= 0x800000;
    ce = cef - 127;
  }
  if (cu >> 31) cm = -cm;
  const bool c_zero = cm == 0;

  std::int32_t pm[kL];
  std::int32_t pe[kL];
  int emax = c_zero ? kEZero : ce;
  const std::int32_t* am = a.m.data() + k0;
  const std::int32_t* ae = a.e.data() + k0;
  const std::int32_t* bm = b.m.data() + k0;
  const std::int32_t* be = b.e.data() + k0;
  for (int j = 0; j < kL; ++j) {
    pm[j] = am[j] * bm[j];
    pe[j] = pm[j] == 0 ? kEZero : ae[j] + be[j];
    emax = std::max(emax, pe[j]);
  }
  // Units of 2^(emax - F). Product j = pm * 2^(pe - 14) = (|pm| << 11) >> (emax - pe) units,
  // truncated toward zero on the magnitude; branch-free (zero products contribute 0).
  std::int64_t sum = 0;
  for (int j = 0; j < kL; ++j) {
    const std::int64_t neg = pm[j] >> 31;  // 0 or -1
    const std::int64_t mag = (static_cast<std::int64_t>(pm[j]) ^ neg) - neg;
    const int rs = std::min(emax - pe[j], 63);
    const std::int64_t t = (mag << (kF - 14)) >> rs;
    sum += (t ^ neg) - neg;
  }
  if (!c_zero) {
    const int sh = ce - emax + (kF - 23);
    const std::int64_t mag = std::llabs(cm);
    std::int64_t t;
    if (sh >= 0) t = mag << sh;
    else t = (-sh >= 63) ? 0 : (mag >> -sh);
    sum += cm < 0 ? -t : t;
  }
  return rz_to_f32(sum, emax - kF);
}

}  // namespace

float hopper_bf16_dot_chain(const Bf16Row& a, const Bf16Row& b, std::int64_t k_begin,
                            std::int64_t k_end, float c) {
  for (std::int64_t k0 = k_begin; k0 < k_end; k0 += kL) {
    if (std::isnan(c) || std::isinf(c) ||
        ((a.nonfinite || b.nonfinite) && (step_nonfinite(a, k0) || step_nonfinite(b, k0)))) {
      c = nonfinite_step(a, b, k0, c);
      continue;
    }
    c = fdpa_step(a, b, k0, c);
  }
  return c;
}

}  // namespace moesim::kernels
