// moesim import vllm-routed-experts / sglang-routed-experts, and scripts/capture/
// capture_routing.py end to end against a stand-in server on 127.0.0.1 (ephemeral port,
// bounded requests, stops by itself) that answers in the real encodings: vLLM base64 .npy
// (u1, u2 and i4 headers), SGLang base64 raw int32 in response-level sglext. The trace's ids
// are compared with the ids the server sent (check_routing.py, h5py).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/traces/import/import_test_util.hpp"

namespace {

using namespace moesim::testing;
namespace fs = std::filesystem;

// 2 hidden layers, layer 0 dense (DeepSeek first_k_dense_replace), 4 experts, top-2.
std::string write_config(const fs::path& dir, int layers = 2) {
  const std::string p = (dir / "config.json").string();
  std::ofstream(p) << R"({"model_type": "deepseek_v3", "num_hidden_layers": )" << layers
                   << R"(, "n_routed_experts": 4, "num_experts_per_tok": 2, "hidden_size": 64, "moe_intermediate_size": 32, "first_k_dense_replace": 1})";
  return p;
}

std::string capture_cmd(const std::string& engine, const std::string& dtype, const fs::path& d, const std::string& extra = "") {
  return import_py("standin_server.py") + " --engine " + engine + " --dtype " + dtype + " --expect " + (d / "sent.npz").string() +
         " --max-requests 3 " + extra + " -- " + std::string(MOESIM_PYTHON) + " " + std::string(MOESIM_TEST_DATA_DIR) +
         "/../../scripts/capture/capture_routing.py --url http://127.0.0.1:{port} --engine " + engine + " --config " + write_config(d) +
         " --layer 1 --prompt 'the quick brown fox' --prompt 'hello' --prompt 'a b c d e f' --max-tokens 4 --moesim " +
         std::string(MOESIM_BINARY) + " -o " + (d / "routing.h5").string();
}

void expect_capture(const std::string& engine, const std::string& dtype) {
  const auto d = fresh_dir("cap_" + engine + dtype);
  auto r = run_sh(capture_cmd(engine, dtype, d));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("captured 3 request(s)"), std::string::npos) << r.out;
  auto c = run_sh(import_py("check_routing.py") + " " + (d / "routing.h5").string() + " " + (d / "sent.npz").string() + " 1");
  EXPECT_EQ(c.rc, 0) << c.out;
  // Prompts of 4, 1 and 6 words -> 5, 2, 7 prompt tokens + 4 generated - 1 never run = 8 + 5 + 10.
  EXPECT_NE(c.out.find("ok 3 23"), std::string::npos) << c.out;
  auto i = run_moesim("inspect " + (d / "routing.h5").string());
  EXPECT_EQ(i.rc, 0) << i.out;
}

TEST(CaptureRouting, VllmUint8NpyEndToEnd) { expect_capture("vllm", "u1"); }
TEST(CaptureRouting, VllmUint16NpyEndToEnd) { expect_capture("vllm", "u2"); }
TEST(CaptureRouting, VllmInt32NpyEndToEnd) { expect_capture("vllm", "i4"); }
TEST(CaptureRouting, SglangRawInt32EndToEnd) { expect_capture("sglang", "i4"); }

TEST(CaptureRouting, AllZeroCaptureNamesVllm44116) {
  const auto d = fresh_dir("cap_zero");
  auto r = run_sh(capture_cmd("vllm", "u1", d, "--zero"));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("#44116"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "routing.h5"));
}

struct Case {
  const char* engine;
  const char* fixture;
  const char* extra;
  int rc;
  const char* expect;
};

TEST(ImportRoutedExperts, EdgeCasesInRealEncodings) {
  const Case cases[] = {
      {"vllm", "vllm-null", "", 0, "1 null routed_experts skipped"},
      {"vllm", "vllm-npy", "", 0, "6 tokens"},
      {"vllm", "vllm-badlayers", "", 2, "3 layers but"},
      {"vllm", "vllm-zero", "", 2, "#44116"},
      {"sglang", "sglang-generate", "--tokens-per-call 2", 0, "4 call(s), 7 tokens"},
      {"sglang", "sglang-choice", "--weights counts", 0, "1 call(s), 2 tokens"},
      {"sglang", "sglang-ragged", "", 2, "not a multiple of layers x top_k"},
      {"vllm", "vllm-npy", "--layer 0", 2, "dense"},
      {"vllm", "vllm-npy", "--layer all", 2, "one layer per trace"},
  };
  const auto d = fresh_dir("routed_cases");
  const std::string cfg = write_config(d);
  int n = 0;
  for (const auto& c : cases) {
    const std::string in = (d / (std::string(c.fixture) + (std::string(c.fixture) == "vllm-npy" ? ".npy" : ".json"))).string();
    ASSERT_EQ(run_sh(import_py("routed_fixture.py") + " " + c.fixture + " " + in).rc, 0) << c.fixture;
    const std::string layer = std::string(c.extra).find("--layer") == std::string::npos ? " --layer 1" : "";
    const std::string out = (d / (std::string(c.fixture) + "_" + std::to_string(n++) + ".h5")).string();
    auto r = run_moesim("import " + std::string(c.engine) + "-routed-experts " + in + " --config " + cfg + layer + " " + c.extra + " -o " + out);
    EXPECT_EQ(r.rc, c.rc) << c.fixture << ": " << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.fixture << ": " << r.out;
    if (c.rc != 0) {
      EXPECT_TRUE(one_line(r.out)) << r.out;
      EXPECT_FALSE(fs::exists(out));
    }
  }
}

}  // namespace
