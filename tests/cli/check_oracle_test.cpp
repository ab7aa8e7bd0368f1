// Issue 6 acceptance through the real binary: `moesim check` asks the framework oracle which
// backend runs, then checks that backend. SM110 + BF16 + Nemotron (relu2, non-gated):
// before vLLM #40808 the oracle picks FlashInfer CUTLASS, which check flags with
// TILE_UNREGISTERED (FlashInfer 0.6.8.post1's SM110 candidate 256x256x128 has no dispatcher
// case; flashinfer.md §6); after #40808 vLLM falls back to Triton and that finding is gone.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

struct Out {
  int code;
  std::string text;
};

Out run(const std::string& args) {
  Out o{0, ""};
  FILE* p = popen((std::string(MOESIM_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) o.text.append(buf, n);
  const int st = pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

const std::string kQuery = "check --preset nemotron-3-nano --tokens 8192 --quant bf16 --device sm110 --flashinfer 0.6.8.post1 --vllm ";

TEST(CheckWithOracle, Sm110Bf16BeforePr40808IsCutlassWithUnregisteredTile) {
  const Out o = run(kQuery + "pr39959");
  EXPECT_NE(o.text.find("selects backend 'flashinfer_cutlass'"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("TILE_UNREGISTERED"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("256"), std::string::npos) << o.text;
}

TEST(CheckWithOracle, Sm110Bf16AfterPr40808IsTritonWithoutTileFinding) {
  const Out o = run(kQuery + "pr40808");
  EXPECT_NE(o.text.find("selects backend 'triton'"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find("TILE_UNREGISTERED"), std::string::npos) << o.text;
}

TEST(CheckWithOracle, UnknownRevisionIsOneLineExit2) {
  const Out o = run(kQuery + "pr99999999");
  EXPECT_EQ(o.code, 2) << o.text;
  EXPECT_NE(o.text.find("pr99999999"), std::string::npos) << o.text;
}

// Release tags as users name them: v0.19.0 was cut from main at d816834c1aa6 (2026-03-29),
// before #36286, so unquantized MoE is Triton unless FlashInfer is opted into by env.
TEST(CheckWithOracle, ReleaseTagResolvesThroughTheSharedResolver) {
  const Out o = run(kQuery + "v0.19.0");
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("release tag v0.19.0"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("selects backend 'triton'"), std::string::npos) << o.text;
  // a tag whose branch point no snapshot records is refused, not guessed
  const Out r = run(kQuery + "v0.20.0");
  EXPECT_EQ(r.code, 2) << r.text;
  EXPECT_NE(r.text.find("release-branch point not recorded"), std::string::npos) << r.text;
  // SGLang tags too
  const Out sg = run("check --preset nemotron-3-nano --tokens 8192 --quant bf16 --device sm90 --flashinfer 0.6.8.post1 --sglang v0.5.13");
  EXPECT_NE(sg.text.find("release tag v0.5.13"), std::string::npos) << sg.text;
}

TEST(OracleListRevisions, ShowsTagsWithDateAndCommit) {
  const Out o = run("oracle --list-revisions vllm");
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("tag      v0.19.0  2026-04-03  2a69949bdadf  -> pr38169"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("revision pr40808  2026-04-30  b542bdf7fb36"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("not resolvable: not modelled after pr43853"), std::string::npos) << o.text;
  EXPECT_EQ(run("oracle --list-revisions tensorrt_llm").code, 2);
  EXPECT_EQ(run("oracle --device sm90 --quant bf16").code, 2);  // --framework missing
}

}  // namespace
