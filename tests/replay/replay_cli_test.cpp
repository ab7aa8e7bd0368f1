// `moesim replay` end to end on the committed golden traces: exit codes, report formats,
// bad input as one line with exit code 2.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include <boost/json.hpp>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::CliRun;
CliRun run(const std::string& args) { return moesim::testing::run_moesim(args); }

const std::string kGolden = std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_bf16_odd_e7k3.h5";

TEST(ReplayCli, GoldenJsonIsBitIdentical) {
  const CliRun r = run("replay " + kGolden + " --json --threads 2 --require-bit-identical");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("variant").as_string(), "triton_bf16");
  EXPECT_EQ(v.at("against").as_string(), "golden");
  EXPECT_TRUE(v.at("all_bit_identical").as_bool());
  const auto& call = v.at("calls").as_array().at(0).as_object();
  EXPECT_TRUE(call.at("diff").as_object().at("first_divergence").is_null());
  EXPECT_EQ(call.at("diff").as_object().at("output").as_object().at("bit_identical_pct").as_double(), 100.0);
}

TEST(ReplayCli, AgainstReferenceFailsRequireBitIdentical) {
  // bf16 kernel vs the fp64 reference is never bit-identical: exit code 1, gemm1 diverges.
  const CliRun r = run("replay " + kGolden + " --against reference --require-bit-identical --markdown");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("**First divergence:** `gemm1`"), std::string::npos) << r.out;
}

TEST(ReplayCli, BadInputIsOneLineExit2) {
  CliRun r = run("replay /nonexistent.h5");
  EXPECT_EQ(r.rc, 2) << r.out;
  r = run("replay " + kGolden + " --variant nope");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("unknown variant 'nope'"), std::string::npos) << r.out;
  r = run("replay " + kGolden + " --triton-config 16,x,32");
  EXPECT_EQ(r.rc, 2) << r.out;
  r = run("replay " + kGolden + " --call 5");
  EXPECT_EQ(r.rc, 2) << r.out;
}

TEST(ReplayCli, PlanAndListVariants) {
  CliRun r = run("replay --plan --variant triton_bf16");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("digraph"), std::string::npos);
  r = run("replay --list-variants");
  EXPECT_NE(r.out.find("triton_bf16  (hw-verified"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reference_fp64"), std::string::npos);
}

}  // namespace
