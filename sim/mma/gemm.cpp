// Chained T-FDPA GEMM kernels. Per step and output: the L products' exponents give e_max;
// each product's magnitude is shifted to units of 2^(e_max - F) (left or right, truncating),
// signed, summed exactly in int32 (bounded by gemm_supported), C is added in int64, and the
// scalar round_output converts. Steps touching NaN/Inf operands go to the scalar model.
#include "sim/mma/gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>

#include "sim/core/error.hpp"
#include "sim/mma/fdpa.hpp"

// GCC 12's AVX-512 headers build vectors from _mm*_undefined_*() and then warn about them
// (-Wmaybe-uninitialized) wherever they are inlined; the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace moesim::mma {

namespace {

// Decoded operand rows: value = sig * 2^(e - man_bits), sig signed; e the alignment exponent.
struct Decoded {
  std::vector<std::int32_t> sig, e;
  std::vector<std::uint8_t> special;  // per (row, step): any NaN/Inf in the chunk
};

Decoded decode_rows(const FdpaParams& p, Operand op, const std::uint16_t* x, int rows, int K) {
  Decoded d;
  d.sig.resize(static_cast<std::size_t>(rows) * K);
  d.e.resize(d.sig.size());
  const int steps = K / p.l;
  d.special.assign(static_cast<std::size_t>(rows) * steps, 0);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < K; ++k) {
      const std::size_t i = static_cast<std::size_t>(r) * K + k;
      const OperandValue v = decode_operand(op, x[i]);
      if (v.cls == fmt::Class::NaN || v.cls == fmt::Class::Inf) {
        d.special[static_cast<std::size_t>(r) * steps + k / p.l] = 1;
        d.sig[i] = 0;
        d.e[i] = 0;
        continue;
      }
      d.sig[i] = v.neg ? -static_cast<std::int32_t>(v.m) : static_cast<std::int32_t>(v.m);
      d.e[i] = v.e;
    }
  return d;
}

struct StepCtx {
  const FdpaParams* p;
  int shift_base;  // man_bits(a) + man_bits(b): product value = sig_a*sig_b * 2^(ea+eb-shift_base)
};

// C as a term: returns e (e_zero for zero) and fills the truncation inputs.
inline int c_exponent(const FdpaParams& p, const OperandValue& c) { return c.m == 0 ? p.e_zero : c.e; }

inline std::int64_t c_truncated(const OperandValue& c, int lsb) {
  const int sh = c.q - lsb;
  std::int64_t t;
  if (sh >= 0) t = static_cast<std::int64_t>(static_cast<std::uint64_t>(c.m) << sh);
  else t = sh <= -64 ? 0 : static_cast<std::int64_t>(static_cast<std::uint64_t>(c.m) >> -sh);
  return c.neg ? -t : t;
}

inline std::uint32_t finish(const FdpaParams& p, std::int64_t s, int lsb) {
  return round_output(p.rho, s < 0, static_cast<std::uint64_t>(s < 0 ? -s : s), lsb);
}

// ---- scalar ---------------------------------------------------------------------------------
inline std::uint32_t step_scalar(const StepCtx& x, const std::int32_t* sa, const std::int32_t* ea,
                                 const std::int32_t* sb, const std::int32_t* eb, std::uint32_t c_bits) {
  const FdpaParams& p = *x.p;
  const OperandValue c = decode_operand(p.c, c_bits);
  int emax = c_exponent(p, c);
  for (int l = 0; l < p.l; ++l) {
    const int e = sa[l] * sb[l] == 0 ? p.e_zero : ea[l] + eb[l];
    emax = std::max(emax, e);
  }
  const int lsb = emax - p.f;
  std::int32_t sum = 0;
  for (int l = 0; l < p.l; ++l) {
    const std::int32_t prod = sa[l] * sb[l];
    const std::uint32_t mag = static_cast<std::uint32_t>(prod < 0 ? -prod : prod);
    const int sh = ea[l] + eb[l] - x.shift_base - lsb;
    std::uint32_t t;
    if (sh >= 0) t = mag << std::min(sh, 31);
    else t = sh <= -32 ? 0u : mag >> -sh;
    if (prod == 0) t = 0;
    sum += prod < 0 ? -static_cast<std::int32_t>(t) : static_cast<std::int32_t>(t);
  }
  return finish(p, static_cast<std::int64_t>(sum) + c_truncated(c, lsb), lsb);
}

// ---- AVX2 -----------------------------------------------------------------------------------
__attribute__((target("avx2"))) inline int hmax8(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return _mm_cvtsi128_si32(m);
}
__attribute__((target("avx2"))) inline int hadd8(__m256i v) {
  __m128i m = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return _mm_cvtsi128_si32(m);
}

__attribute__((target("avx2"))) std::uint32_t step_avx2(const StepCtx& x, const std::int32_t* sa, const std::int32_t* ea,
                                                      const std::int32_t* sb, const std::int32_t* eb,
                                                      std::uint32_t c_bits) {
  const FdpaParams& p = *x.p;
  const OperandValue c = decode_operand(p.c, c_bits);
  const __m256i zero = _mm256_setzero_si256(), ez = _mm256_set1_epi32(p.e_zero);
  __m256i vmax = _mm256_set1_epi32(c_exponent(p, c));
  for (int l = 0; l < p.l; l += 8) {
    const __m256i prod = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i*)(sa + l)),
                                            _mm256_loadu_si256((const __m256i*)(sb + l)));
    const __m256i e = _mm256_add_epi32(_mm256_loadu_si256((const __m256i*)(ea + l)),
                                       _mm256_loadu_si256((const __m256i*)(eb + l)));
    vmax = _mm256_max_epi32(vmax, _mm256_blendv_epi8(e, ez, _mm256_cmpeq_epi32(prod, zero)));
  }
  const int lsb = hmax8(vmax) - p.f;
  const __m256i base = _mm256_set1_epi32(x.shift_base + lsb);
  __m256i acc = zero;
  for (int l = 0; l < p.l; l += 8) {
    const __m256i prod = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i*)(sa + l)),
                                            _mm256_loadu_si256((const __m256i*)(sb + l)));
    const __m256i sh = _mm256_sub_epi32(_mm256_add_epi32(_mm256_loadu_si256((const __m256i*)(ea + l)),
                                                         _mm256_loadu_si256((const __m256i*)(eb + l))),
                                        base);
    const __m256i mag = _mm256_abs_epi32(prod);
    // Counts outside [0, 31] (negative ones read as huge unsigned) give 0, so exactly one of
    // the two shifts survives (both equal mag when sh == 0).
    const __m256i t = _mm256_or_si256(_mm256_sllv_epi32(mag, sh), _mm256_srlv_epi32(mag, _mm256_sub_epi32(zero, sh)));
    const __m256i neg = _mm256_cmpgt_epi32(zero, prod);
    acc = _mm256_add_epi32(acc, _mm256_blendv_epi8(t, _mm256_sub_epi32(zero, t), neg));
  }
  return finish(p, static_cast<std::int64_t>(hadd8(acc)) + c_truncated(c, lsb), lsb);
}

// ---- AVX-512 --------------------------------------------------------------------------------
__attribute__((target("avx512f,avx512bw,avx512vl"))) std::uint32_t step_avx512(
    const StepCtx& x, const std::int32_t* sa, const std::int32_t* ea, const std::int32_t* sb, const std::int32_t* eb,
    std::uint32_t c_bits) {
  const FdpaParams& p = *x.p;
  if (p.l % 16 != 0) return step_avx2(x, sa, ea, sb, eb, c_bits);
  const OperandValue c = decode_operand(p.c, c_bits);
  const __m512i zero = _mm512_setzero_si512(), ez = _mm512_set1_epi32(p.e_zero);
  __m512i vmax = _mm512_set1_epi32(c_exponent(p, c));
  for (int l = 0; l < p.l; l += 16) {
    const __m512i prod = _mm512_mullo_epi32(_mm512_loadu_si512(sa + l), _mm512_loadu_si512(sb + l));
    const __m512i e = _mm512_add_epi32(_mm512_loadu_si512(ea + l), _mm512_loadu_si512(eb + l));
    vmax = _mm512_max_epi32(vmax, _mm512_mask_mov_epi32(e, _mm512_cmpeq_epi32_mask(prod, zero), ez));
  }
  const int lsb = hmax8(_mm256_max_epi32(_mm512_castsi512_si256(vmax), _mm512_extracti64x4_epi64(vmax, 1))) - p.f;
  const __m512i base = _mm512_set1_epi32(x.shift_base + lsb);
  __m512i acc = zero;
  for (int l = 0; l < p.l; l += 16) {
    const __m512i prod = _mm512_mullo_epi32(_mm512_loadu_si512(sa + l), _mm512_loadu_si512(sb + l));
    const __m512i sh = _mm512_sub_epi32(_mm512_add_epi32(_mm512_loadu_si512(ea + l), _mm512_loadu_si512(eb + l)), base);
    const __m512i mag = _mm512_abs_epi32(prod);
    const __m512i t = _mm512_or_si512(_mm512_sllv_epi32(mag, sh), _mm512_srlv_epi32(mag, _mm512_sub_epi32(zero, sh)));
    acc = _mm512_add_epi32(acc, _mm512_mask_sub_epi32(t, _mm512_cmplt_epi32_mask(prod, zero), zero, t));
  }
  // (GCC 12's _mm512_reduce_* trip -Wmaybe-uninitialized; reduce through the AVX2 helpers.)
  const int sum = hadd8(_mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1)));
  return finish(p, static_cast<std::int64_t>(sum) + c_truncated(c, lsb), lsb);
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
    case SimdPath::AVX2: return __builtin_cpu_supports("avx2");
    case SimdPath::AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
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
  if (p.algorithm != Algorithm::T || p.l % 8 != 0) return false;
  const int sbits = semantics_of(p.a).bits, tbits = semantics_of(p.b).bits;
  if (sbits > 16 || tbits > 16 || p.a == Operand::E2M1 || p.b == Operand::E2M1) return false;
  return static_cast<long long>(p.l) << (p.f + 2) <= (1LL << 31);
}

void gemm_rows(const FdpaParams& p, SimdPath path, int M, int N, int K, const std::uint16_t* A, const std::uint16_t* Bt,
               const std::uint32_t* C, std::uint32_t* D, int row_begin, int row_end) {
  if (!gemm_supported(p)) throw InputError("mma::gemm_rows", p.key() + " has no fast GEMM kernel (use mma::dot)");
  if (K <= 0 || K % p.l != 0)
    throw InputError("mma::gemm_rows", p.key() + " needs K to be a positive multiple of " + std::to_string(p.l));
  if (!path_available(path)) throw InputError("mma::gemm_rows", std::string(path_name(path)) + " is not supported by this CPU");
  row_begin = std::max(row_begin, 0);
  row_end = std::min(row_end, M);
  if (row_begin >= row_end) return;
  const int rows = row_end - row_begin;
  const Decoded da = decode_rows(p, p.a, A + static_cast<std::size_t>(row_begin) * K, rows, K);
  const Decoded db = decode_rows(p, p.b, Bt, N, K);
  const StepCtx ctx{&p, semantics_of(p.a).man_bits + semantics_of(p.b).man_bits};
  const int steps = K / p.l;
  std::vector<std::uint32_t> ta(p.l), tb(p.l);
  for (int r = 0; r < rows; ++r) {
    const int i = row_begin + r;
    for (int j = 0; j < N; ++j) {
      std::uint32_t c = C[static_cast<std::size_t>(i) * N + j];
      for (int s = 0; s < steps; ++s) {
        const std::size_t oa = static_cast<std::size_t>(r) * K + static_cast<std::size_t>(s) * p.l;
        const std::size_t ob = static_cast<std::size_t>(j) * K + static_cast<std::size_t>(s) * p.l;
        const OperandValue cv = decode_operand(p.c, c);
        if (da.special[static_cast<std::size_t>(r) * steps + s] || db.special[static_cast<std::size_t>(j) * steps + s] ||
            cv.cls == fmt::Class::NaN || cv.cls == fmt::Class::Inf) {
          for (int l = 0; l < p.l; ++l) {
            ta[l] = A[static_cast<std::size_t>(i) * K + static_cast<std::size_t>(s) * p.l + l];
            tb[l] = Bt[ob + l];
          }
          c = fdpa_step(p, ta.data(), tb.data(), p.l, c, nullptr, nullptr);
          continue;
        }
        const std::int32_t *sa = &da.sig[oa], *ea = &da.e[oa], *sb = &db.sig[ob], *eb = &db.e[ob];
        switch (path) {
          case SimdPath::AVX512: c = step_avx512(ctx, sa, ea, sb, eb, c); break;
          case SimdPath::AVX2: c = step_avx2(ctx, sa, ea, sb, eb, c); break;
          default: c = step_scalar(ctx, sa, ea, sb, eb, c); break;
        }
      }
      D[static_cast<std::size_t>(i) * N + j] = c;
    }
  }
}

}  // namespace moesim::mma
