// reference_fp64 on quantized traces: it reads fp8, NVFP4 and MXFP4 weights as the exact values
// they stand for, so a variant's distance to it is the variant's own rounding. Bounds:
//  - MXFP4 x bf16 (W4A16, activations not quantized): GEMM1 differs from the exact product only
//    by the chained fp32 truncation and one bf16 rounding of the output (2^-9 relative per
//    element), so rel L2 must stay below 2^-8;
//  - fp8 w8a8 blocks: weights exact, activations rounded to e4m3 (relative error <= 2^-4 per
//    normal element), so GEMM1 rel L2 must stay below 2^-4;
//  - NVFP4: activations rounded to e2m1 with e4m3 block scales; a lost or doubled global scale
//    puts rel L2 at ~1 or far above, the rounding itself keeps it near 0.15: below 0.5.
#include <gtest/gtest.h>

#include <filesystem>

#include <boost/json.hpp>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::run_moesim;

double stage_rel_l2(const std::string& json, const std::string& stage) {
  const auto v = boost::json::parse(json).as_object();
  const auto& d = v.at("calls").as_array().at(0).as_object().at("diff").as_object();
  for (const auto& s : d.at("stages").as_array())
    if (s.as_object().at("stage").as_string() == stage && s.as_object().at("compared").as_bool())
      return s.as_object().at("diff").as_object().at("rel_l2").as_double();
  ADD_FAILURE() << "stage " << stage << " not compared";
  return 1e9;
}

std::string synth(const std::string& weights) {
  const auto dir = std::filesystem::temp_directory_path() / ("moesim_refq_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (weights + ".h5")).string();
  const auto r = run_moesim("synth -p qwen3-30b-a3b -o " + path + " -t 16 --activations --weights " + weights +
                            " --experts 8 --hidden 256 --intermediate 128 --seed 3");
  EXPECT_EQ(r.rc, 0) << r.out;
  return path;
}

TEST(ReferenceQuantized, Mxfp4W4A16Gemm1WithinBf16Rounding) {
  const auto r = run_moesim("replay " + synth("mxfp4") + " --variant flashinfer_cutlass_mxfp4_bf16_sm90 --against reference --json",
                            false);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_LT(stage_rel_l2(r.out, "gemm1"), 1.0 / 256);
}

TEST(ReferenceQuantized, Fp8BlockGoldenGemm1WithinE4m3Rounding) {
  const auto r = run_moesim("replay " + std::string(MOESIM_TEST_DATA_DIR) +
                                "/golden/triton_fp8_blk_bm64_e3k2.h5 --against reference --json",
                            false);
  ASSERT_EQ(r.rc, 0) << r.out;
  const double e = stage_rel_l2(r.out, "gemm1");
  EXPECT_LT(e, 1.0 / 16);
  EXPECT_GT(e, 0.0);  // activations are quantized: the reference is not the same computation
}

TEST(ReferenceQuantized, Nvfp4GlobalScaleIsApplied) {
  const auto r = run_moesim("replay " + synth("nvfp4") + " --variant flashinfer_trtllm_nvfp4 --against reference --json", false);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_LT(stage_rel_l2(r.out, "finalize"), 0.5);
}

}  // namespace
