// Elementwise pieces of the triton_kernels MXFP4 variant (sim/kernels/triton_kernels_moe.hpp)
// against independent references: the exact e2m1 x 2^(s-127) values, the div.full.f32 operand
// scaling read from the captured SASS, and the fp64 swiglu formula. Whole-pipeline bits are
// checked against the H200 in tests/replay/tk_mxfp4_golden_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include "sim/core/counter_gen.hpp"
#include "sim/kernels/triton_kernels_moe.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::kernels::tk {
namespace {

// gpt-oss swiglu in fp64 (openai/gpt-oss gpt_oss/torch/model.py swiglu(): alpha 1.702, limit 7,
// linear + 1).
double swiglu_ref(double gate, double up) {
  const double g = std::min(gate, 7.0), u = std::clamp(up, -7.0, 7.0);
  return g / (1.0 + std::exp(-1.702 * g)) * (u + 1.0);
}

TEST(TkMxfp4, UpcastIsTheExactE2m1TimesScale) {
  static const double kVal[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  int checked = 0;
  for (int code = 0; code < 16; ++code)
    for (int s = 2; s < 255; ++s) {  // bytes 0 (-> +0.0), 1 (bf16-subnormal products), 255 (+inf) separately
      const double want = (code & 8 ? -1.0 : 1.0) * kVal[code & 7] * std::ldexp(1.0, s - 127);
      const std::uint16_t got = mxfp4_to_bf16(static_cast<std::uint8_t>(code), static_cast<std::uint8_t>(s));
      if (std::fabs(want) >= 0x1p128) {  // beyond bf16's range: the RNE multiply gives inf
        EXPECT_TRUE(std::isinf(bf16_to_f32(got))) << code << " " << s;
        continue;
      }
      ASSERT_EQ(static_cast<double>(bf16_to_f32(got)), want) << "code " << code << " scale " << s;
      ++checked;
    }
  EXPECT_GT(checked, 3900);
  EXPECT_EQ(mxfp4_to_bf16(7, 0), 0x0000);  // scale byte 0 is +0.0 in this upcast, not 2^-127
  EXPECT_EQ(mxfp4_to_bf16(15, 0), 0x8000);
  EXPECT_EQ(mxfp4_to_bf16(2, 255), 0x7F80);  // +inf
  EXPECT_TRUE(std::isnan(bf16_to_f32(mxfp4_to_bf16(0, 255))));  // 0 * inf
}

TEST(TkMxfp4, DivFullScalesHugeDivisors) {
  // b <= 2^126: a * rcp(b); b > 2^126: (a/4) * rcp(b/4) -- both operands scaled (SASS FSETP.GT +
  // two FMUL 0.25), so a/b stays near-correct where rcp(b) alone would flush.
  const float a = 3.0f;
  EXPECT_EQ(div_full(a, 2.0f), a * quant::rcp_approx_ftz(2.0f));
  const float big = 0x1.8p127f;
  EXPECT_EQ(div_full(a, big), (a * 0.25f) * quant::rcp_approx_ftz(big * 0.25f));
  EXPECT_NE(div_full(a, big), 0.0f);
  EXPECT_EQ(div_full(-5.0f, INFINITY), -0.0f);
  EXPECT_TRUE(std::signbit(div_full(-5.0f, INFINITY)));
}

TEST(TkMxfp4, SwigluIsCloseToTheFormulaButNotLibm) {
  // Within 2 bf16 ulp of the fp64 gpt-oss formula everywhere in a wide sweep, and not
  // bit-equal to a naive fp32 version (expf + true division) on all inputs: the approximate
  // transcendentals are visible in the bits.
  int differ_naive = 0, n = 0;
  for (std::uint64_t i = 0; i < 400000; ++i) {
    // gate over [-24, 12), linear over [-9, 9): both clamps and the exp overflow are reached
    const float g = -24.0f + 36.0f * static_cast<float>(gen::u64(1, 1, i) >> 40) * 0x1p-24f;
    const float l = -9.0f + 18.0f * static_cast<float>(gen::u64(1, 2, i) >> 40) * 0x1p-24f;
    const std::uint16_t got = swiglu(g, l, 1.702f, 7.0f);
    const double ref = swiglu_ref(g, l);
    const double gd = bf16_to_f32(got);
    const double ulp = std::ldexp(1.0, std::ilogb(std::max(std::fabs(ref), 1e-30)) - 7);
    ASSERT_LE(std::fabs(gd - ref), 2 * ulp + 1e-30) << g << " " << l;
    const float gc = std::fmin(g, 7.0f), lc = std::fmin(std::fmax(l, -7.0f), 7.0f);
    const float s = gc / (1.0f + std::exp(-1.702f * gc));
    differ_naive += bf16_rne(std::fma(s, lc, s)) != got;
    ++n;
  }
  std::printf("swiglu: %d of %d bf16 outputs differ from expf + IEEE division\n", differ_naive, n);
  EXPECT_GT(n, 8000);
  EXPECT_GT(differ_naive, 0);
  // limit: the gate is clamped from above only, the linear half on both sides
  EXPECT_EQ(swiglu(100.0f, 0.0f, 1.702f, 7.0f), swiglu(7.0f, 0.0f, 1.702f, 7.0f));
  EXPECT_EQ(swiglu(1.0f, -100.0f, 1.702f, 7.0f), swiglu(1.0f, -7.0f, 1.702f, 7.0f));
  // very negative gate: exp overflows to inf, s = -0, out = -0 or +0 by the sign of l*s + s
  EXPECT_EQ(swiglu(-200.0f, 1.0f, 1.702f, 7.0f), 0x8000);
}

}  // namespace
}  // namespace moesim::kernels::tk
