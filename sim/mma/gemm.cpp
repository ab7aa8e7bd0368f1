// Chained T-FDPA GEMM kernels (see gemm.hpp for the method). Exactness argument, per step:
//  * operands of <= 16 bits have <= 11-bit significands, so every product a*b is exact in
//    double (no underflow: |values| stay above 2^-600);
//  * SIMD kernels (row_rz_*): with Q = 2^(e_max - F) and M = 2^52 * Q, a positive accumulator
//    starting at M has ulp Q for as long as it stays below 2^53 * Q, so one fused multiply-add
//    rounded toward zero adds exactly floor(t / Q) * Q = trunc_Q(t) of a positive product t;
//    a negative accumulator starting at -M likewise adds trunc_Q(t) of a negative product
//    (round toward zero shrinks the magnitude). Every term is below 2^(F+2) * Q (a product's
//    exponent is <= e_max, its significand < 4), so (L+1) terms keep each accumulator in its
//    binade when (L+1) * 2^(F+2) <= 2^52 (rz_kernel_ok); C joins the accumulator of its sign.
//    (accP - M) + (accN + M) is then the model's exact fixed-point sum (all three operations
//    exact: multiples of Q far below 2^53 * Q);
//  * portable path: trunc(a * b * 2^(F - e_max)) is the same truncated term as an integer
//    below 2^(F+2); (L+1) of them sum exactly in double when (L+1)*2^(F+2) <= 2^53
//    (gemm_supported), in any order; the sum times 2^(e_max - F) is exact;
//  * the fp32 conversion with round-toward-zero is then the model's RZ rounding of the exact
//    sum (fp32 subnormals kept, since FTZ/DAZ are cleared for the call); >= 2^128 becomes inf as
//    in the model; RZ-E8M13 keeps 13 of the 23 fraction bits (same bits as truncating the
//    exact sum to 14 significant bits, subnormals on the 2^-139 grid); a zero result is +0.
//  * e_max: zero products take e_zero in the model; gemm_supported requires e_zero <= C's
//    minimum exponent, and C's own exponent (e_zero when C is zero) is always in the max, so a
//    zero product never changes e_max and is simply left out (its exponent is kZeroExp). When
//    C's exponent is >= amax(row, step) + bmax(column, step) for all lanes, no product can
//    exceed it and e_max is C's exponent without the per-product search.
// Steps with a NaN/Inf operand or C go to the scalar model fdpa_step for the affected lanes.
#include "sim/mma/gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <string>

#include "sim/core/error.hpp"
#include "sim/mma/fdpa.hpp"

// GCC 12's AVX-512 headers build vectors from _mm*_undefined_*() and then warn about them
// (-Wmaybe-uninitialized) wherever they are inlined; the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace moesim::mma {

namespace {

constexpr int kW = PackedB::kPanel;
constexpr std::size_t kVStep = PackedB::kGroup * 2 * kW;  // pn: next k, same panel
constexpr std::size_t kEStep = PackedB::kGroup * kW;      // exp: next k, same panel
constexpr std::int32_t kZeroExp = -(1 << 24);  // exponent of a zero (or non-finite) element
constexpr int kChunkElems = 256;               // K elements per cache block of the chain

// ---- element decoding -----------------------------------------------------------------------
struct Elem {
  double v;
  std::int32_t e;
  bool special;
};

Elem decode_elem_model(Operand op, std::uint32_t bits) {
  const OperandValue x = decode_operand(op, bits);
  if (x.cls == fmt::Class::NaN || x.cls == fmt::Class::Inf) return {0.0, kZeroExp, true};
  if (x.m == 0) return {0.0, kZeroExp, false};
  const double v = std::ldexp(static_cast<double>(x.m), x.q);
  return {x.neg ? -v : v, x.e, false};
}

struct SmallTable {
  Elem e[256];
};

SmallTable build_table(Operand op) {
  SmallTable t{};
  const int n = 1 << semantics_of(op).bits;
  for (int i = 0; i < 256; ++i) t.e[i] = decode_elem_model(op, static_cast<std::uint32_t>(i % n));
  return t;
}

// Decoder for one operand format: a table for <= 8-bit formats (built once from the model's
// decoder), bit arithmetic for the 16-bit IEEE formats (bf16, fp16).
class Decoder {
 public:
  explicit Decoder(Operand op) : s_(semantics_of(op)) {
    switch (op) {
      case Operand::E4M3: {
        static const SmallTable t = build_table(Operand::E4M3);
        table_ = &t;
        break;
      }
      case Operand::E5M2: {
        static const SmallTable t = build_table(Operand::E5M2);
        table_ = &t;
        break;
      }
      case Operand::E2M1: {
        static const SmallTable t = build_table(Operand::E2M1);
        table_ = &t;
        break;
      }
      case Operand::FP16:
      case Operand::BF16: break;
      default: throw InputError("mma::gemm", std::string(operand_name(op)) + " operands have no fast decoder");
    }
  }
  Elem operator()(std::uint16_t bits) const {
    if (table_) return table_->e[bits & 0xFF & s_.mask()];
    const std::uint32_t man = static_cast<std::uint32_t>(s_.man_bits);
    const std::uint32_t emask = (1u << s_.exp_bits) - 1u;
    const std::uint32_t ef = (bits >> man) & emask, mf = bits & ((1u << man) - 1u);
    if (ef == emask) return {0.0, kZeroExp, true};  // IEEE: inf or NaN
    const std::uint32_t m = ef ? (mf | (1u << man)) : mf;
    if (m == 0) return {0.0, kZeroExp, false};
    const int e = ef ? static_cast<int>(ef) - s_.bias : 1 - s_.bias;
    const double pw = std::bit_cast<double>(static_cast<std::uint64_t>(e - static_cast<int>(man) + 1023) << 52);
    const double v = static_cast<double>(m) * pw;
    return {((bits >> (s_.bits - 1)) & 1u) ? -v : v, e, false};
  }

 private:
  fmt::Semantics s_;
  const SmallTable* table_ = nullptr;
};

// FTZ/DAZ off (fp32 subnormal C and results must stay exact), round toward zero (the AVX2
// fp32 conversion reads it; every other double operation here is exact), exceptions masked.
class MxcsrGuard {
 public:
  MxcsrGuard() : old_(_mm_getcsr()) { _mm_setcsr((old_ & ~0x8040u) | 0x6000u | 0x1F80u); }
  ~MxcsrGuard() { _mm_setcsr(old_); }
  MxcsrGuard(const MxcsrGuard&) = delete;
  MxcsrGuard& operator=(const MxcsrGuard&) = delete;

 private:
  unsigned old_;
};

#define MOESIM_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#define MOESIM_AVX2 __attribute__((target("avx2,fma")))

// Decodes n contiguous elements into v/e (and sp: 1 for NaN/Inf), the same values as Decoder.
// bf16 with AVX-512: 16 elements per iteration (the packing of a whole expert's weights is
// otherwise the hot spot at small token counts).
MOESIM_AVX512 void decode_bf16_avx512(const std::uint16_t* src, int n, double* v, std::int32_t* e, std::uint8_t* sp) {
  const MxcsrGuard guard;  // DAZ off: bf16 subnormals widen exactly
  const __m512i fmax = _mm512_set1_epi32(255), one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(127);
  const __m512i absm = _mm512_set1_epi32(0x7FFF), zexp = _mm512_set1_epi32(kZeroExp), zero = _mm512_setzero_si512();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    const __m512i field = _mm512_and_si512(_mm512_srli_epi32(w, 7), fmax);
    const __mmask16 special = _mm512_cmpeq_epi32_mask(field, fmax);
    const __mmask16 nul = _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, absm), zero);
    const __m512i ee = _mm512_mask_mov_epi32(_mm512_sub_epi32(_mm512_max_epi32(field, one), bias), special | nul, zexp);
    const __m512 f = _mm512_castsi512_ps(_mm512_maskz_mov_epi32(static_cast<__mmask16>(~special), _mm512_slli_epi32(w, 16)));
    _mm512_storeu_pd(v + i, _mm512_cvtps_pd(_mm512_castps512_ps256(f)));
    _mm512_storeu_pd(v + i + 8, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1))));
    _mm512_storeu_si512(e + i, ee);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(sp + i), _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(special, one)));
  }
  const Decoder dec(Operand::BF16);
  for (; i < n; ++i) {
    const Elem x = dec(src[i]);
    v[i] = x.v;
    e[i] = x.e;
    sp[i] = x.special;
  }
}

// One full panel of bf16 B (8 rows of Bt) for k in [0, kend), kend a multiple of 8: 8x8 blocks
// of bit patterns transposed in registers, decoded (same values as Decoder / the model's
// decoder), stored sign-split with exponents, step maxima and NaN/Inf lane masks. The packing
// of a whole expert's weights is the fixed per-GEMM cost at small token counts.
MOESIM_AVX512 void pack_bf16_panel_avx512(const std::uint16_t* const* src, int kend, int l, double* v, std::int32_t* e,
                                          std::int32_t* bm, std::uint8_t* sp) {
  const MxcsrGuard guard;  // DAZ off: bf16 subnormals widen exactly
  const __m256i fmax = _mm256_set1_epi32(255), one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(127);
  const __m256i absm = _mm256_set1_epi32(0x7FFF), zexp = _mm256_set1_epi32(kZeroExp), zero = _mm256_setzero_si256();
  const __m512d dz = _mm512_setzero_pd();
  for (int k0 = 0; k0 < kend; k0 += 8) {
    __m128i r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[i] + k0));
    const __m128i t0 = _mm_unpacklo_epi16(r[0], r[1]), t1 = _mm_unpackhi_epi16(r[0], r[1]);
    const __m128i t2 = _mm_unpacklo_epi16(r[2], r[3]), t3 = _mm_unpackhi_epi16(r[2], r[3]);
    const __m128i t4 = _mm_unpacklo_epi16(r[4], r[5]), t5 = _mm_unpackhi_epi16(r[4], r[5]);
    const __m128i t6 = _mm_unpacklo_epi16(r[6], r[7]), t7 = _mm_unpackhi_epi16(r[6], r[7]);
    const __m128i u0 = _mm_unpacklo_epi32(t0, t2), u1 = _mm_unpackhi_epi32(t0, t2);
    const __m128i u2 = _mm_unpacklo_epi32(t1, t3), u3 = _mm_unpackhi_epi32(t1, t3);
    const __m128i u4 = _mm_unpacklo_epi32(t4, t6), u5 = _mm_unpackhi_epi32(t4, t6);
    const __m128i u6 = _mm_unpacklo_epi32(t5, t7), u7 = _mm_unpackhi_epi32(t5, t7);
    const __m128i col[8] = {_mm_unpacklo_epi64(u0, u4), _mm_unpackhi_epi64(u0, u4), _mm_unpacklo_epi64(u1, u5),
                            _mm_unpackhi_epi64(u1, u5), _mm_unpacklo_epi64(u2, u6), _mm_unpackhi_epi64(u2, u6),
                            _mm_unpacklo_epi64(u3, u7), _mm_unpackhi_epi64(u3, u7)};
    for (int kk = 0; kk < 8; ++kk) {
      const int k = k0 + kk;
      const __m256i w = _mm256_cvtepu16_epi32(col[kk]);  // lane i = row i's element k
      const __m256i field = _mm256_and_si256(_mm256_srli_epi32(w, 7), fmax);
      const __mmask8 special = _mm256_cmpeq_epi32_mask(field, fmax);
      const __mmask8 nul = _mm256_cmpeq_epi32_mask(_mm256_and_si256(w, absm), zero);
      const __m256i ee = _mm256_mask_mov_epi32(_mm256_sub_epi32(_mm256_max_epi32(field, one), bias), special | nul, zexp);
      const __m512d d = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_maskz_mov_epi32(static_cast<__mmask8>(~special),
                                                                                     _mm256_slli_epi32(w, 16))));
      double* vk = v + static_cast<std::size_t>(k) * kVStep;
      _mm512_storeu_pd(vk, _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, dz, _CMP_GT_OQ), d));
      _mm512_storeu_pd(vk + kW, _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, dz, _CMP_LT_OQ), d));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(e + static_cast<std::size_t>(k) * kEStep), ee);
      std::int32_t* b = bm + static_cast<std::size_t>(k / l) * kW;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b), _mm256_max_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), ee));
      sp[k / l] |= static_cast<std::uint8_t>(special);
    }
  }
}

void decode_row(Operand op, const std::uint16_t* src, int n, double* v, std::int32_t* e, std::uint8_t* sp) {
  if (op == Operand::BF16 && best_path() == SimdPath::AVX512) return decode_bf16_avx512(src, n, v, e, sp);
  const Decoder dec(op);
  for (int i = 0; i < n; ++i) {
    const Elem x = dec(src[i]);
    v[i] = x.v;
    e[i] = x.e;
    sp[i] = x.special;
  }
}

// ---- one unit of work: rows [r0, r0+R) of A, one panel q of B, steps [s0, s1) ------------------
struct Job {
  const FdpaParams* p;
  const PackedA* a;
  const PackedB* b;
  int s0, s1;
  int steps;  // steps per row (k_padded / L)
};

// Lanes in `mask` of one step go through the scalar model (NaN/Inf in A, B or C).
void fix_lanes(const Job& j, int row, int q, int s, unsigned mask, const std::uint32_t* c_old, std::uint32_t* c_new) {
  const int L = j.p->l, kp = j.a->k_padded();
  std::uint32_t ta[64], tb[64];
  const std::uint16_t* ar = &j.a->raw[static_cast<std::size_t>(row) * kp + static_cast<std::size_t>(s) * L];
  for (int l = 0; l < L; ++l) ta[l] = ar[l];
  for (int lane = 0; lane < kW; ++lane) {
    if (!((mask >> lane) & 1u)) continue;
    const int col = q * kW + lane;
    if (col >= j.b->n()) {  // padding column: never read back
      c_new[lane] = 0;
      continue;
    }
    const std::uint16_t* br = &j.b->raw[static_cast<std::size_t>(col) * kp + static_cast<std::size_t>(s) * L];
    for (int l = 0; l < L; ++l) tb[l] = br[l];
    c_new[lane] = fdpa_step(*j.p, ta, tb, L, c_old[lane], nullptr, nullptr);
  }
}

// ---- portable path (also every accumulator format other than fp32 + RZ) -----------------------
void panel_generic(const Job& j, int r0, int R, int q, std::uint32_t* cs, std::int64_t ldc) {
  const FdpaParams& p = *j.p;
  const int L = p.l, F = p.f, kp = j.a->k_padded();
  for (int r = 0; r < R; ++r) {
    const int row = r0 + r;
    for (int lane = 0; lane < kW; ++lane) {
      std::uint32_t c = cs[r * ldc + lane];
      for (int s = j.s0; s < j.s1; ++s) {
        const OperandValue cv = decode_operand(p.c, c);
        const bool special = j.a->special[static_cast<std::size_t>(row) * j.steps + s] ||
                             ((j.b->special[static_cast<std::size_t>(q) * j.steps + s] >> lane) & 1u) ||
                             cv.cls == fmt::Class::NaN || cv.cls == fmt::Class::Inf;
        if (special) {
          std::uint32_t in[kW] = {}, out[kW] = {};
          in[lane] = c;
          fix_lanes(j, row, q, s, 1u << lane, in, out);
          c = out[lane];
          continue;
        }
        const std::size_t ka = static_cast<std::size_t>(row) * kp + static_cast<std::size_t>(s) * L;
        const std::size_t kb = PackedB::exp_at(q, s * L, kp) + lane;
        const std::size_t kb2 = PackedB::pn_at(q, s * L, kp) + lane;
        int emax = cv.m == 0 ? p.e_zero : cv.e;
        for (int l = 0; l < L; ++l) emax = std::max(emax, j.a->exp[ka + l] + j.b->exp[kb + static_cast<std::size_t>(l) * kEStep]);
        const double sc = std::ldexp(1.0, F - emax);
        const double cval = std::ldexp(static_cast<double>(cv.m), cv.q);
        double sum = std::trunc((cv.neg ? -cval : cval) * sc);
        for (int l = 0; l < L; ++l)
          sum += std::trunc(j.a->val[ka + l] * (j.b->pn[kb2 + static_cast<std::size_t>(l) * kVStep] +
                                                 j.b->pn[kb2 + static_cast<std::size_t>(l) * kVStep + kW]) * sc);
        const double mag = std::fabs(sum);
        c = round_output(p.rho, sum < 0, static_cast<std::uint64_t>(mag), emax - F);
      }
      cs[r * ldc + lane] = c;
    }
  }
}

// ---- helpers -------------------------------------------------------------------------------------
MOESIM_AVX2 inline __m256d pow2_pd(__m128i e_biased) {
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(e_biased), 52));
}

// ---- AVX-512, round-toward-zero accumulators: one row, P panels of 8 columns -----------------
// Per step and lane: e_max as in the model (skipped when C's exponent already bounds every
// product: e_c >= amax(row, step) + bmax(column, step)); then, with Q = 2^(e_max - F) and
// M = 2^52 * Q, two accumulators start at +M and -M. Every product a*b (exact) is added with one
// fused multiply-add rounded toward zero: positive products into the +M accumulator, whose
// ulp is Q, so RZ(acc + t) = acc + floor(t / Q) * Q = acc + trunc_Q(t); negative ones into the
// -M accumulator, where RZ rounds the magnitude down, i.e. again trunc_Q(t). Terms stay below
// (L+1) * 2^(F+2) quanta <= 2^52 (rz_kernel_ok), so both accumulators keep their binade. A
// product's sign is sign(a) * sign(b): B is stored sign-split (PackedB::pn, positive values then
// negative values, the other half +0, which adds nothing), and A's offp/offn pick the halves.
// C joins the accumulator of its sign the same way (its truncation to Q). The sum
// (accP - M) + (accN + M) is exact; converting it to fp32 with RZ is the model's rho.
bool rz_kernel_ok(const FdpaParams& p) {
  return static_cast<double>(p.l + 1) * std::ldexp(1.0, p.f + 2) <= std::ldexp(1.0, 52) && p.f <= 60;
}

template <int P>
MOESIM_AVX512 void row_rz_avx512(const Job& j, int row, int q, std::uint32_t* cs) {
  const FdpaParams& p = *j.p;
  const int L = p.l, kp = j.a->k_padded();
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(127), fmax = _mm256_set1_epi32(255);
  const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), ez = _mm256_set1_epi32(p.e_zero);
  const __m256i mbias = _mm256_set1_epi32(52 - p.f + 1023);
  const __m256i fracm = _mm256_set1_epi32(p.rho == Rounding::RZ_E8M13 ? static_cast<int>(0xFFFFFC00u) : -1);
  const __m256i negz = _mm256_set1_epi32(static_cast<int>(0x80000000u)), zero = _mm256_setzero_si256();
  const __m512d big = _mm512_set1_pd(0x1p128), signm = _mm512_set1_pd(-0.0), inf = _mm512_set1_pd(INFINITY);
  const __m512d dzero = _mm512_setzero_pd();
  constexpr int kRZ = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
  constexpr std::size_t pstride = 2 * kW, estride = kW;  // next panel of the group, same k
  __m256i c[P];
  _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) c[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cs + i * kW));
  for (int s = j.s0; s < j.s1; ++s) {
    const std::size_t ka = static_cast<std::size_t>(row) * kp + static_cast<std::size_t>(s) * L;
    const double* av = &j.a->val[ka];
    const std::int32_t* ae = &j.a->exp[ka];
    const std::int32_t* op = &j.a->offp[ka];
    const std::int32_t* on = &j.a->offn[ka];
    const __m256i amax = _mm256_set1_epi32(j.a->amax[static_cast<std::size_t>(row) * j.steps + s]);
    __m256i em[P];
    __mmask8 nf[P];
    unsigned need = 0;
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      const __m256i field = _mm256_and_si256(_mm256_srli_epi32(c[i], 23), fmax);
      const __m256i ce = _mm256_sub_epi32(_mm256_max_epi32(field, one), bias);
      em[i] = _mm256_mask_mov_epi32(ce, _mm256_cmpeq_epi32_mask(_mm256_and_si256(c[i], absm), zero), ez);
      nf[i] = _mm256_cmpeq_epi32_mask(field, fmax);
      const __m256i bm = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(&j.b->bmax[(static_cast<std::size_t>(q + i) * j.steps + s) * kW]));
      need |= _mm256_cmpgt_epi32_mask(_mm256_add_epi32(amax, bm), em[i]);
    }
    if (need) {  // some product may exceed C's exponent: the exact e_max
      const std::int32_t* be = &j.b->exp[PackedB::exp_at(q, s * L, kp)];
      for (int l = 0; l < L; ++l) {
        const __m256i ea = _mm256_set1_epi32(ae[l]);
        _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) em[i] = _mm256_max_epi32(
            em[i], _mm256_add_epi32(ea, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(be + i * estride + l * kEStep))));
      }
    }
    __m512d M[P], accP[P], accN[P];
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      M[i] = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm256_add_epi32(em[i], mbias)), 52));
      const __m512d cd = _mm512_cvtps_pd(_mm256_castsi256_ps(c[i]));
      accP[i] = _mm512_add_round_pd(M[i], _mm512_max_pd(cd, dzero), kRZ);
      accN[i] = _mm512_add_round_pd(_mm512_sub_pd(dzero, M[i]), _mm512_min_pd(cd, dzero), kRZ);
    }
    const double* bl = &j.b->pn[PackedB::pn_at(q, s * L, kp)];
    for (int l = 0; l < L; ++l) {
      const __m512d a = _mm512_set1_pd(av[l]);
      const double* bp = bl + l * kVStep + op[l];
      const double* bn = bl + l * kVStep + on[l];
      _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
        // MXCSR rounds toward zero for the call (MxcsrGuard): plain FMAs, loads folded in.
        accP[i] = _mm512_fmadd_pd(a, _mm512_loadu_pd(bp + i * pstride), accP[i]);
        accN[i] = _mm512_fmadd_pd(a, _mm512_loadu_pd(bn + i * pstride), accN[i]);
      }
    }
    const unsigned asp = j.a->special[static_cast<std::size_t>(row) * j.steps + s] ? 0xFFu : 0u;
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      __m512d x = _mm512_add_pd(_mm512_sub_pd(accP[i], M[i]), _mm512_add_pd(accN[i], M[i]));  // exact
      const __mmask8 ovf = _mm512_cmp_pd_mask(_mm512_abs_pd(x), big, _CMP_GE_OQ);
      x = _mm512_mask_or_pd(x, ovf, _mm512_and_pd(x, signm), inf);
      __m256i f = _mm256_and_si256(_mm256_castps_si256(_mm512_cvt_roundpd_ps(x, kRZ)), fracm);
      f = _mm256_mask_mov_epi32(f, _mm256_cmpeq_epi32_mask(f, negz), zero);  // RZ to zero gives +0
      const unsigned mask = nf[i] | j.b->special[static_cast<std::size_t>(q + i) * j.steps + s] | asp;
      if (mask) {
        alignas(32) std::uint32_t oc[kW], ncv[kW];
        _mm256_store_si256(reinterpret_cast<__m256i*>(oc), c[i]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(ncv), f);
        fix_lanes(j, row, q + i, s, mask, oc, ncv);
        f = _mm256_load_si256(reinterpret_cast<const __m256i*>(ncv));
      }
      c[i] = f;
    }
  }
  _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(cs + i * kW), c[i]);
}

// The same kernel with AVX2: the panel's 8 lanes as two halves of 4 doubles. No embedded
// rounding: the MXCSR is round-toward-zero for the whole call (MxcsrGuard), so every add and
// fused multiply-add here rounds toward zero.
template <int P>
MOESIM_AVX2 void row_rz_avx2(const Job& j, int row, int q, std::uint32_t* cs) {
  const FdpaParams& p = *j.p;
  const int L = p.l, kp = j.a->k_padded();
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(127), fmax = _mm256_set1_epi32(255);
  const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), ez = _mm256_set1_epi32(p.e_zero);
  const __m256i mbias = _mm256_set1_epi32(52 - p.f + 1023);
  const __m256i fracm = _mm256_set1_epi32(p.rho == Rounding::RZ_E8M13 ? static_cast<int>(0xFFFFFC00u) : -1);
  const __m256i negz = _mm256_set1_epi32(static_cast<int>(0x80000000u)), zero = _mm256_setzero_si256();
  const __m256d big = _mm256_set1_pd(0x1p128), signm = _mm256_set1_pd(-0.0), inf = _mm256_set1_pd(INFINITY);
  const __m256d dzero = _mm256_setzero_pd();
  constexpr std::size_t pstride = 2 * kW, estride = kW;
  __m256i c[P];
  _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) c[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cs + i * kW));
  for (int s = j.s0; s < j.s1; ++s) {
    const std::size_t ka = static_cast<std::size_t>(row) * kp + static_cast<std::size_t>(s) * L;
    const double* av = &j.a->val[ka];
    const std::int32_t* ae = &j.a->exp[ka];
    const std::int32_t* op = &j.a->offp[ka];
    const std::int32_t* on = &j.a->offn[ka];
    const __m256i amax = _mm256_set1_epi32(j.a->amax[static_cast<std::size_t>(row) * j.steps + s]);
    __m256i em[P];
    unsigned nf[P];
    __m256i need = zero;
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      const __m256i field = _mm256_and_si256(_mm256_srli_epi32(c[i], 23), fmax);
      const __m256i ce = _mm256_sub_epi32(_mm256_max_epi32(field, one), bias);
      em[i] = _mm256_blendv_epi8(ce, ez, _mm256_cmpeq_epi32(_mm256_and_si256(c[i], absm), zero));
      nf[i] = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(field, fmax))));
      const __m256i bm = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(&j.b->bmax[(static_cast<std::size_t>(q + i) * j.steps + s) * kW]));
      need = _mm256_or_si256(need, _mm256_cmpgt_epi32(_mm256_add_epi32(amax, bm), em[i]));
    }
    if (!_mm256_testz_si256(need, need)) {
      const std::int32_t* be = &j.b->exp[PackedB::exp_at(q, s * L, kp)];
      for (int l = 0; l < L; ++l) {
        const __m256i ea = _mm256_set1_epi32(ae[l]);
        _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) em[i] = _mm256_max_epi32(
            em[i], _mm256_add_epi32(ea, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(be + i * estride + l * kEStep))));
      }
    }
    __m256d M[P][2], accP[P][2], accN[P][2];
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      const __m256i mb = _mm256_add_epi32(em[i], mbias);
      M[i][0] = pow2_pd(_mm256_castsi256_si128(mb));
      M[i][1] = pow2_pd(_mm256_extracti128_si256(mb, 1));
      const __m256 cf = _mm256_castsi256_ps(c[i]);
      const __m256d cd[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(cf)), _mm256_cvtps_pd(_mm256_extractf128_ps(cf, 1))};
      for (int h = 0; h < 2; ++h) {
        accP[i][h] = _mm256_add_pd(M[i][h], _mm256_max_pd(cd[h], dzero));
        accN[i][h] = _mm256_add_pd(_mm256_sub_pd(dzero, M[i][h]), _mm256_min_pd(cd[h], dzero));
      }
    }
    const double* bl = &j.b->pn[PackedB::pn_at(q, s * L, kp)];
    for (int l = 0; l < L; ++l) {
      const __m256d a = _mm256_set1_pd(av[l]);
      const double* bp = bl + l * kVStep + op[l];
      const double* bn = bl + l * kVStep + on[l];
      _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
        accP[i][0] = _mm256_fmadd_pd(a, _mm256_loadu_pd(bp + i * pstride), accP[i][0]);
        accP[i][1] = _mm256_fmadd_pd(a, _mm256_loadu_pd(bp + i * pstride + 4), accP[i][1]);
        accN[i][0] = _mm256_fmadd_pd(a, _mm256_loadu_pd(bn + i * pstride), accN[i][0]);
        accN[i][1] = _mm256_fmadd_pd(a, _mm256_loadu_pd(bn + i * pstride + 4), accN[i][1]);
      }
    }
    const unsigned asp = j.a->special[static_cast<std::size_t>(row) * j.steps + s] ? 0xFFu : 0u;
    _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) {
      __m128 h[2];
      for (int hh = 0; hh < 2; ++hh) {
        __m256d x = _mm256_add_pd(_mm256_sub_pd(accP[i][hh], M[i][hh]), _mm256_add_pd(accN[i][hh], M[i][hh]));  // exact
        const __m256d ovf = _mm256_cmp_pd(_mm256_andnot_pd(signm, x), big, _CMP_GE_OQ);
        x = _mm256_blendv_pd(x, _mm256_or_pd(_mm256_and_pd(x, signm), inf), ovf);
        h[hh] = _mm256_cvtpd_ps(x);  // MXCSR is round-toward-zero here
      }
      __m256i f = _mm256_and_si256(_mm256_castps_si256(_mm256_set_m128(h[1], h[0])), fracm);
      f = _mm256_andnot_si256(_mm256_cmpeq_epi32(f, negz), f);  // RZ to zero gives +0
      const unsigned mask = nf[i] | j.b->special[static_cast<std::size_t>(q + i) * j.steps + s] | asp;
      if (mask) {
        alignas(32) std::uint32_t oc[kW], ncv[kW];
        _mm256_store_si256(reinterpret_cast<__m256i*>(oc), c[i]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(ncv), f);
        fix_lanes(j, row, q + i, s, mask, oc, ncv);
        f = _mm256_load_si256(reinterpret_cast<const __m256i*>(ncv));
      }
      c[i] = f;
    }
  }
  _Pragma("GCC unroll 8") for (int i = 0; i < P; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(cs + i * kW), c[i]);
}

}  // namespace

std::string_view path_name(SimdPath p) {
  switch (p) {
    case SimdPath::Scalar: return "scalar";
    case SimdPath::AVX2: return "avx2";
    case SimdPath::AVX512: return "avx512";
  }
  return "?";
}

bool path_available(SimdPath p) {
  switch (p) {
    case SimdPath::Scalar: return true;
    case SimdPath::AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdPath::AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

SimdPath best_path() {
  if (const char* env = std::getenv("MOESIM_SIMD"); env && *env) {  // for A/B checks
    for (SimdPath p : {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512})
      if (path_name(p) == env && path_available(p)) return p;
  }
  if (path_available(SimdPath::AVX512)) return SimdPath::AVX512;
  if (path_available(SimdPath::AVX2)) return SimdPath::AVX2;
  return SimdPath::Scalar;
}

std::vector<SimdPath> available_paths() {
  std::vector<SimdPath> v;
  for (SimdPath p : {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512})
    if (path_available(p)) v.push_back(p);
  return v;
}

bool gemm_supported(const FdpaParams& p) {
  if (p.algorithm != Algorithm::T || p.l < 1 || p.l > 64 || p.f < 0) return false;
  for (Operand op : {p.a, p.b})
    if (op != Operand::BF16 && op != Operand::FP16 && op != Operand::E4M3 && op != Operand::E5M2 && op != Operand::E2M1)
      return false;
  if (p.c != Operand::FP32 && p.c != Operand::FP16) return false;
  if (p.e_zero > semantics_of(p.c).emin()) return false;
  return static_cast<double>(p.l + 1) * std::ldexp(1.0, p.f + 2) <= std::ldexp(1.0, 53);
}

// ---- packing ------------------------------------------------------------------------------------
void PackedB::init(const FdpaParams& p, int N, int K) {
  if (!gemm_supported(p)) throw InputError("mma::PackedB", p.key() + " has no fast GEMM kernel (use mma::dot)");
  if (N < 0 || K < 0) throw InputError("mma::PackedB", "negative N or K");
  op = p.b;
  l = p.l;
  n_ = N;
  k_ = K;
  kp_ = (K + p.l - 1) / p.l * p.l;
  // resize, not assign: pack_panels writes every element (padding included), and a PackedB
  // reused for the next expert keeps its pages (no memset, no page faults).
  const std::size_t np = static_cast<std::size_t>(panels());
  const std::size_t ng = (np + kGroup - 1) / kGroup * kGroup;  // whole groups (tail panels unused)
  pn.resize(ng * kp_ * 2 * kW);
  exp.resize(ng * kp_ * kW);
  bmax.resize(np * (kp_ / p.l) * kW);
  raw.resize(static_cast<std::size_t>(N) * kp_);
  special.resize(np * (kp_ / p.l));
}

void PackedB::pack_panels(const std::uint16_t* Bt, std::int64_t ldb, int panel_begin, int panel_end) {
  const Decoder dec(op);
  const int steps = kp_ / l;
  panel_end = std::min(panel_end, panels());
  for (int q = std::max(panel_begin, 0); q < panel_end; ++q) {
    const int lanes = std::min(kW, n_ - q * kW);
    const std::uint16_t* src[kW];
    for (int lane = 0; lane < lanes; ++lane) {
      src[lane] = Bt + static_cast<std::int64_t>(q * kW + lane) * ldb;
      std::uint16_t* rw = &raw[static_cast<std::size_t>(q * kW + lane) * kp_];
      std::copy(src[lane], src[lane] + k_, rw);
      std::fill(rw + k_, rw + kp_, std::uint16_t{0});
    }
    std::uint8_t* sp = &special[static_cast<std::size_t>(q) * steps];
    std::fill(sp, sp + steps, std::uint8_t{0});
    double* v = &pn[pn_at(q, 0, kp_)];
    std::int32_t* e = &exp[exp_at(q, 0, kp_)];
    std::int32_t* bm = &bmax[static_cast<std::size_t>(q) * steps * kW];
    std::fill(bm, bm + static_cast<std::size_t>(steps) * kW, kZeroExp);
    // Decode the panel's (up to) 8 rows a chunk of K at a time into small (L1-resident)
    // buffers, then interleave them k-major.
    constexpr int kChunk = 256;
    double tv[kW * kChunk];
    std::int32_t te[kW * kChunk];
    std::uint8_t ts[kW * kChunk];
    int kdone = 0;  // full bf16 panels: the AVX-512 transposing packer does all but the K tail
    if (op == Operand::BF16 && lanes == kW && best_path() == SimdPath::AVX512) {
      kdone = k_ / 8 * 8;
      pack_bf16_panel_avx512(src, kdone, l, v, e, bm, sp);
    }
    for (int k0 = kdone; k0 < kp_; k0 += kChunk) {
      const int kc = std::min(kChunk, kp_ - k0);
      const int kvalid = std::clamp(k_ - k0, 0, kc);
      for (int lane = 0; lane < kW; ++lane) {
        const int have = lane < lanes ? kvalid : 0;
        if (have > 0) decode_row(op, src[lane] + k0, have, &tv[lane * kChunk], &te[lane * kChunk], &ts[lane * kChunk]);
        std::fill(&tv[lane * kChunk + have], &tv[lane * kChunk + kc], 0.0);  // K tail / padding column: zeros
        std::fill(&te[lane * kChunk + have], &te[lane * kChunk + kc], kZeroExp);
        std::fill(&ts[lane * kChunk + have], &ts[lane * kChunk + kc], std::uint8_t{0});
      }
      for (int k = 0; k < kc; ++k) {
        const std::size_t o = static_cast<std::size_t>(k0 + k);
        std::int32_t* bms = bm + static_cast<std::size_t>((k0 + k) / l) * kW;
        for (int lane = 0; lane < kW; ++lane) {
          const double x = tv[lane * kChunk + k];
          v[o * kVStep + lane] = x > 0 ? x : 0.0;
          v[o * kVStep + kW + lane] = x < 0 ? x : 0.0;
          e[o * kEStep + lane] = te[lane * kChunk + k];
          bms[lane] = std::max(bms[lane], te[lane * kChunk + k]);
        }
      }
      for (int lane = 0; lane < lanes; ++lane)
        for (int k = 0; k < kc; ++k)
          if (ts[lane * kChunk + k]) sp[(k0 + k) / l] |= static_cast<std::uint8_t>(1u << lane);
    }
  }
}

void PackedB::pack(const FdpaParams& p, int N, int K, const std::uint16_t* Bt, std::int64_t ldb) {
  init(p, N, K);
  pack_panels(Bt, ldb, 0, panels());
}

void PackedA::pack(const FdpaParams& p, int K, std::span<const std::uint16_t* const> rows) {
  if (!gemm_supported(p)) throw InputError("mma::PackedA", p.key() + " has no fast GEMM kernel (use mma::dot)");
  if (K < 0) throw InputError("mma::PackedA", "negative K");
  op = p.a;
  l = p.l;
  rows_ = static_cast<int>(rows.size());
  k_ = K;
  kp_ = (K + p.l - 1) / p.l * p.l;
  const int steps = kp_ / p.l;
  const std::size_t n = static_cast<std::size_t>(rows_) * kp_;
  val.resize(n);
  exp.resize(n);
  raw.resize(n);
  offp.resize(n);
  offn.resize(n);
  amax.assign(static_cast<std::size_t>(rows_) * steps, kZeroExp);
  special.assign(static_cast<std::size_t>(rows_) * steps, 0);
  thread_local std::vector<std::uint8_t> ts;
  ts.resize(static_cast<std::size_t>(K));
  for (int r = 0; r < rows_; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * kp_;
    decode_row(op, rows[r], K, &val[o], &exp[o], ts.data());
    std::copy(rows[r], rows[r] + K, &raw[o]);
    for (int k = 0; k < K; ++k)
      if (ts[k]) special[static_cast<std::size_t>(r) * steps + k / p.l] = 1;
    for (int k = K; k < kp_; ++k) {
      val[o + k] = 0.0;
      exp[o + k] = kZeroExp;
      raw[o + k] = 0;
    }
    std::int32_t* am = &amax[static_cast<std::size_t>(r) * steps];
    for (int k = 0; k < kp_; ++k) {
      const bool neg = val[o + k] < 0;
      offp[o + k] = neg ? kW : 0;
      offn[o + k] = neg ? 0 : kW;
      am[k / p.l] = std::max(am[k / p.l], exp[o + k]);
    }
  }
}

// ---- drivers ------------------------------------------------------------------------------------
void gemm_packed(const FdpaParams& p, SimdPath path, const PackedA& a, const PackedB& b, int n_begin, int n_end,
                 int k_begin, int k_end, const std::uint32_t* C, std::int64_t ldc, std::uint32_t* D, std::int64_t ldd) {
  const char* where = "mma::gemm_packed";
  if (!gemm_supported(p)) throw InputError(where, p.key() + " has no fast GEMM kernel (use mma::dot)");
  if (!path_available(path)) throw InputError(where, std::string(path_name(path)) + " is not supported by this CPU");
  if (a.op != p.a || b.op != p.b || a.l != p.l || b.l != p.l)
    throw InputError(where, "operands were packed for another instruction than " + p.key());
  if (a.k_padded() != b.k_padded())
    throw InputError(where, "A has K " + std::to_string(a.k()) + " but B has K " + std::to_string(b.k()));
  if (n_begin < 0 || n_end > b.n() || n_begin > n_end)
    throw InputError(where, "column range [" + std::to_string(n_begin) + ", " + std::to_string(n_end) +
                                ") outside B's " + std::to_string(b.n()) + " columns");
  if (k_begin < 0 || k_end > a.k_padded() || k_begin > k_end || k_begin % p.l || k_end % p.l)
    throw InputError(where, "K range [" + std::to_string(k_begin) + ", " + std::to_string(k_end) +
                                ") is not a range of whole " + std::to_string(p.l) + "-element steps inside K");
  const int rows = a.rows();
  if (rows == 0 || n_begin == n_end) return;
  const bool fast_c = p.c == Operand::FP32 && (p.rho == Rounding::RZ_FP32 || p.rho == Rounding::RZ_E8M13);
  const int q0 = n_begin / kW, q1 = (n_end + kW - 1) / kW;
  const std::int64_t W = static_cast<std::int64_t>(q1 - q0) * kW;
  thread_local std::vector<std::uint32_t> state;
  state.assign(static_cast<std::size_t>(rows) * W, 0);
  for (int r = 0; r < rows; ++r)
    for (int jj = n_begin; jj < n_end; ++jj)
      state[r * W + (jj - q0 * kW)] = C ? C[r * ldc + (jj - n_begin)] : 0u;
  const MxcsrGuard guard;
  const int steps = a.k_padded() / p.l;
  if ((path == SimdPath::AVX512 || path == SimdPath::AVX2) && fast_c && rz_kernel_ok(p)) {
    // K blocks of 32 elements: the B slice of a group of 4 panels (16 KiB of pn, 4 KiB of
    // exponents) stays in L1 while every row of A streams past it (64 was as fast alone, 128
    // and more 40% slower, on the shared 2-core Xeon VM).
    const int rz_chunk = std::max(1, 32 / p.l);
    for (int s0 = k_begin / p.l; s0 < k_end / p.l; s0 += rz_chunk) {
      const Job job{&p, &a, &b, s0, std::min(k_end / p.l, s0 + rz_chunk), steps};
      for (int q = q0; q < q1;) {
        const int np = std::min(PackedB::kGroup - q % PackedB::kGroup, q1 - q);  // within one group
        for (int r = 0; r < rows; ++r) {
          std::uint32_t* cs = &state[r * W + (q - q0) * kW];
          if (path == SimdPath::AVX512) switch (np) {
              case 4: row_rz_avx512<4>(job, r, q, cs); break;
              case 3: row_rz_avx512<3>(job, r, q, cs); break;
              case 2: row_rz_avx512<2>(job, r, q, cs); break;
              default: row_rz_avx512<1>(job, r, q, cs); break;
            }
          else switch (np) {  // AVX2: 16 ymm registers, so at most 2 panels of accumulators
              case 4:
                row_rz_avx2<2>(job, r, q, cs);
                row_rz_avx2<2>(job, r, q + 2, cs + 2 * kW);
                break;
              case 3:
                row_rz_avx2<2>(job, r, q, cs);
                row_rz_avx2<1>(job, r, q + 2, cs + 2 * kW);
                break;
              case 2: row_rz_avx2<2>(job, r, q, cs); break;
              default: row_rz_avx2<1>(job, r, q, cs); break;
            }
        }
        q += np;
      }
    }
  } else {  // portable: scalar path, fp16 accumulators, RNE, or F too wide for the RZ kernels
    const int chunk = std::max(1, kChunkElems / p.l);
    for (int s0 = k_begin / p.l; s0 < k_end / p.l; s0 += chunk) {
      const Job job{&p, &a, &b, s0, std::min(k_end / p.l, s0 + chunk), steps};
      for (int q = q0; q < q1; ++q) panel_generic(job, 0, rows, q, &state[(q - q0) * kW], W);
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int jj = n_begin; jj < n_end; ++jj) D[r * ldd + (jj - n_begin)] = state[r * W + (jj - q0 * kW)];
}

std::uint32_t chain_rows(const FdpaParams& p, const PackedA& a, int ra, const PackedA& b, int rb, int k_begin, int k_end,
                         std::uint32_t c) {
  const char* where = "mma::chain_rows";
  if (a.op != p.a || b.op != p.b || a.l != p.l || b.l != p.l || !gemm_supported(p))
    throw InputError(where, "operands were not packed for " + p.key());
  if (a.k_padded() != b.k_padded() || ra < 0 || ra >= a.rows() || rb < 0 || rb >= b.rows())
    throw InputError(where, "row index or K mismatch");
  if (k_begin < 0 || k_end > a.k_padded() || k_begin > k_end || k_begin % p.l || k_end % p.l)
    throw InputError(where, "K range [" + std::to_string(k_begin) + ", " + std::to_string(k_end) +
                                ") is not a range of whole " + std::to_string(p.l) + "-element steps inside K");
  const int L = p.l, F = p.f, kp = a.k_padded(), steps = kp / L;
  for (int s = k_begin / L; s < k_end / L; ++s) {
    const std::size_t ka = static_cast<std::size_t>(ra) * kp + static_cast<std::size_t>(s) * L;
    const std::size_t kb = static_cast<std::size_t>(rb) * kp + static_cast<std::size_t>(s) * L;
    const OperandValue cv = decode_operand(p.c, c);
    if (a.special[static_cast<std::size_t>(ra) * steps + s] || b.special[static_cast<std::size_t>(rb) * steps + s] ||
        cv.cls == fmt::Class::NaN || cv.cls == fmt::Class::Inf) {
      std::uint32_t ta[64], tb[64];
      for (int l = 0; l < L; ++l) {
        ta[l] = a.raw[ka + l];
        tb[l] = b.raw[kb + l];
      }
      c = fdpa_step(p, ta, tb, L, c, nullptr, nullptr);
      continue;
    }
    int emax = cv.m == 0 ? p.e_zero : cv.e;
    for (int l = 0; l < L; ++l) emax = std::max(emax, a.exp[ka + l] + b.exp[kb + l]);
    const double sc = std::bit_cast<double>(static_cast<std::uint64_t>(F - emax + 1023) << 52);  // 2^(F - e_max), exact
    const double cval = std::ldexp(static_cast<double>(cv.m), cv.q);
    double sum = std::trunc((cv.neg ? -cval : cval) * sc);
    for (int l = 0; l < L; ++l) sum += std::trunc(a.val[ka + l] * b.val[kb + l] * sc);
    c = round_output(p.rho, sum < 0, static_cast<std::uint64_t>(std::fabs(sum)), emax - F);
  }
  return c;
}

void gemm_rows(const FdpaParams& p, SimdPath path, int M, int N, int K, const std::uint16_t* A, const std::uint16_t* Bt,
               const std::uint32_t* C, std::uint32_t* D, int row_begin, int row_end) {
  if (!gemm_supported(p)) throw InputError("mma::gemm_rows", p.key() + " has no fast GEMM kernel (use mma::dot)");
  if (K <= 0 || K % p.l != 0)
    throw InputError("mma::gemm_rows", p.key() + " needs K to be a positive multiple of " + std::to_string(p.l));
  if (!path_available(path)) throw InputError("mma::gemm_rows", std::string(path_name(path)) + " is not supported by this CPU");
  row_begin = std::max(row_begin, 0);
  row_end = std::min(row_end, M);
  if (row_begin >= row_end || N <= 0) return;
  thread_local PackedB pb;  // buffers kept between calls (no page faults per call)
  thread_local PackedA pa;
  thread_local std::vector<const std::uint16_t*> rows;
  pb.pack(p, N, K, Bt, K);
  rows.clear();
  for (int i = row_begin; i < row_end; ++i) rows.push_back(A + static_cast<std::size_t>(i) * K);
  pa.pack(p, K, rows);
  gemm_packed(p, path, pa, pb, 0, N, 0, K, C + static_cast<std::size_t>(row_begin) * N, N,
              D + static_cast<std::size_t>(row_begin) * N, N);
}

}  // namespace moesim::mma
