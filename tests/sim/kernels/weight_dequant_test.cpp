// dequantize_exact against values written down from the format definitions (not from
// sim/formats): every e4m3/e5m2 code, the e2m1 table, ue4m3/ue8m0 scales, per-tensor and
// 128x128 block fp8 scales, NVFP4 global scales, scale layouts, and the bad-input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "sim/core/error.hpp"
#include "sim/kernels/weight_dequant.hpp"
#include "sim/quant/layout.hpp"

namespace moesim::kernels {
namespace {

// Minifloat by definition: bias 2^(e-1)-1, subnormals at e=0. NaN for the format's NaN codes.
double minifloat(std::uint32_t bits, int ebits, int mbits, bool fn_nan) {
  const bool neg = (bits >> (ebits + mbits)) & 1;
  const int e = static_cast<int>((bits >> mbits) & ((1u << ebits) - 1));
  const int m = static_cast<int>(bits & ((1u << mbits) - 1));
  const int bias = (1 << (ebits - 1)) - 1;
  if (fn_nan && e == (1 << ebits) - 1 && m == (1 << mbits) - 1) return std::nan("");
  if (!fn_nan && e == (1 << ebits) - 1) return m ? std::nan("") : (neg ? -INFINITY : INFINITY);
  const double mag = e == 0 ? std::ldexp(m, 1 - bias - mbits) : std::ldexp((1 << mbits) + m, e - bias - mbits);
  return neg ? -mag : mag;
}

const double kE2M1[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};

TEST(WeightDequant, EveryFp8CodeTimesPerTensorScale) {
  for (const char* dt : {"fp8_e4m3fn", "fp8_e5m2"}) {
    const bool e4 = std::string(dt) == "fp8_e4m3fn";
    ExpertMatrix w;
    w.dtype = dt;
    w.rows = 16;
    w.cols = 16;
    for (int i = 0; i < 256; ++i) w.bytes.push_back(static_cast<std::uint8_t>(i));
    // Replace non-finite codes (they are rejected, tested below) by zero.
    for (auto& b : w.bytes)
      if (!std::isfinite(minifloat(b, e4 ? 4 : 5, e4 ? 3 : 2, e4))) b = 0;
    w.scale = {0.3f};
    const auto v = dequantize_exact(w, 16, 16, "w13[0]");
    for (int i = 0; i < 256; ++i)
      EXPECT_EQ(v[i], minifloat(w.bytes[i], e4 ? 4 : 5, e4 ? 3 : 2, e4) * static_cast<double>(0.3f)) << dt << " " << i;
  }
}

TEST(WeightDequant, Fp8BlockScalesPickTheirBlock) {
  ExpertMatrix w;
  w.dtype = "fp8_e4m3fn";
  w.rows = 200;  // 2 row blocks (one partial)
  w.cols = 300;  // 3 column blocks (one partial)
  w.bytes.assign(200 * 300, 0x38);  // 1.0
  for (int b = 0; b < 6; ++b) w.scale.push_back(static_cast<float>(b + 1) * 0.25f);
  const auto v = dequantize_exact(w, 200, 300, "w");
  for (int r : {0, 127, 128, 199})
    for (int c : {0, 127, 128, 255, 256, 299}) EXPECT_EQ(v[r * 300 + c], ((r / 128) * 3 + c / 128 + 1) * 0.25) << r << "," << c;
  w.scale.pop_back();
  EXPECT_THROW(dequantize_exact(w, 200, 300, "w"), InputError);
}

TEST(WeightDequant, Nvfp4CodesTimesUe4m3TimesGlobalInAnyLayout) {
  const std::int64_t rows = 128, cols = 64, sc = cols / 16;
  std::vector<std::uint8_t> linear(rows * sc);
  for (std::size_t i = 0; i < linear.size(); ++i) linear[i] = static_cast<std::uint8_t>(1 + (i * 37) % 126);
  ExpertMatrix w;
  w.dtype = "e2m1x2";
  w.rows = rows;
  w.cols = cols / 2;
  for (std::int64_t i = 0; i < rows * cols / 2; ++i) w.bytes.push_back(static_cast<std::uint8_t>((i * 29 + 7) & 0xFF));
  w.scale_dtype = "ue4m3";
  w.global_scale = 0.0625f * 3;
  for (const char* tag : {"linear", "swizzled_128x4"}) {
    w.scale_layout = tag;
    w.scale_bytes = quant::sf_to_layout(linear.data(), rows, sc, quant::parse_layout(tag));
    const auto v = dequantize_exact(w, rows, cols, "w2[3]");
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) {
        const std::uint8_t byte = w.bytes[(r * cols + c) / 2];
        const std::uint32_t code = c % 2 ? byte >> 4 : byte & 15;
        const double e = (code & 8 ? -1 : 1) * kE2M1[code & 7];
        const double s = minifloat(linear[r * sc + c / 16], 4, 3, true);
        ASSERT_EQ(v[r * cols + c], e * s * (0.0625 * 3)) << tag << " " << r << "," << c;
      }
  }
}

TEST(WeightDequant, Mxfp4ScalesArePowersOfTwo) {
  ExpertMatrix w;
  w.dtype = "e2m1x2";
  w.rows = 2;
  w.cols = 32;  // 64 elements per row = 2 blocks
  w.bytes.assign(64, 0x71);  // low nibble 1 (0.5), high nibble 7 (6.0)
  w.scale_dtype = "ue8m0";
  w.scale_bytes = {127, 130, 120, 1};
  const auto v = dequantize_exact(w, 2, 64, "w");
  EXPECT_EQ(v[0], 0.5);
  EXPECT_EQ(v[1], 6.0);
  EXPECT_EQ(v[32], 0.5 * 8);
  EXPECT_EQ(v[64 + 1], 6.0 * std::ldexp(1.0, -7));
  EXPECT_EQ(v[64 + 33], 6.0 * std::ldexp(1.0, -126));
}

TEST(WeightDequant, BadInputIsAnInputErrorNamingTheMatrix) {
  ExpertMatrix w;
  w.dtype = "bf16";
  w.rows = 2;
  w.cols = 2;
  w.bytes.assign(8, 0);
  EXPECT_NO_THROW(dequantize_exact(w, 2, 2, "w13[1]"));
  try {
    dequantize_exact(w, 2, 3, "w13[1]");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("w13[1]"), std::string::npos) << e.what();
  }
  const std::uint16_t nan = 0x7FC0;
  std::memcpy(w.bytes.data() + 6, &nan, 2);
  EXPECT_TRUE(std::isnan(dequantize_exact(w, 2, 2, "w13[1]")[3]));  // propagates; the trace reader rejects it
  w.dtype = "int4";
  EXPECT_THROW(dequantize_exact(w, 2, 2, "w13[1]"), InputError);
  ExpertMatrix f;
  f.dtype = "e2m1x2";
  f.rows = 1;
  f.cols = 8;
  f.bytes.assign(8, 0);
  EXPECT_THROW(dequantize_exact(f, 1, 16, "w"), InputError);  // no scales
  f.scale_dtype = "ue4m3";
  f.scale_bytes = {0x7F};  // NaN scale: every element of the block is NaN
  EXPECT_TRUE(std::isnan(dequantize_exact(f, 1, 16, "w")[15]));
  f.scale_bytes = {0x38, 0x38};  // wrong count
  EXPECT_THROW(dequantize_exact(f, 1, 16, "w"), InputError);
}

}  // namespace
}  // namespace moesim::kernels
