#include "sim/quant/sfu.hpp"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/quant/mslz.hpp"

namespace moesim::quant {

namespace {

constexpr std::uint32_t kEntries = 1u << 23;

std::string sfu_dir() {
  if (const char* env = std::getenv("MOESIM_SFU_DIR"); env && *env) return env;
  return source_dir() + "/tests/data/sfu";
}

std::vector<std::uint8_t> load_codes(const std::string& name) {
  const std::string path = sfu_dir() + "/" + name;
  std::vector<std::uint8_t> raw = mslz_decompress(read_file_bytes(path), path);
  if (raw.size() != kEntries / 4) throw InputError(path, "expected " + std::to_string(kEntries / 4) + " bytes of 2-bit codes, got " + std::to_string(raw.size()));
  return raw;
}

inline std::uint32_t code_at(const std::vector<std::uint8_t>& c, std::uint32_t i) { return (c[i >> 2] >> ((i & 3u) * 2u)) & 3u; }

// A monotone table stored as 2-bit consecutive differences, with a running sum kept every 32
// entries so that a lookup is one base plus a popcount over one 64-bit word.
struct DiffTable {
  std::vector<std::uint64_t> words;  // 32 codes per word
  std::vector<std::uint32_t> base;   // value at entry 32*w
  bool decreasing = false;

  void build(const std::vector<std::uint8_t>& codes, bool dec, const std::string& where) {
    decreasing = dec;
    words.resize(kEntries / 32);
    base.resize(kEntries / 32);
    for (std::uint32_t w = 0; w < kEntries / 32; ++w) {
      std::uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v |= std::uint64_t(codes[w * 8 + b]) << (8 * b);
      words[w] = v;
    }
    if (code_at(codes, 0) != 0) throw InputError(where, "first difference must be 0");
    std::uint32_t cur = 0x3F800000u;
    for (std::uint32_t i = 0; i < kEntries; ++i) {
      const std::uint32_t d = code_at(codes, i);
      cur = dec ? cur - d : cur + d;
      if ((i & 31u) == 0) base[i >> 5] = cur;
    }
  }

  std::uint32_t at(std::uint32_t i) const {
    const std::uint32_t w = i >> 5, j = i & 31u;
    if (j == 0) return base[w];
    // fields 1..j of the word
    const std::uint64_t mask = (j == 31 ? ~std::uint64_t{0} : ((std::uint64_t{1} << (2 * (j + 1))) - 1)) & ~std::uint64_t{3};
    const std::uint64_t v = words[w] & mask;
    const std::uint32_t sum = static_cast<std::uint32_t>(std::popcount(v & 0x5555555555555555ull) +
                                                         2 * std::popcount(v & 0xAAAAAAAAAAAAAAAAull));
    return decreasing ? base[w] - sum : base[w] + sum;
  }
};

struct Tables {
  std::vector<std::uint8_t> rcp;  // 2-bit codes: hw - IEEE(1/1.m) + 1
  DiffTable pos, neg;

  Tables() {
    rcp = load_codes("rcp_approx_ftz.mslz");
    pos.build(load_codes("ex2_approx_ftz_pos.mslz"), false, sfu_dir() + "/ex2_approx_ftz_pos.mslz");
    neg.build(load_codes("ex2_approx_ftz_neg.mslz"), true, sfu_dir() + "/ex2_approx_ftz_neg.mslz");
  }

  std::uint32_t rcp_mant(std::uint32_t m) const {
    const float x = f32_from_bits(0x3F800000u | m);
    const std::uint32_t rn = f32_bits(1.0f / x);  // IEEE correctly rounded
    return rn + code_at(rcp, m) - 1u;
  }
};

const Tables& tables() {
  static const Tables t;  // thread-safe one-time initialisation
  return t;
}

// NVIDIA ALUs never propagate NaN payloads: every NaN result is 0x7FFFFFFF (x86 would keep an
// operand's payload or give 0xFFC00000).
inline float gpu_nan(float r) { return r != r ? f32_from_bits(0x7FFFFFFFu) : r; }

}  // namespace

void load_sfu_tables() { (void)tables(); }

float rcp_approx_ftz(float xf) {
  const std::uint32_t u = f32_bits(xf);
  const std::uint32_t s = u & 0x80000000u, e = (u >> 23) & 0xFFu, m = u & 0x7FFFFFu;
  if (e == 255) return f32_from_bits(m ? 0x7FFFFFFFu : s);
  if (e == 0) return f32_from_bits(s | 0x7F800000u);
  const std::uint32_t t = tables().rcp_mant(m);
  const int re = static_cast<int>((t >> 23) & 0xFFu) - (static_cast<int>(e) - 127);
  if (re <= 0) return f32_from_bits(s);
  return f32_from_bits(s | (static_cast<std::uint32_t>(re) << 23) | (t & 0x7FFFFFu));
}

float ex2_approx_ftz(float xf) {
  const std::uint32_t u = f32_bits(xf);
  const std::uint32_t e = (u >> 23) & 0xFFu, m = u & 0x7FFFFFu;
  const bool neg = (u >> 31) != 0;
  if (e == 255) return f32_from_bits(m ? 0x7FFFFFFFu : (neg ? 0u : 0x7F800000u));
  if (e == 0) return 1.0f;
  const double x = static_cast<double>(xf);
  if (x >= 128.0) return f32_from_bits(0x7F800000u);
  if (x <= -160.0) return 0.0f;
  const double a = std::floor(std::fabs(x) * 8388608.0);  // exact: trunc toward zero of |x| 2^23
  const auto F = static_cast<std::uint64_t>(a);
  const auto i = static_cast<long long>(F >> 23);
  const auto idx = static_cast<std::uint32_t>(F & 0x7FFFFFu);
  const Tables& tb = tables();
  const std::uint32_t t = neg ? tb.neg.at(idx) : tb.pos.at(idx);
  const long long re = static_cast<long long>((t >> 23) & 0xFFu) + (neg ? -i : i);
  if (re <= 0) return 0.0f;
  if (re >= 255) return f32_from_bits(0x7F800000u);
  return f32_from_bits((static_cast<std::uint32_t>(re) << 23) | (t & 0x7FFFFFu));
}

float ex2_approx(float x) {
  // SASS: FSETP.GEU P0, x, -126; @!P0 FMUL x, x, 0.5; MUFU.EX2 r, x; @!P0 FMUL r, r, r
  const bool small = x < -126.0f;  // false for NaN (GEU is true when unordered)
  const float t = small ? x * 0.5f : x;
  const float r = ex2_approx_ftz(t);
  return small ? r * r : r;
}

float expf_fast(float x) { return ex2_approx(x * f32_from_bits(0x3FB8AA3Bu)); }

float fdividef_fast(float a, float b) {
  // SASS: FSETP.GEU P0, |b|, 2^-126; @!P0 b *= 2^24; @!P0 a *= 2^24; MUFU.RCP r, b; r * a
  if (std::fabs(b) < 0x1p-126f) {
    b *= 16777216.0f;
    a *= 16777216.0f;
  }
  return gpu_nan(rcp_approx_ftz(b) * a);
}

float silu_fast(float x) { return fdividef_fast(x, 1.0f + expf_fast(-x)); }

}  // namespace moesim::quant
