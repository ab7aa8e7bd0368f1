// NVFP4 quantizers: the vLLM-kernel rule byte-exact against the H100 recording of a faithful
// CUDA re-implementation (scripts/gpu/quant_nvfp4_anchor.cu) on a 4096x7168 bf16 tensor;
// every rule against an exact (double) statement of its contract away from rounding ties;
// global-scale shape contracts; roundtrips.
#include "sim/quant/nvfp4.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/quant/anchor_tensor.hpp"
#include "sim/quant/layout.hpp"
#include "tests/sim/quant/sha256.hpp"

namespace moesim::quant {
namespace {

std::map<std::string, std::string> anchor_record() {
  std::ifstream in(std::string(MOESIM_TEST_DATA_DIR) + "/quant/nvfp4_vllm_anchor.txt");
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("sha256 ", 0) == 0) line = line.substr(7);
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1);
    if (const auto sp = v.find(' '); sp != std::string::npos) v = v.substr(0, sp);
    kv[line.substr(0, eq)] = v;
  }
  return kv;
}

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

TEST(Nvfp4, VllmKernelRuleMatchesH100AnchorBytes) {
  auto rec = anchor_record();
  ASSERT_FALSE(rec.empty());
  const auto bf = anchor_tensor();
  {
    std::vector<std::uint8_t> bytes(bf.size() * 2);
    std::memcpy(bytes.data(), bf.data(), bytes.size());
    ASSERT_EQ(test::sha256_hex(bytes), rec["anchor_input"]) << "input generator differs from the GPU's";
  }
  std::vector<float> x(bf.size());
  for (std::size_t i = 0; i < bf.size(); ++i) x[i] = fmt::fast::bf16_to_f32(bf[i]);
  const float amax = amax_abs(x.data(), static_cast<std::int64_t>(x.size()));
  const float gs = global_scale_from_amax(Nvfp4Rule::VllmKernel, amax);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", f32_bits(amax));
  EXPECT_EQ(buf, rec["amax_bits"]);
  std::snprintf(buf, sizeof buf, "%08x", f32_bits(gs));
  EXPECT_EQ(buf, rec["gs_bits"]);
  GlobalScale g{GlobalScale::Shape::PerTensor, {gs}, {}};
  const Nvfp4Result q = quantize_nvfp4(x.data(), kAnchorRows, kAnchorCols, g, Nvfp4Rule::VllmKernel);
  EXPECT_EQ(hex(q.packed.data(), 64), rec["packed_row0_first64"]);
  EXPECT_EQ(hex(q.packed.data() + 1009 * 3584, 64), rec["packed_row1009_first64"]);
  EXPECT_EQ(hex(q.scales.data() + 4095 * 448, 32), rec["sf_row4095_first32"]);
  EXPECT_EQ(test::sha256_hex(q.packed), rec["anchor_packed"]);
  EXPECT_EQ(test::sha256_hex(q.scales), rec["anchor_sf_linear"]);
  const auto sw = sf_to_layout(q.scales.data(), kAnchorRows, kAnchorCols / 16, SfLayout::Swizzled128x4);
  EXPECT_EQ(test::sha256_hex(sw), rec["anchor_sf_128x4"]);
}

// Exact (double) contract of each rule, used away from ties: the scale byte is e4m3-RNE of the
// rule's real-number scale, and each code is the e2m1 grid point nearest x / (real decode).
struct Contract {
  double scale;   // the block-scale value before the e4m3 cast
  double decode;  // what one e2m1 unit is worth in x units, from the e4m3 scale actually chosen
};
Contract contract(Nvfp4Rule r, double g, double vmax, double sf_e4m3) {
  switch (r) {
    case Nvfp4Rule::VllmKernel:
    case Nvfp4Rule::VllmTeExact: return {g * vmax / 6.0, sf_e4m3 / g};
    case Nvfp4Rule::TransformerEngine: return {vmax * (2688.0 / g) / 6.0, sf_e4m3 * g / 2688.0};
    case Nvfp4Rule::Torchao: return {std::clamp(vmax / 6.0 / g, 0x1p-6, 448.0), sf_e4m3 * g};
    case Nvfp4Rule::TorchaoSingleLevel: return {std::clamp(vmax / 6.0, 0x1p-6, 448.0), sf_e4m3};
    case Nvfp4Rule::ModelOpt: return {vmax == 0 ? 1.0 : vmax / (6.0 * g), sf_e4m3 * g};
  }
  return {0, 0};
}

double e4m3_near_tie_distance(double s) {  // relative distance of s to the nearest e4m3 midpoint
  double best = 1e300;
  for (int b = 0; b < 0x7E; ++b) {
    const double lo = fmt::fast::e4m3_to_f32(static_cast<std::uint8_t>(b)), hi = fmt::fast::e4m3_to_f32(static_cast<std::uint8_t>(b + 1));
    const double mid = (lo + hi) / 2;
    best = std::min(best, std::fabs(s - mid) / mid);
  }
  return best;
}

TEST(Nvfp4, EveryRuleMeetsItsExactContractAwayFromTies) {
  const Nvfp4Rule rules[] = {Nvfp4Rule::VllmKernel, Nvfp4Rule::VllmTeExact, Nvfp4Rule::TransformerEngine,
                             Nvfp4Rule::Torchao, Nvfp4Rule::TorchaoSingleLevel, Nvfp4Rule::ModelOpt};
  const double grid[] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  Rng rng(5);
  const std::int64_t rows = 64, cols = 256;
  std::vector<float> x(rows * cols);
  for (std::int64_t i = 0; i < rows * cols; ++i)
    x[i] = static_cast<float>(rng.normal() * std::ldexp(1.0, static_cast<int>(rng.below(20)) - 10));
  const float amax = amax_abs(x.data(), rows * cols);
  for (Nvfp4Rule r : rules) {
    const float g = global_scale_from_amax(r, amax);
    const Nvfp4Result q = quantize_nvfp4(x.data(), rows, cols, GlobalScale{GlobalScale::Shape::PerTensor, {g}, {}}, r);
    std::int64_t checked_scales = 0, checked_elems = 0;
    for (std::int64_t b = 0; b < rows * cols / 16; ++b) {
      double vmax = 0;
      for (int j = 0; j < 16; ++j) vmax = std::max(vmax, std::fabs(double(x[b * 16 + j])));
      const double sf = fmt::fast::e4m3_to_f32(q.scales[b]);
      const Contract c = contract(r, g, vmax, sf);
      if (e4m3_near_tie_distance(c.scale) > 1e-5) {
        // nearest e4m3 to c.scale
        double bestd = 1e300, bestv = 0;
        for (int v = 0; v <= 0x7E; ++v) {
          const double e = fmt::fast::e4m3_to_f32(static_cast<std::uint8_t>(v));
          if (std::fabs(e - c.scale) < bestd) bestd = std::fabs(e - c.scale), bestv = e;
        }
        ASSERT_EQ(sf, bestv) << nvfp4_rule_name(r) << " block " << b;
        ++checked_scales;
      }
      if (c.decode == 0) continue;
      for (int j = 0; j < 16; ++j) {
        const double t = std::fabs(double(x[b * 16 + j]) / c.decode);
        // skip values within 1e-5 (relative) of an e2m1 rounding boundary
        bool near = false;
        for (int k = 0; k + 1 < 8; ++k) near |= std::fabs(t - (grid[k] + grid[k + 1]) / 2) <= 1e-5 * std::max(1.0, t);
        if (near) continue;
        double best = 0;
        for (double v : grid)
          if (std::fabs(v - t) < std::fabs(best - t)) best = v;
        const std::uint8_t byte = q.packed[(b * 16 + j) / 2];
        const std::uint8_t code = (j & 1) ? byte >> 4 : byte & 0xF;
        ASSERT_EQ(std::fabs(fmt::fast::e2m1_to_f32(code)), best) << nvfp4_rule_name(r) << " elem " << b * 16 + j << " t=" << t;
        ++checked_elems;
      }
    }
    EXPECT_GT(checked_scales, rows * cols / 16 * 9 / 10) << nvfp4_rule_name(r);
    EXPECT_GT(checked_elems, rows * cols * 9 / 10) << nvfp4_rule_name(r);
  }
}

TEST(Nvfp4, RulesDifferOnTiesAsTheirOpOrdersPredict) {
  // A block whose exact scale g*vmax/6 is an e4m3 tie: 2688/amax with vmax = amax gives 448;
  // pick vmax so that the real scale is 13*2^-3 + 2^-4 (tie between 1.625 and 1.75).
  const float amax = 6.0f;
  std::vector<float> x(16, 0.0f);
  x[0] = 6.0f * (1.6875f / 448.0f);  // real scale = 1.6875 (tie) for the 2688/amax rules
  x[1] = amax;                         // second block row? keep one block: vmax = amax overall
  // use two rows: row 0 holds the tie block, row 1 sets amax
  std::vector<float> t(32, 0.0f);
  t[0] = x[0];
  t[16] = amax;
  std::map<std::string, std::uint8_t> sf;
  for (Nvfp4Rule r : {Nvfp4Rule::VllmKernel, Nvfp4Rule::VllmTeExact, Nvfp4Rule::TransformerEngine, Nvfp4Rule::ModelOpt}) {
    const float g = global_scale_from_amax(r, amax);
    sf[std::string(nvfp4_rule_name(r))] =
        quantize_nvfp4(t.data(), 2, 16, GlobalScale{GlobalScale::Shape::PerTensor, {g}, {}}, r).scales[0];
  }
  // All four must land on one of the two tie neighbours 0x3D (1.625) / 0x3E (1.75).
  for (const auto& [name, b] : sf) EXPECT_TRUE(b == 0x3D || b == 0x3E) << name << " " << int(b);
}

TEST(Nvfp4, UnderflowedScaleKeepsTheVecMaxGuard) {
  // cvt_warp_fp16_to_fp4 guards the output scale on vecMax != 0, not on the e4m3 SF: a block
  // whose SF rounds to 0 gets rcp(0) = +Inf (TE_EXACT: 1/0), so nonzero elements saturate to
  // +-6 and zeros become NaN (e2m1 has no NaN: converter convention +6, unrecorded).
  std::vector<float> x(32, 0.0f);
  x[0] = 1e-7f;
  x[1] = -2e-7f;
  x[16] = 1.0f;  // amax (second block)
  for (Nvfp4Rule r : {Nvfp4Rule::VllmKernel, Nvfp4Rule::VllmTeExact}) {
    const GlobalScale g{GlobalScale::Shape::PerTensor, {global_scale_from_amax(r, 1.0f)}, {}};
    const auto q = quantize_nvfp4(x.data(), 1, 32, g, r);
    EXPECT_EQ(q.scales[0], 0) << nvfp4_rule_name(r);  // 448 * 2e-7 < 2^-10: e4m3 0
    EXPECT_EQ(q.packed[0], 0xF7) << nvfp4_rule_name(r);
    EXPECT_EQ(q.packed[1], 0x77) << nvfp4_rule_name(r);
  }
  // An all-zero block keeps outputScale = 0: codes are the signed zeros of x*0.
  std::vector<float> z(16, 0.0f);
  z[3] = -0.0f;
  const auto q = quantize_nvfp4(z.data(), 1, 16, GlobalScale{GlobalScale::Shape::PerTensor, {1.0f}, {}}, Nvfp4Rule::VllmKernel);
  EXPECT_EQ(q.scales[0], 0);
  EXPECT_EQ(q.packed[1], 0x80);
}

TEST(Nvfp4, GlobalScaleShapeContracts) {
  std::vector<float> x(4 * 16, 1.0f);
  GlobalScale bad{GlobalScale::Shape::PerToken, {1.0f, 2.0f}, {}};
  EXPECT_THROW(quantize_nvfp4(x.data(), 4, 16, bad, Nvfp4Rule::VllmKernel), InputError);
  GlobalScale per_tensor{GlobalScale::Shape::PerTensor, {1.0f, 2.0f}, {}};
  EXPECT_THROW(quantize_nvfp4(x.data(), 4, 16, per_tensor, Nvfp4Rule::VllmKernel), InputError);
  GlobalScale experts{GlobalScale::Shape::PerExpert, {448.0f, 224.0f}, {0, 1, 4}};
  const auto q = quantize_nvfp4(x.data(), 4, 16, experts, Nvfp4Rule::VllmKernel);
  // expert 0 (row 0): g=448 -> SF = 448*1*rcp(6) ~ 74.67 -> e4m3 72 (0x5A? nearest of 72/80)
  // expert 1 (rows 1..3): half of it: every row of one expert has the same scale byte
  EXPECT_EQ(q.scales[1], q.scales[2]);
  EXPECT_EQ(q.scales[2], q.scales[3]);
  EXPECT_NE(q.scales[0], q.scales[1]);
  GlobalScale bad_off{GlobalScale::Shape::PerExpert, {1.0f, 1.0f}, {0, 3, 2}};
  EXPECT_THROW(quantize_nvfp4(x.data(), 4, 16, bad_off, Nvfp4Rule::VllmKernel), InputError);
  EXPECT_THROW(quantize_nvfp4(x.data(), 2, 24, GlobalScale{GlobalScale::Shape::PerTensor, {1.0f}, {}}, Nvfp4Rule::VllmKernel),
               InputError);
  EXPECT_THROW(parse_nvfp4_rule("nvfp4-magic"), InputError);
}

TEST(Nvfp4, RoundtripErrorIsWithinHalfAGridStepOfTheBlockScale) {
  Rng rng(9);
  const std::int64_t rows = 32, cols = 128;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  const float amax = amax_abs(x.data(), rows * cols);
  for (Nvfp4Rule r : {Nvfp4Rule::VllmKernel, Nvfp4Rule::TransformerEngine, Nvfp4Rule::Torchao, Nvfp4Rule::ModelOpt}) {
    GlobalScale g{GlobalScale::Shape::PerTensor, {global_scale_from_amax(r, amax)}, {}};
    const auto q = quantize_nvfp4(x.data(), rows, cols, g, r);
    const auto d = dequantize_nvfp4(q, rows, cols, g, r);
    for (std::int64_t i = 0; i < rows * cols; ++i) {
      double vmax = 0;
      for (int j = 0; j < 16; ++j) vmax = std::max(vmax, std::fabs(double(x[i / 16 * 16 + j])));
      EXPECT_LE(std::fabs(double(d[i]) - x[i]), vmax / 6.0 * 1.0 * 1.1 + 1e-6) << nvfp4_rule_name(r) << " " << i;
    }
  }
}

}  // namespace
}  // namespace moesim::quant
