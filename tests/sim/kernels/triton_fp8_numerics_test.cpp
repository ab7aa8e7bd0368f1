// vLLM fp8 activation quantizers (sim/kernels/triton_fp8_numerics) against an independent
// reference written from the CUDA sources: float operations are done in double and rounded
// once to float (correct for a single +,*,/ of two floats: 53 >= 2*24+2, Figueroa), the fmaxf
// / fminf NaN rules are spelled out, and e4m3fn rounding is a nearest-value search over the
// finite e4m3 values (ties to the even code). Exhaustive over all 65536 bf16 inputs for
// fixed scales; scales over random bf16 bit patterns incl. NaN, Inf and subnormals.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/kernels/triton_fp8_numerics.hpp"

namespace moesim::kernels::triton_fp8 {
namespace {

float bf(std::uint16_t h) { return std::bit_cast<float>(std::uint32_t(h) << 16); }

// Value of an e4m3fn code from its fields.
double e4m3_value(int code) {
  const int s = code >> 7, e = (code >> 3) & 0xF, m = code & 7;
  const double mag = e == 0 ? m * std::ldexp(1.0, -9) : (1.0 + m / 8.0) * std::ldexp(1.0, e - 7);
  return s ? -mag : mag;
}

// Nearest e4m3 value to v (|v| <= 448 or NaN excluded by the caller), ties to the even code.
std::uint8_t ref_e4m3(float v) {
  const double a = std::fabs(static_cast<double>(v));
  int best = 0;
  for (int c = 1; c < 0x7F; ++c) {
    const double d = std::fabs(e4m3_value(c) - a), db = std::fabs(e4m3_value(best) - a);
    if (d < db || (d == db && (c & 1) == 0 && (best & 1) == 1)) best = c;
  }
  return static_cast<std::uint8_t>(best | (std::signbit(v) ? 0x80 : 0));
}

float ref_mul(float a, float b) { return static_cast<float>(static_cast<double>(a) * static_cast<double>(b)); }
float ref_div(float a, float b) { return static_cast<float>(static_cast<double>(a) / static_cast<double>(b)); }

// scaled_fp8_conversion<true>: fmaxf(-448, fminf(x * inv, 448)); fminf(NaN, 448) = 448.
std::uint8_t ref_per_tensor(std::uint16_t x, float inv) {
  float v = ref_mul(bf(x), inv);
  v = std::isnan(v) ? 448.0f : (v > 448.0f ? 448.0f : (v < -448.0f ? -448.0f : v));
  return ref_e4m3(v);
}

// QuantizeGroup: fminf(fmaxf(x / y_s, -448), 448); fmaxf(NaN, -448) = -448.
std::uint8_t ref_group(std::uint16_t x, float ys) {
  float v = ref_div(bf(x), ys);
  v = std::isnan(v) ? -448.0f : (v > 448.0f ? 448.0f : (v < -448.0f ? -448.0f : v));
  return ref_e4m3(v);
}

TEST(TritonFp8Quant, PerTensorElementExhaustiveOverBf16) {
  for (float scale : {1.0f, 0.0123f, 3.5e-6f, 1.0f / 448.0f, 97.25f, 0.0f}) {
    const float inv = per_tensor_inverse(scale);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(inv), std::bit_cast<std::uint32_t>(ref_div(1.0f, scale)));
    std::int64_t bad = 0;
    for (std::uint32_t x = 0; x < 65536; ++x) bad += quantize_per_tensor(static_cast<std::uint16_t>(x), inv) != ref_per_tensor(static_cast<std::uint16_t>(x), inv);
    EXPECT_EQ(bad, 0) << "scale " << scale;
  }
  // The documented corners: NaN -> 448 (fminf drops the NaN), Inf saturates, zero scale.
  const float inv = per_tensor_inverse(1.0f);
  EXPECT_EQ(quantize_per_tensor(0x7FC0, inv), 0x7E);
  EXPECT_EQ(quantize_per_tensor(0xFF80, inv), 0xFE);
  EXPECT_EQ(quantize_per_tensor(0x0000, per_tensor_inverse(0.0f)), 0x7E);  // 0 * inf = NaN -> 448
}

TEST(TritonFp8Quant, GroupElementExhaustiveOverBf16) {
  for (float ys : {1.0f, 0.0123f, 3.5e-6f, 1e-10f / 448.0f, 97.25f, 0.0f}) {
    std::int64_t bad = 0;
    for (std::uint32_t x = 0; x < 65536; ++x) bad += quantize_group(static_cast<std::uint16_t>(x), ys) != ref_group(static_cast<std::uint16_t>(x), ys);
    EXPECT_EQ(bad, 0) << "y_s " << ys;
  }
  EXPECT_EQ(quantize_group(0x7FC0, 1.0f), 0xFE);  // NaN -> -448 (fmaxf drops the NaN first)
}

// Scale rules over random bf16 bit patterns (NaN, Inf, subnormals, zeros mixed in).
TEST(TritonFp8Quant, ScalesOverRandomBitPatterns) {
  Rng rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t n = 1 + static_cast<std::int64_t>(rng.below(300));
    std::vector<std::uint16_t> x(static_cast<std::size_t>(n));
    const int mode = trial % 4;  // 0: any bits, 1: finite small, 2: all zero, 3: subnormals
    for (auto& v : x) {
      std::uint16_t b = static_cast<std::uint16_t>(rng.next());
      if (mode == 1) b = static_cast<std::uint16_t>((b & 0x807F) | ((0x30 + rng.below(0x40)) << 7));
      if (mode == 2) b &= 0x8000;
      if (mode == 3) b &= 0x807F;
      v = b;
    }
    double amax = 0.0;  // NaN ignored (fmaxf), Inf kept
    for (auto v : x)
      if (!std::isnan(bf(v))) amax = std::max(amax, std::fabs(static_cast<double>(bf(v))));
    const float want_pt = ref_div(static_cast<float>(amax), 448.0f);
    const float want_g = ref_div(static_cast<float>(std::max(amax, static_cast<double>(1e-10f))), 448.0f);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(per_tensor_scale(x.data(), n)), std::bit_cast<std::uint32_t>(want_pt)) << trial;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(group_scale(x.data(), n)), std::bit_cast<std::uint32_t>(want_g)) << trial;
  }
}

TEST(TritonFp8Quant, E4m3Bf16WideningIsExactAndInvertible) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;  // NaN codes
    const std::uint16_t w = e4m3_to_bf16(static_cast<std::uint8_t>(c));
    EXPECT_EQ(static_cast<double>(bf(w)), e4m3_value(c)) << c;
    EXPECT_EQ(std::signbit(bf(w)), (c & 0x80) != 0) << c;
    EXPECT_EQ(bf16_to_e4m3_exact(w), c) << c;
  }
}

}  // namespace
}  // namespace moesim::kernels::triton_fp8
