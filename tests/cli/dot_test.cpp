// `moesim dot` end to end: the JSON table + model through the CLI reproduce the paper's worked
// example (2^23 - 2^23 - 0.5 - 0.25 - 0.125) with the published per-architecture results
// (MMA-Sim Table 8, bitaccuracy.md §1.2), and bad input is a one-line error with exit code 2.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/support/cli_run.hpp"

namespace {

moesim::testing::CliRun run(const std::string& args) { return moesim::testing::run_moesim("dot " + args); }

std::string worked(const std::string& arch, const std::string& inst) {
  const moesim::testing::CliRun r = run("--arch " + arch + " --inst " + inst +
                       " --pad --a -8192,-0.5,-0.25,-0.125 --b 1024,1,1,1 --c 8388608 --json");
  EXPECT_EQ(r.rc, 0) << r.out;
  const auto pos = r.out.rfind("\"d\":\"");
  if (pos == std::string::npos) return "missing: " + r.out;
  return r.out.substr(pos + 5, 10);
}

TEST(CliDot, WorkedExampleMatchesPublishedResults) {
  EXPECT_EQ(worked("volta", "mma.f16.f32"), "0x00000000");      // 0.0
  EXPECT_EQ(worked("ampere", "mma.bf16.f32"), "0xbf000000");    // -0.5
  EXPECT_EQ(worked("ampere", "mma.f16.f32"), "0xbf000000");     // -0.5
  EXPECT_EQ(worked("hopper", "wgmma.bf16.f32"), "0xbf400000");  // -0.75
  EXPECT_EQ(worked("hopper", "wgmma.f16.f32"), "0xbf400000");   // -0.75
  EXPECT_EQ(worked("hopper", "wgmma.e5m2.f32"), "0x00000000");  // 0.0
  EXPECT_EQ(worked("blackwell", "tcgen05.f8f6f4.e5m2.f32"), "0xbf400000");  // -0.75
}

TEST(CliDot, PrintsIntermediates) {
  const moesim::testing::CliRun r = run("--arch hopper --inst wgmma.bf16.f32 --pad --a -8192,-0.5,-0.25,-0.125 --b 1024,1,1,1 --c 8388608");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("e_max 23, quantum 2^-2, sum -3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(e_zero)"), std::string::npos);
  EXPECT_NE(r.out.find("D = 0xbf400000 (-0.75)"), std::string::npos);
}

TEST(CliDot, BadInputIsOneLineExit2) {
  for (const char* args : {"--a 0.3 --b 1 --pad", "--arch pascal --a 1 --b 1", "--inst wgmma.nope --a 1 --b 1",
                           "--a 1,2 --b 1", "--a 0xZZ --b 1", "--a 1 --b 1"}) {
    const moesim::testing::CliRun r = run(args);
    EXPECT_EQ(r.rc, 2) << args << ": " << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
  }
}

}  // namespace
