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

}  // namespace
