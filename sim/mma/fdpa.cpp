// Scalar FDPA reference (see fdpa.hpp). Follows MMA-Sim's fdpa.py algorithms step by step
// (microsoft/MMA-Sim src/mmasim/mmasim/arithmetic/fdpa.py; peichenxie/MMA-Sim@0a5ce40 for the
// e_zero rule), written as exact integer arithmetic instead of float64 tensors.
#include "sim/mma/fdpa.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/core/error.hpp"

namespace moesim::mma {

namespace {

bool is_nan(const OperandValue& v) { return v.cls == fmt::Class::NaN; }
bool is_inf(const OperandValue& v) { return v.cls == fmt::Class::Inf; }
bool is_zero(const OperandValue& v) { return v.cls == fmt::Class::Zero; }

std::uint32_t nan_bits(Rounding rho) { return rho == Rounding::RNE_FP16 ? kNaN16 : kNaN32; }
std::uint32_t inf_bits(Rounding rho, bool neg) {
  if (rho == Rounding::RNE_FP16) return neg ? 0xFC00u : 0x7C00u;
  return neg ? 0xFF800000u : 0x7F800000u;
}

// Truncation toward zero of mag * 2^q to a multiple of 2^lsb, returned in units of 2^lsb.
// A zero term (its exponent is the fake e_zero, not its own) may sit any distance above lsb:
// return early, since shifting 0 by >= 64 is still undefined behaviour in C++.
std::int64_t truncate_to(std::uint64_t mag, int q, int lsb) {
  if (mag == 0) return 0;
  const int shift = q - lsb;
  if (shift >= 0) return static_cast<std::int64_t>(mag << shift);  // callers bound this (< 2^56)
  if (shift <= -64) return 0;
  return static_cast<std::int64_t>(mag >> (-shift));
}

double exact_value(bool neg, std::uint64_t mag, int q) {
  const double v = std::ldexp(static_cast<double>(mag), q);
  return neg ? -v : v;
}

}  // namespace

OperandValue decode_operand(Operand op, std::uint32_t bits) {
  const fmt::Semantics& s = semantics_of(op);
  if (op == Operand::TF32) bits &= ~0x1FFFu;  // MMA-Sim truncate_fp32_to_tf32
  const fmt::Decoded d = fmt::decode(s, bits);
  OperandValue v{d.cls, d.neg, d.sig, d.exp - s.man_bits, d.exp};
  // e2m1's only subnormal (0.5) enters MMA-Sim as an fp16 value, i.e. normalised: e = -1.
  if (op == Operand::E2M1 && d.cls == fmt::Class::Subnormal)
    v.e = v.q + static_cast<int>(std::bit_width(v.m)) - 1;
  return v;
}

std::uint32_t round_output(Rounding rho, bool neg, std::uint64_t mag, int lsb_exp) {
  if (mag == 0) return 0;
  const int msb = lsb_exp + static_cast<int>(std::bit_width(mag)) - 1;
  if (rho == Rounding::RNE_FP16) {
    const std::uint32_t sign = neg ? 0x8000u : 0u;
    int qexp = std::max(msb, -14) - 10;
    std::uint64_t r;
    if (lsb_exp >= qexp) {
      r = mag << (lsb_exp - qexp);
    } else {
      const int s = qexp - lsb_exp;
      if (s >= 64) {
        r = 0;
      } else {
        r = mag >> s;
        const std::uint64_t rem = mag & ((std::uint64_t{1} << s) - 1);
        const std::uint64_t half = std::uint64_t{1} << (s - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
      }
    }
    if (r == (std::uint64_t{1} << 11)) {  // rounding carried into the next binade
      r >>= 1;
      ++qexp;
    }
    if (r < (1u << 10)) return sign | static_cast<std::uint32_t>(r);  // subnormal or zero
    const int biased = qexp + 10 + 15;
    if (biased >= 31) return sign | 0x7C00u;
    return sign | (static_cast<std::uint32_t>(biased) << 10) | static_cast<std::uint32_t>(r & 0x3FFu);
  }
  const std::uint32_t sign = neg ? 0x80000000u : 0u;
  if (msb >= 128) return sign | 0x7F800000u;  // overflow gives inf even in RZ
  const int p = rho == Rounding::RZ_E8M13 ? 13 : 23;
  const int qexp = std::max(msb, -126) - p;
  std::uint64_t r;
  if (lsb_exp >= qexp) r = mag << (lsb_exp - qexp);
  else r = (qexp - lsb_exp >= 64) ? 0 : (mag >> (qexp - lsb_exp));
  const std::uint32_t frac = static_cast<std::uint32_t>(r) << (23 - p);
  // A non-zero sum that truncates to zero comes out +0 on the H100 (30 of the recorded
  // wgmma bf16 vectors: negative sums below 2^-149 give 0x00000000, where MMA-Sim's
  // torch.trunc would give -0). Not verified for RNE-FP16 outputs, which keep the sign.
  if (r == 0) return 0;
  if (msb < -126) return sign | frac;  // subnormal
  return sign | (static_cast<std::uint32_t>(msb + 127) << 23) | (frac & 0x7FFFFFu);
}

void check_shapes(const FdpaParams& p, std::size_t k, std::size_t n_scale_a, std::size_t n_scale_b,
                  const std::string& where) {
  if (k == 0 || k % static_cast<std::size_t>(p.l) != 0)
    throw InputError(where, p.key() + " needs K to be a positive multiple of L=" + std::to_string(p.l) +
                                ", got " + std::to_string(k));
  if (p.algorithm == Algorithm::T) {
    if (n_scale_a || n_scale_b) throw InputError(where, p.key() + " takes no scale factors");
    return;
  }
  const std::size_t want = k / static_cast<std::size_t>(p.scale_block);
  if (n_scale_a != want || n_scale_b != want)
    throw InputError(where, p.key() + " needs K/" + std::to_string(p.scale_block) + " = " + std::to_string(want) +
                                " scale factors per side, got " + std::to_string(n_scale_a) + " and " +
                                std::to_string(n_scale_b));
}

std::uint32_t fdpa_step(const FdpaParams& p, const std::uint32_t* a, const std::uint32_t* b, int n,
                        std::uint32_t c_bits, const std::uint32_t* sa, const std::uint32_t* sb,
                        StepTrace* trace) {
  if (trace) {
    trace->c_in = c_bits;
    trace->terms.clear();
    trace->special.clear();
  }
  auto special = [&](std::uint32_t r, const char* why) {
    if (trace) {
      trace->special = why;
      trace->result = r;
    }
    return r;
  };
  const OperandValue c = decode_operand(p.c, c_bits);

  // Special values (MMA-Sim: the float64 sum of the exact products and C decides):
  // any NaN, inf*0, inf-inf -> canonical NaN; otherwise an infinity propagates.
  bool pos_inf = false, neg_inf = false;
  if (is_nan(c)) return special(nan_bits(p.rho), "NaN in C");
  if (is_inf(c)) (c.neg ? neg_inf : pos_inf) = true;
  if (p.algorithm != Algorithm::T) {
    const int n_scales = p.algorithm == Algorithm::ST ? 1 : n;
    for (int i = 0; i < n_scales; ++i)
      if (is_nan(decode_operand(*p.scale, sa[i])) || is_nan(decode_operand(*p.scale, sb[i])))
        return special(nan_bits(p.rho), "NaN scale factor");
  }
  const int n_products = p.algorithm == Algorithm::GST ? n * p.g : n;
  for (int i = 0; i < n_products; ++i) {
    const OperandValue x = decode_operand(p.a, a[i]);
    const OperandValue y = decode_operand(p.b, b[i]);
    if (is_nan(x) || is_nan(y)) return special(nan_bits(p.rho), "NaN in A or B");
    if (is_inf(x) || is_inf(y)) {
      if (is_zero(x) || is_zero(y)) return special(nan_bits(p.rho), "inf*0");
      ((x.neg != y.neg) ? neg_inf : pos_inf) = true;
    }
  }
  if (pos_inf && neg_inf) return special(nan_bits(p.rho), "inf-inf");
  if (pos_inf || neg_inf) return special(inf_bits(p.rho, neg_inf), "inf");

  // Terms: (sign, magnitude, lsb exponent q, alignment exponent e).
  struct Term {
    bool neg;
    std::uint64_t mag;
    int q;
    int e;
  };
  Term terms[129];
  int nt = 0;
  if (p.algorithm == Algorithm::GST) {
    for (int gi = 0; gi < n; ++gi) {
      std::int64_t gsum = 0;  // exact group sum in units of 2^qg
      bool all_zero = true;
      int qg = 0;
      for (int j = 0; j < p.g; ++j) {
        const OperandValue x = decode_operand(p.a, a[gi * p.g + j]);
        const OperandValue y = decode_operand(p.b, b[gi * p.g + j]);
        // e2m1: every value is a multiple of 2^-1, so products are multiples of 2^-2.
        const int q = x.q + y.q;
        const std::int64_t prod = static_cast<std::int64_t>(x.m) * y.m;
        if (prod != 0) all_zero = false;
        const std::int64_t unit = prod << (q + 2);  // q >= -2 for e2m1
        gsum += (x.neg != y.neg) ? -unit : unit;
        qg = -2;
      }
      const OperandValue s1 = decode_operand(*p.scale, sa[gi]);
      const OperandValue s2 = decode_operand(*p.scale, sb[gi]);
      const std::uint64_t smag = static_cast<std::uint64_t>(s1.m) * s2.m;
      const bool zero = all_zero || smag == 0;
      const std::uint64_t mag = static_cast<std::uint64_t>(gsum < 0 ? -gsum : gsum) * smag;
      terms[nt++] = {gsum < 0, mag, qg + s1.q + s2.q, zero ? p.e_zero : s1.e + s2.e};
    }
  } else {
    int sq = 0, se = 0;
    std::uint64_t sm = 1;
    if (p.algorithm == Algorithm::ST) {
      const OperandValue s1 = decode_operand(*p.scale, sa[0]);
      const OperandValue s2 = decode_operand(*p.scale, sb[0]);
      sq = s1.q + s2.q;
      se = s1.e + s2.e;
      sm = static_cast<std::uint64_t>(s1.m) * s2.m;
    }
    for (int i = 0; i < n; ++i) {
      const OperandValue x = decode_operand(p.a, a[i]);
      const OperandValue y = decode_operand(p.b, b[i]);
      const std::uint64_t mag = static_cast<std::uint64_t>(x.m) * y.m * sm;
      terms[nt++] = {x.neg != y.neg, mag, x.q + y.q + sq, mag == 0 ? p.e_zero : x.e + y.e + se};
    }
  }
  terms[nt++] = {c.neg, c.m, c.q, c.m == 0 ? p.e_zero : c.e};

  int e_max = terms[0].e;
  for (int i = 1; i < nt; ++i) e_max = std::max(e_max, terms[i].e);
  const int lsb = e_max - p.f;
  std::int64_t sum = 0;
  for (int i = 0; i < nt; ++i) {
    const std::int64_t t = truncate_to(terms[i].mag, terms[i].q, lsb);
    sum += terms[i].neg ? -t : t;
    if (trace) {
      TermTrace tt;
      if (i == nt - 1) tt.label = "c";
      else if (p.algorithm == Algorithm::GST) tt.label = "group" + std::to_string(i);
      else tt.label = "a" + std::to_string(i) + "*b" + std::to_string(i);
      tt.value = exact_value(terms[i].neg, terms[i].mag, terms[i].q);
      tt.exponent = terms[i].e;
      tt.zero = terms[i].mag == 0;
      tt.truncated = terms[i].neg ? -t : t;
      trace->terms.push_back(tt);
    }
  }
  const std::uint32_t r =
      round_output(p.rho, sum < 0, static_cast<std::uint64_t>(sum < 0 ? -sum : sum), lsb);
  if (trace) {
    trace->e_max = e_max;
    trace->lsb_exponent = lsb;
    trace->sum = sum;
    trace->result = r;
  }
  return r;
}

std::uint32_t dot(const FdpaParams& p, std::span<const std::uint32_t> a, std::span<const std::uint32_t> b,
                  std::uint32_t c, std::span<const std::uint32_t> scale_a, std::span<const std::uint32_t> scale_b,
                  DotTrace* trace) {
  if (a.size() != b.size())
    throw InputError("mma::dot", "A has " + std::to_string(a.size()) + " elements but B has " +
                                     std::to_string(b.size()));
  check_shapes(p, a.size(), scale_a.size(), scale_b.size(), "mma::dot " + p.key());
  if (trace) trace->steps.clear();
  const int steps = static_cast<int>(a.size()) / p.l;
  for (int s = 0; s < steps; ++s) {
    const std::size_t k0 = static_cast<std::size_t>(s) * p.l;
    const std::uint32_t* sa = nullptr;
    const std::uint32_t* sb = nullptr;
    std::vector<std::uint32_t> ga, gb;  // GST: one scale per group
    int n = p.l;
    if (p.algorithm == Algorithm::ST) {
      sa = &scale_a[k0 / p.scale_block];
      sb = &scale_b[k0 / p.scale_block];
    } else if (p.algorithm == Algorithm::GST) {
      n = p.l / p.g;
      for (int gi = 0; gi < n; ++gi) {
        ga.push_back(scale_a[(k0 + static_cast<std::size_t>(gi) * p.g) / p.scale_block]);
        gb.push_back(scale_b[(k0 + static_cast<std::size_t>(gi) * p.g) / p.scale_block]);
      }
      sa = ga.data();
      sb = gb.data();
    }
    StepTrace st;
    c = fdpa_step(p, a.data() + k0, b.data() + k0, n, c, sa, sb, trace ? &st : nullptr);
    if (trace) {
      st.step = s;
      trace->steps.push_back(std::move(st));
    }
  }
  return c;
}

}  // namespace moesim::mma
