// CuteDSL masked (batched) NVFP4 path. Expected values are worked by hand from the upstream
// source (flashinfer csrc/nv_internal/tensorrt_llm/kernels/quantization.cuh cvt_fp16_to_fp4_expert:
// int loop bound (expert_idx + 1) * m * colsPerRow, int product rowIdx * actualColsPerRow,
// colsPerRow = k / CVT_*_ELTS_PER_THREAD; fp4Quantize.cpp: numel(input_global_scale) == l), not
// from the code under test; a brute-force scan of the int32 products finds the thresholds.
#include <gtest/gtest.h>

#include <climits>
#include <map>

#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/cutedsl_masked_launch.hpp"

using namespace moesim;
using namespace moesim::kernels;

namespace {

const models::DeviceTable& devs() {
  static const models::DeviceTable d = models::DeviceTable::load(models_dir());
  return d;
}
const models::FlashInferProfiles& profs() {
  static const models::FlashInferProfiles p = models::FlashInferProfiles::load(models_dir());
  return p;
}
LaunchEnv env(const std::string& dev, const std::string& ver, const std::map<std::string, std::string>* traits = nullptr) {
  LaunchEnv e;
  e.device = &devs().find(dev);
  e.flashinfer = &profs().find(ver);
  if (traits) e.traits = *traits;
  return e;
}
// DeepSeek-V3 NVFP4 on the DeepEP LL layout: H=7168, I=2048, gated.
LaunchProblem ll(std::int64_t l, std::int64_t m) {
  LaunchProblem p;
  p.tokens = m;
  p.num_experts = 256;
  p.local_experts = l;
  p.top_k = 1;
  p.hidden = 7168;
  p.intermediate = 2048;
  p.quant = "nvfp4";
  p.batched_layout = true;
  return p;
}
const Finding* find(const std::vector<Finding>& fs, const std::string& id, const std::string& stage = "") {
  for (const auto& f : fs)
    if (f.id == id && (stage.empty() || f.stage == stage)) return &f;
  return nullptr;
}
// Independent brute force: does any int32 intermediate of the quantize loop exceed INT_MAX?
bool wraps(std::int64_t l, std::int64_t m, std::int64_t k, bool silu, int elts) {
  const std::int64_t cols = k / elts, actual = silu ? 2 * cols : cols;
  const std::int64_t last_expert_bound = l * m * cols;          // (expert_idx + 1) * m * colsPerRow, expert_idx = l-1
  const std::int64_t last_row_product = (l * m - 1) * actual;   // rowIdx * actualColsPerRow, rowIdx = l*m - 1
  return last_expert_bound > INT_MAX || last_row_product > INT_MAX;
}

}  // namespace

TEST(CuteDslMasked, ElementsPerThreadPerReleaseAndToolkit) {
  // v0.6.6: CVT_FP4_ELTS_PER_THREAD = 8 (quantization.cuh:181); v0.6.11rc1: 16 on SM100+ with
  // nvcc >= 12.9 (quantization.cuh:53-60), else 8.
  EXPECT_EQ(cutedsl_masked::elts_per_thread(profs().find("0.6.6").cute_dsl_masked, env("b200", "0.6.6")), 8);
  EXPECT_EQ(cutedsl_masked::elts_per_thread(profs().find("0.6.10.post1").cute_dsl_masked, env("b200", "0.6.10.post1")), 8);
  EXPECT_EQ(cutedsl_masked::elts_per_thread(profs().find("0.6.11rc1").cute_dsl_masked, env("b200", "0.6.11rc1")), 16);
  const std::map<std::string, std::string> old_nvcc{{"nvcc", "12.8"}}, new_nvcc{{"nvcc", "13.0"}}, bad{{"nvcc", "x"}};
  EXPECT_EQ(cutedsl_masked::elts_per_thread(profs().find("0.6.12").cute_dsl_masked, env("b200", "0.6.12", &old_nvcc)), 8);
  EXPECT_EQ(cutedsl_masked::elts_per_thread(profs().find("0.6.12").cute_dsl_masked, env("b200", "0.6.12", &new_nvcc)), 16);
  EXPECT_THROW(cutedsl_masked::elts_per_thread(profs().find("0.6.12").cute_dsl_masked, env("b200", "0.6.12", &bad)), InputError);
}

TEST(CuteDslMasked, Int32IndexMatchesBruteForceBothSides) {
  // Hand-worked: l=32, m=8192, H=7168, elts 8: 32*8192*896 = 234,881,024 (> (l*m-1)*896).
  EXPECT_EQ(cutedsl_masked::max_int32_intermediate(32, 8192, 7168, false, 8), 234881024);
  // GEMM1 input, l=8, elts 8: INT_MAX / (8*896) = 299,593.2 -> m = 299,594 is the first to wrap.
  EXPECT_FALSE(wraps(8, 299593, 7168, false, 8));
  EXPECT_TRUE(wraps(8, 299594, 7168, false, 8));
  auto e = env("b200", "0.6.6");
  EXPECT_EQ(find(cutedsl_masked::check(ll(8, 299593), e), "INT32_OFFSET_OVERFLOW", "quantize_act"), nullptr);
  const auto findings = cutedsl_masked::check(ll(8, 299594), e);  // f points into it: keep it alive
  const Finding* f = find(findings, "INT32_OFFSET_OVERFLOW", "quantize_act");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->value, 8LL * 299594 * 896);  // 2,147,489,792
  // GEMM2 input (silu_and_mul, k = I = 2048), elts 16 at 0.6.11rc1: (l*m - 1) * 256 wraps first,
  // at l*m - 1 >= 8,388,608, i.e. m = 262,145 for l = 32 (m = 262,144 gives 2,147,483,392).
  auto e11 = env("b200", "0.6.11rc1");
  EXPECT_FALSE(wraps(32, 262144, 2048, true, 16));
  EXPECT_TRUE(wraps(32, 262145, 2048, true, 16));
  EXPECT_EQ(find(cutedsl_masked::check(ll(32, 262144), e11), "INT32_OFFSET_OVERFLOW", "act_quant2"), nullptr);
  ASSERT_NE(find(cutedsl_masked::check(ll(32, 262145), e11), "INT32_OFFSET_OVERFLOW", "act_quant2"), nullptr);
  // Brute force over a range of (l, m) against the checker (both stages, both element widths).
  for (std::int64_t l : {1, 4, 32, 64})
    for (std::int64_t m : {1, 1000, 65536, 262144, 262145, 300000, 600000, 2000000})
      for (const char* v : {"0.6.6", "0.6.11rc1"}) {
        const int elts = std::string(v) == "0.6.6" ? 8 : 16;
        auto fs = cutedsl_masked::check(ll(l, m), env("b200", v));
        EXPECT_EQ(find(fs, "INT32_OFFSET_OVERFLOW", "quantize_act") != nullptr, wraps(l, m, 7168, false, elts)) << l << " " << m << " " << v;
        EXPECT_EQ(find(fs, "INT32_OFFSET_OVERFLOW", "act_quant2") != nullptr, wraps(l, m, 2048, true, elts)) << l << " " << m << " " << v;
      }
}

TEST(CuteDslMasked, GlobalScaleNumelMustEqualLocalExperts) {
  auto p = ll(32, 1024);
  p.act_global_scale_numel = 1;  // the docstring's [1]: binding checks mask.shape[0] == input_global_scale.shape[0]
  const auto findings = cutedsl_masked::check(p, env("b200", "0.6.12"));  // f points into it
  const Finding* f = find(findings, "SCALE_SHAPE_CONTRACT");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->value, 1);
  EXPECT_EQ(*f->limit_value, 32);
  p.act_global_scale_numel = 32;
  EXPECT_EQ(find(cutedsl_masked::check(p, env("b200", "0.6.12")), "SCALE_SHAPE_CONTRACT"), nullptr);
}

TEST(CuteDslMasked, GatesArchQuantAndLayout) {
  auto has_no = [](const std::vector<Finding>& fs) {
    for (const auto& f : fs)
      for (const auto& d : f.details)
        if (d.first == "applies" && d.second == "no") return true;
    return false;
  };
  EXPECT_TRUE(has_no(cutedsl_masked::check(ll(32, 1024), env("h100", "0.6.12"))));
  EXPECT_TRUE(has_no(cutedsl_masked::check(ll(32, 1024), env("rtx-pro-6000", "0.6.12"))));
  EXPECT_FALSE(has_no(cutedsl_masked::check(ll(32, 1024), env("b300", "0.6.12"))));
  auto p = ll(32, 1024);
  p.quant = "fp8_block128";
  EXPECT_TRUE(has_no(cutedsl_masked::check(p, env("b200", "0.6.12"))));
  p = ll(32, 1024);
  p.batched_layout = false;  // standard activation format: not this path
  EXPECT_TRUE(has_no(cutedsl_masked::check(p, env("b200", "0.6.12"))));
}
