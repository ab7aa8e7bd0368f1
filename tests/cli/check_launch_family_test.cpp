// `moesim check` with the engine-side families: --release and --trait end to end, and the
// refusals (unknown framework, a release before the first modelled revision, a non-integer
// trait) as exit code 2 with one line naming the option.
#include <gtest/gtest.h>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::run_moesim;

const std::string kBase = "check --preset deepseek-v3 --device h100 --backend vllm_moe_align ";

TEST(CheckLaunchFamily, ReleaseSelectsTheRevision) {
  auto broken = run_moesim(kBase + "--tokens 8192 --release vllm@pr12222 --json");
  EXPECT_EQ(broken.rc, 1) << broken.out;
  EXPECT_NE(broken.out.find("\"value\":264196"), std::string::npos) << broken.out;
  auto fixed = run_moesim(kBase + "--tokens 8192 --release vllm@v0.7.0");
  EXPECT_EQ(fixed.rc, 0) << fixed.out;
  auto newest = run_moesim(kBase + "--tokens 8192");
  EXPECT_EQ(newest.rc, 0) << newest.out;
  EXPECT_NE(newest.out.find("no vllm release given"), std::string::npos) << newest.out;
}

TEST(CheckLaunchFamily, FusedSharedTraitGrowsExpertsAndTopK) {
  // E = 256 + 1, top_k = 8 + 1: ((257 + 1) * 257 + 258) * 4 = 266,256 B; numel = 9T > 65535
  // from T = 7282 (9 * 7281 = 65,529).
  auto r = run_moesim(kBase + "--tokens 8000 --release vllm@pr12222 --trait fused_shared=1 --threshold --json");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("\"value\":266256"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"first_failing_tokens\":7282"), std::string::npos) << r.out;
}

TEST(CheckLaunchFamily, BadReleaseOrTraitIsExitTwo) {
  for (const char* bad : {"--release vllm@0.6.6", "--release vllm@pr1", "--release trtllm@1.0", "--release vllm",
                          "--trait fused_shared=one", "--release vllm@0.7.0 --release vllm@0.8.0"}) {
    auto r = run_moesim(kBase + "--tokens 16 " + bad);
    EXPECT_EQ(r.rc, 2) << bad << "\n" << r.out;
    EXPECT_TRUE(r.out.find("--release") != std::string::npos || r.out.find("--trait") != std::string::npos) << bad << "\n" << r.out;
  }
}

}  // namespace
