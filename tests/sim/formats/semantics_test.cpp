// The generic decoder against values written out by hand from the format specifications
// (OCP OFP8, OCP MX v1.0 §5, IEEE 754) and, for fp32/fp16/bf16, against the C++ hardware
// conversion of the same bits: an independent path.
#include "sim/formats/semantics.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "sim/core/bits.hpp"

namespace moesim::fmt {

TEST(Semantics, E2M1TableFromOcpSpec) {
  const double expect[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  for (std::uint32_t c = 0; c < 8; ++c) {
    EXPECT_EQ(to_double(kE2M1, c), expect[c]) << c;
    EXPECT_EQ(to_double(kE2M1, c | 8), -expect[c]) << c;
  }
}

TEST(Semantics, E4M3FnLandmarks) {
  EXPECT_EQ(to_double(kE4M3FN, 0x7E), 448.0);        // max normal S.1111.110
  EXPECT_TRUE(std::isnan(to_double(kE4M3FN, 0x7F)));  // only NaN
  EXPECT_TRUE(std::isnan(to_double(kE4M3FN, 0xFF)));
  EXPECT_EQ(to_double(kE4M3FN, 0x78), 256.0);         // S.1111.000 is finite (no Inf)
  EXPECT_EQ(to_double(kE4M3FN, 0x08), std::ldexp(1.0, -6));  // min normal
  EXPECT_EQ(to_double(kE4M3FN, 0x01), std::ldexp(1.0, -9));  // min subnormal
  EXPECT_EQ(to_double(kE4M3FN, 0x80), -0.0);
  EXPECT_TRUE(std::signbit(to_double(kE4M3FN, 0x80)));
}

TEST(Semantics, E5M2Landmarks) {
  EXPECT_EQ(to_double(kE5M2, 0x7B), 57344.0);
  EXPECT_TRUE(std::isinf(to_double(kE5M2, 0x7C)));
  for (std::uint32_t b : {0x7Du, 0x7Eu, 0x7Fu}) EXPECT_TRUE(std::isnan(to_double(kE5M2, b)));
  EXPECT_EQ(to_double(kE5M2, 0x01), std::ldexp(1.0, -16));
}

TEST(Semantics, UE8M0IsPowerOfTwoWithNaNAtFF) {
  for (std::uint32_t e = 0; e < 255; ++e) EXPECT_EQ(to_double(kUE8M0, e), std::ldexp(1.0, int(e) - 127)) << e;
  EXPECT_TRUE(std::isnan(to_double(kUE8M0, 0xFF)));
}

TEST(Semantics, UE4M3IsUnsignedE4M3) {
  for (std::uint32_t b = 0; b < 128; ++b) {
    const double u = to_double(kUE4M3, b), e = to_double(kE4M3FN, b);
    if (std::isnan(e)) EXPECT_TRUE(std::isnan(u));
    else EXPECT_EQ(u, e) << b;
  }
}

// fp32 and fp16/bf16: every 16-bit pattern, and a sweep of fp32 patterns, against the compiler.
TEST(Semantics, Fp32MatchesHardwareViewExhaustiveStride) {
  for (std::uint64_t u = 0; u < (1ull << 32); u += 65521) {
    const float f = f32_from_bits(static_cast<std::uint32_t>(u));
    const double d = to_double(kFP32, static_cast<std::uint32_t>(u));
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(d));
    else ASSERT_EQ(d, static_cast<double>(f)) << std::hex << u;
  }
}

TEST(Semantics, Bf16IsTopHalfOfFp32Exhaustive) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_bits_to_f32(static_cast<std::uint16_t>(h));
    const double d = to_double(kBF16, h);
    if (std::isnan(f)) ASSERT_TRUE(std::isnan(d));
    else ASSERT_EQ(d, static_cast<double>(f)) << h;
  }
}

TEST(Semantics, Fp16MatchesCompilerFloat16Exhaustive) {
#ifndef __FLT16_MANT_DIG__
  GTEST_SKIP() << "this compiler has no _Float16 (clang < 15 on x86)";
#else
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const _Float16 x = std::bit_cast<_Float16>(static_cast<std::uint16_t>(h));
    const double d = to_double(kFP16, h);
    if (x != x) ASSERT_TRUE(std::isnan(d));
    else ASSERT_EQ(d, static_cast<double>(x)) << h;
  }
#endif
}

}  // namespace moesim::fmt
