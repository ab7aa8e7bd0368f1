// Issue 13's defects of `moesim check`, each through the real binary, both sides.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/cli_run.hpp"

namespace {

using moesim::testing::run_moesim;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("moesim_h13_" + name + "_" + std::to_string(::getpid()) + ".h5")).string();
}

// synth and replay spell the 128x4 scale layout `swizzled_128x4` (sim/quant/layout); check reads
// the same tag and reports no LAYOUT_MISMATCH for a synthesised NVFP4 / MXFP4 trace with weights.
TEST(CheckDefects, SynthesisedFp4TraceWithWeightsHasNoLayoutMismatch) {
  for (const char* w : {"nvfp4", "mxfp4"}) {
    const std::string t = tmp(std::string("layout_") + w);
    auto s = run_moesim("synth -p qwen3-30b-a3b -t 16 --activations --weights " + std::string(w) +
                        " --experts 8 --hidden 256 --intermediate 128 -o " + t);
    ASSERT_EQ(s.rc, 0) << s.out;
    auto c = run_moesim("check " + t + " --device b200 --flashinfer 0.6.12 --backend all");
    EXPECT_NE(c.rc, 2) << c.out;
    EXPECT_EQ(c.out.find("LAYOUT_MISMATCH"), std::string::npos) << w << "\n" << c.out;
    std::filesystem::remove(t);
  }
}

// Known-bad TRTLLM-gen rows apply to every device in their range but must not fire where the
// kernel cannot run (H100: the TRTLLM-gen arch gate is major 10/12): a clean sweep stays clean.
TEST(CheckDefects, KnownBadRowsOnlyWhereTheKernelRuns) {
  auto h = run_moesim("check --preset nemotron-3-super --tokens 1000 --device h100 --flashinfer 0.6.12 --backend all --json");
  EXPECT_EQ(h.out.find("KNOWN_BAD_VERSION"), std::string::npos) << h.out;
  auto b = run_moesim("check --preset nemotron-3-super --tokens 1000 --device b200 --flashinfer 0.6.12 --backend all --json");
  EXPECT_NE(b.out.find("KNOWN_BAD_VERSION"), std::string::npos) << b.out;
}

// Triton's pipeliner allocates num_stages - 1 buffers per pipelined operand (+1 on SM90): the
// tuned A10 entry BM128 BN256 BK64 x4 stages needs 3 * (128*64*2 + 64*256*2) = 147,456 B.
TEST(CheckDefects, TritonSharedMemoryIsWhatTritonAllocates) {
  const std::string dir = std::string(MOESIM_TEST_DATA_DIR) + "/triton_configs";
  const std::string t = tmp("smem");
  auto s = run_moesim("synth -p deepseek-v3 -t 1024 --mode counts --experts 8 --intermediate 1792 -o " + t);
  ASSERT_EQ(s.rc, 0) << s.out;
  auto c = run_moesim("check " + t + " --quant bf16 --device a10 --backend triton --vllm pr34086 --triton-config-dir " +
                      dir + " --json");
  EXPECT_NE(c.out.find("\"SMEM_EXCEEDED\""), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("\"value\":147456"), std::string::npos) << c.out;
  std::filesystem::remove(t);
}

// check -> oracle glue (models/check/oracle_glue.json), both sides where there is one.
TEST(CheckDefects, SglangWithoutFlashinferChecksEveryRelease) {
  auto c = run_moesim("check --preset qwen3-30b-a3b --tokens 1024 --device b200 --sglang s0");
  EXPECT_NE(c.rc, 2) << c.out;
  EXPECT_NE(c.out.find("pins no FlashInfer release"), std::string::npos) << c.out;
  auto v = run_moesim("check --preset qwen3-30b-a3b --tokens 1024 --device b200 --sglang s0 --flashinfer 0.6.11");
  EXPECT_NE(v.rc, 2) << v.out;
  EXPECT_EQ(v.out.find("pins no FlashInfer release"), std::string::npos) << v.out;
}

TEST(CheckDefects, DeepSeekPresetUnderSglang) {
  // fp8_block128 is SGLang's --quantization fp8; the preset sets model_arch=deepseek.
  auto c = run_moesim("check --preset deepseek-v3 --tokens 1024 --device b200 --sglang s0 --flashinfer 0.6.11");
  EXPECT_NE(c.rc, 2) << c.out;
  EXPECT_NE(c.out.find("selects backend"), std::string::npos) << c.out;
}

TEST(CheckDefects, DeepepLowLatencyLeadsToTheBatchedBackend) {
  const std::string q = "check --preset deepseek-v3 --quant nvfp4 --tokens 128 --device b200 --vllm pr43599 --ep 8 --dispatch ";
  auto ll = run_moesim(q + "deepep_ll");
  EXPECT_NE(ll.out.find("selects backend 'flashinfer_cutedsl_batched'"), std::string::npos) << ll.out;
  auto ht = run_moesim(q + "deepep_ht");
  EXPECT_EQ(ht.out.find("flashinfer_cutedsl_batched"), std::string::npos) << ht.out;
}

TEST(CheckDefects, OracleMxfp4Bf16ChoiceIsKept) {
  auto c = run_moesim("check --preset gpt-oss-120b --tokens 1024 --device b200 --vllm pr43599 --json");
  EXPECT_NE(c.out.find("implies quant mxfp4_bf16"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("\"quant\":\"mxfp4_bf16\""), std::string::npos) << c.out;
}

TEST(CheckDefects, TraitsAreReadOrRefused) {
  // per_token_scale is read by the known-bad table (flashinfer#4486 row), both sides of the row.
  const std::string q = "check --preset nemotron-3-super --tokens 4096 --device b200 --flashinfer 0.6.17 --backend flashinfer_trtllm";
  auto with = run_moesim(q + " --trait per_token_scale=1");
  EXPECT_NE(with.out.find("fi-4486-trtllm-nvfp4-tile192-per-token"), std::string::npos) << with.out;
  auto without = run_moesim(q);
  EXPECT_EQ(without.out.find("fi-4486-trtllm-nvfp4-tile192-per-token"), std::string::npos) << without.out;
  auto bad = run_moesim(q + " --trait phase_of_moon=full");
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_NE(bad.out.find("phase_of_moon"), std::string::npos) << bad.out;
  // A trait the vLLM oracle reads changes its pick: moe_backend forces the walk.
  auto forced = run_moesim("check --preset qwen3-30b-a3b --tokens 1024 --device b200 --vllm pr43599 --trait moe_backend=triton");
  EXPECT_NE(forced.out.find("selects backend 'triton'"), std::string::npos) << forced.out;
  auto dflt = run_moesim("check --preset qwen3-30b-a3b --tokens 1024 --device b200 --vllm pr43599");
  EXPECT_EQ(dflt.out.find("selects backend 'triton'"), std::string::npos) << dflt.out;
}

}  // namespace

namespace {

// --vllm/--sglang take release tags and commits through the oracle's resolver, and also the
// engine's own chunking / Triton-offset revision ids that predate the oracle's first revision
// (`--sglang pre-4727`, `--vllm pre-34279`, as `check --help` lists them); anything else is
// refused with exit 2 naming what is known.
TEST(CheckDefects, EngineRevisionIdsAcceptedUnknownRefused) {
  auto pre = run_moesim("check --preset deepseek-v3 --tokens 37450 --device h100 --sglang pre-4727 --backend triton --json");
  EXPECT_EQ(pre.rc, 1) << pre.out;
  EXPECT_NE(pre.out.find("INT32_OFFSET_OVERFLOW"), std::string::npos) << pre.out;
  auto fixed = run_moesim("check --preset deepseek-v3 --tokens 37450 --device h100 --sglang pr4727 --backend triton --json");
  EXPECT_EQ(fixed.rc, 0) << fixed.out;
  auto v = run_moesim("check --preset deepseek-v3 --tokens 1024 --device h100 --vllm pre-34279 --backend triton --json");
  EXPECT_NE(v.rc, 2) << v.out;
  auto bad = run_moesim("check --preset deepseek-v3 --tokens 1024 --device h100 --sglang no-such-rev --backend triton");
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_NE(bad.out.find("no-such-rev"), std::string::npos) << bad.out;
}

}  // namespace
