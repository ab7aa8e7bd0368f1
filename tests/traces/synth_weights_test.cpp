// Quantized synthetic weights: the stored bytes dequantize (with the format decoder, not the
// quantizer) to the same bf16 master weights the bf16 mode writes for the same seed, within
// the format's quantization error; shapes and scale datasets follow docs/trace-format.md.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "sim/core/bits.hpp"
#include "sim/formats/semantics.hpp"
#include "test_util.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces {
namespace {

using moesim::testing::run_cmd;
using moesim::testing::temp_path;

std::string synth(const std::string& w) {
  const std::string p = temp_path(w + ".h5");
  auto r = run_cmd(std::string(MOESIM_BINARY) + " synth -p deepseek-v3 -t 8 --experts 3 --top-k 2 --hidden 256 --intermediate 128 -s 5 --weights " + w + " -o " + p);
  EXPECT_EQ(r.code, 0) << r.out;
  return p;
}

// Dequantizes one expert's matrix using only the format semantics and the stored scales.
std::vector<double> dequant(const ExpertWeights& w, std::int64_t rows, std::int64_t cols) {
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  const auto& b = w.w.bytes;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      double v;
      if (w.w.dtype == "bf16") {
        std::uint16_t h;
        std::memcpy(&h, b.data() + 2 * i, 2);
        v = fmt::to_double(fmt::kBF16, h);
      } else if (w.w.dtype == "fp8_e4m3fn") {
        float s;
        std::memcpy(&s, w.scale->bytes.data() + 4 * ((r / 128) * w.scale->shape[1] + c / 128), 4);
        v = fmt::to_double(fmt::kE4M3FN, b[i]) * s;
      } else {
        const std::uint8_t byte = b[i / 2];
        const double e = fmt::to_double(fmt::kE2M1, (i % 2) ? byte >> 4 : byte & 0xF);
        if (w.scale->dtype == "ue4m3") {
          const std::uint8_t sc = w.scale->bytes[static_cast<std::size_t>(r * (cols / 16) + c / 16)];
          v = e * fmt::to_double(fmt::kUE4M3, sc) * static_cast<double>(*w.global_scale);
        } else {
          const std::uint8_t sc = w.scale->bytes[static_cast<std::size_t>(r * (cols / 32) + c / 32)];
          v = e * fmt::to_double(fmt::kUE8M0, sc);
        }
      }
      out[i] = v;
    }
  return out;
}

double rel_err(const std::vector<double>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(SynthWeights, QuantizedWeightsDequantizeToTheBf16MasterWeights) {
  WeightReader master(synth("bf16"));
  // fp8 e4m3 keeps 3 mantissa bits (~2.5% rms); fp4 e2m1 1 bit (~10-20% rms).
  for (auto [fmt, tol] : {std::pair{"fp8", 0.05}, std::pair{"nvfp4", 0.2}, std::pair{"mxfp4", 0.25}}) {
    WeightReader q(synth(fmt));
    EXPECT_TRUE(q.info().has_scales) << fmt;
    for (std::int64_t e = 0; e < 3; ++e) {
      for (const char* which : {"w13", "w2"}) {
        const std::int64_t rows = std::string(which) == "w13" ? 256 : 256, cols = std::string(which) == "w13" ? 256 : 128;
        auto ref = dequant(master.read(which, e), rows, cols);
        auto got = dequant(q.read(which, e), rows, cols);
        const double err = rel_err(got, ref);
        EXPECT_LT(err, tol) << fmt << " " << which << " expert " << e;
        EXPECT_GT(err, 0.0) << fmt << " quantization cannot be lossless on N(0,1) data";
      }
    }
  }
}

TEST(SynthWeights, Nvfp4HasPerExpertGlobalScalesAndPackedShapes) {
  const std::string p = synth("nvfp4");
  Trace t = read_trace(p);
  EXPECT_EQ(t.weights.dtype, "e2m1x2");
  EXPECT_EQ(t.weights.w13_shape, (std::vector<std::int64_t>{3, 256, 128}));
  EXPECT_EQ(t.weights.w2_shape, (std::vector<std::int64_t>{3, 256, 64}));
  EXPECT_TRUE(t.weights.has_global_scales);
  WeightReader r(p);
  auto w = r.read("w2", 1);
  ASSERT_TRUE(w.global_scale);
  EXPECT_GT(*w.global_scale, 0.f);
  EXPECT_EQ(w.scale->shape, (std::vector<std::int64_t>{256, 8}));
}

TEST(SynthWeights, BlockSizeMustDivideDims) {
  auto r = run_cmd(std::string(MOESIM_BINARY) + " synth -p deepseek-v3 -t 8 --hidden 200 --weights mxfp4 -o " + temp_path("bad.h5"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("multiples of the block size 32"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace moesim::traces
