// The `moesim check` command line: exit codes, --threshold, --json, bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include <unistd.h>

#include <boost/json.hpp>

namespace {
struct Run {
  int code;
  std::string out;
};
Run run(const std::string& args) {
  const std::string cmd = std::string(MOESIM_BINARY) + " " + args + " 2>&1";
  std::array<char, 4096> buf{};
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}
}  // namespace

TEST(CmdCheck, PresetGridThresholdAsJson) {
  auto r = run("check --preset nemotron-3-super --tokens 400000 --device b200 --flashinfer 0.6.11.post2 "
               "--backend flashinfer_trtllm --threshold --json");
  EXPECT_EQ(r.code, 1) << r.out;  // error-severity findings
  auto j = boost::json::parse(r.out);
  bool grid = false;
  for (const auto& f : j.at("findings").as_array()) {
    if (f.at("id").as_string() == "GRID_Y_OVERFLOW") {
      grid = true;
      EXPECT_EQ(f.at("first_failing_tokens").as_int64(), 378345);
      EXPECT_EQ(f.at("value").as_int64(), 69258);
    }
  }
  EXPECT_TRUE(grid);
}

TEST(CmdCheck, CleanShapeExitsZero) {
  auto r = run("check --preset nemotron-3-super --tokens 1000 --device b200 --flashinfer 0.6.11.post2 --backend flashinfer_trtllm");
  EXPECT_EQ(r.code, 0) << r.out;  // only warnings (known-bad entries) at 1000 tokens
  EXPECT_EQ(r.out.find("error "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("GRID_Y_OVERFLOW"), std::string::npos) << r.out;
}

TEST(CmdCheck, BadInputIsOneLineExit2) {
  auto r = run("check --preset nemotron-3-super --tokens 10 --device mi300x");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown device 'mi300x'"), std::string::npos) << r.out;
  r = run("check --preset no-such-model --tokens 10 --device b200");
  EXPECT_EQ(r.code, 2) << r.out;
  r = run("check --preset nemotron-3-super --device b200");
  EXPECT_EQ(r.code, 2) << r.out;
  r = run("check /nonexistent/trace.h5 --device b200");
  EXPECT_EQ(r.code, 2) << r.out;
  r = run("check --preset nemotron-3-super --tokens 10 --device b200 --vllm v0 --sglang s0");
  EXPECT_EQ(r.code, 2) << r.out;
}

TEST(CmdCheck, VllmRevisionUsesOracleAndChunking) {
  // vLLM at #43599 with DeepEP (all2all -> modular class) chunks 400k tokens into 300k + 100k.
  auto r = run("check --preset nemotron-3-super --tokens 400000 --device b200 --flashinfer 0.6.11.post2 "
               "--vllm pr43599 --dispatch deepep_ht --json");
  auto j = boost::json::parse(r.out);
  std::string notes = boost::json::serialize(j.at("notes"));
  EXPECT_NE(notes.find("selects backend"), std::string::npos) << r.out;
  for (const auto& f : j.at("findings").as_array()) EXPECT_NE(f.at("id").as_string(), "GRID_Y_OVERFLOW") << r.out;
}

TEST(CmdCheck, TraceFileFromSynthAndCorruptFile) {
  const std::string dir = ::testing::TempDir();
  const std::string trace = dir + "/moesim_cmd_check_" + std::to_string(::getpid()) + ".h5";
  auto s = run("synth --preset nemotron-3-super -o " + trace + " -t 400000 --mode counts --device b200 --flashinfer 0.6.11.post2");
  ASSERT_EQ(s.code, 0) << s.out;
  // Device and FlashInfer version come from the trace's recording context.
  auto r = run("check " + trace + " --backend flashinfer_trtllm --threshold --json");
  EXPECT_EQ(r.code, 1) << r.out;
  auto j = boost::json::parse(r.out);
  bool grid = false;
  for (const auto& f : j.at("findings").as_array())
    if (f.at("id").as_string() == "GRID_Y_OVERFLOW") {
      grid = true;
      EXPECT_EQ(f.at("device").as_string(), "b200");
      EXPECT_EQ(f.at("library_version").as_string(), "0.6.11.post2");
      EXPECT_EQ(f.at("first_failing_tokens").as_int64(), 378345);
    }
  EXPECT_TRUE(grid);
  std::remove(trace.c_str());
  const std::string bad = dir + "/moesim_cmd_check_bad_" + std::to_string(::getpid()) + ".h5";
  FILE* f = std::fopen(bad.c_str(), "wb");
  std::fputs("not an hdf5 file", f);
  std::fclose(f);
  auto b = run("check " + bad + " --device b200");
  EXPECT_EQ(b.code, 2) << b.out;
  std::remove(bad.c_str());
}
