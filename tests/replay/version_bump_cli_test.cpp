// `moesim replay --flashinfer V1 --against-flashinfer V2`: the version-bump report replays one
// variant as two library versions, diffs them stage by stage and reports both sides' findings.
// Uses the CuteDSL NVFP4 variant's version table (models/kernels/flashinfer_cutedsl_nvfp4.json):
// v0.6.4 routes with token indices where expanded indices belong (fixed in v0.6.5, PR #2629),
// so output rows go unwritten; v0.6.7 and v0.6.11.post2 share one model.
#include <gtest/gtest.h>

#include <filesystem>

#include <boost/json.hpp>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::run_moesim;

const std::string& nvfp4_trace() {
  static const std::string path = [] {
    const auto p = std::filesystem::temp_directory_path() / ("moesim_bump_" + std::to_string(::getpid()) + ".h5");
    const auto r = run_moesim("synth -p qwen3-30b-a3b -o " + p.string() +
                              " -t 16 --activations --weights nvfp4 --experts 8 --hidden 256 --intermediate 128 --seed 5");
    EXPECT_EQ(r.rc, 0) << r.out;
    return p.string();
  }();
  return path;
}

TEST(VersionBumpCli, RegressionInTheOtherVersionIsReportedWithItsVersion) {
  const auto r = run_moesim("replay " + nvfp4_trace() +
                                " --variant flashinfer_cutedsl_nvfp4 --flashinfer 0.6.11.post2 --against-flashinfer 0.6.4 --json",
                            false);
  EXPECT_EQ(r.rc, 1) << r.out;  // error findings on the 0.6.4 side
  const auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("variant").as_string(), "flashinfer_cutedsl_nvfp4@flashinfer-0.6.11.post2");
  EXPECT_EQ(v.at("against").as_string(), "flashinfer_cutedsl_nvfp4@flashinfer-0.6.4");
  const auto& call = v.at("calls").as_array().at(0).as_object();
  bool unwritten_old = false;
  for (const auto& f : call.at("findings").as_array()) {
    const auto& o = f.as_object();
    EXPECT_EQ(o.at("kernel").as_string(), "flashinfer_cutedsl_nvfp4@flashinfer-0.6.4") << boost::json::serialize(o);
    unwritten_old |= o.at("id").as_string() == "OUTPUT_NOT_WRITTEN" && o.at("buffer").as_string() == "output";
  }
  EXPECT_TRUE(unwritten_old);
  EXPECT_FALSE(call.at("diff").as_object().at("first_divergence").is_null());
}

TEST(VersionBumpCli, VersionsWithOneModelAreBitIdentical) {
  const auto r = run_moesim("replay " + nvfp4_trace() +
                                " --variant flashinfer_cutedsl_nvfp4 --flashinfer 0.6.7 --against-flashinfer 0.6.11.post2"
                                " --require-bit-identical --json",
                            false);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto v = boost::json::parse(r.out).as_object();
  EXPECT_TRUE(v.at("all_bit_identical").as_bool());
}

TEST(VersionBumpCli, VariantWithoutVersionTableIsAnInputError) {
  const auto r = run_moesim("replay " + std::string(MOESIM_TEST_DATA_DIR) +
                            "/golden/triton_bf16_e8k2.h5 --against-flashinfer 0.6.4");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--against-flashinfer"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  const auto g = run_moesim("replay " + nvfp4_trace() + " --variant flashinfer_cutedsl_nvfp4 --against golden --against-flashinfer 0.6.7");
  EXPECT_EQ(g.rc, 2) << g.out;
  const auto bad = run_moesim("replay " + nvfp4_trace() + " --variant flashinfer_cutedsl_nvfp4 --against-flashinfer 0.5.x");
  EXPECT_EQ(bad.rc, 2) << bad.out;
}

}  // namespace
