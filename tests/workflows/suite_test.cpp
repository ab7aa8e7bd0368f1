// Suite files: what loads, and every malformed suite is an InputError naming file and pointer.
#include "workflows/suite.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::workflows {
namespace {

namespace fs = std::filesystem;

std::string write_suite(const std::string& name, const std::string& body) {
  const fs::path dir = fs::path(::testing::TempDir()) / "suite_test";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << body;
  return p.string();
}

std::string error_of(const std::string& body) {
  try {
    load_suite(write_suite("bad.suite.json", body));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Suite, CommittedSuiteLoads) {
  const Suite s = load_suite(moesim::source_dir() + "/tests/suites/bundled.suite.json");
  EXPECT_EQ(s.name, "bundled");
  ASSERT_GE(s.cases.size(), 4u);
  EXPECT_EQ(s.cases[0].name, "h100-golden-triton");
  EXPECT_EQ(s.cases[0].traces.size(), 10u);  // every triton_*.h5 capture under tests/data/golden
  EXPECT_TRUE(s.cases[0].expect.bit_identical_to_golden);
  EXPECT_FALSE(s.baseline.empty());
}

TEST(Suite, MalformedSuitesAreErrors) {
  const std::string golden = std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_bf16_e8k2.h5";
  auto one = [&](const std::string& c) { return "{\"cases\": [" + c + "]}"; };
  EXPECT_NE(error_of("{\"cases\": []}").find("non-empty"), std::string::npos);
  EXPECT_NE(error_of("{\"casez\": []}").find("unknown key 'casez'"), std::string::npos);
  EXPECT_NE(error_of(one("{\"name\": \"a\", \"traces\": [\"" + golden + "\"], \"expect\": {}}")).find("expects nothing"), std::string::npos);
  EXPECT_NE(error_of(one("{\"name\": \"a\", \"traces\": [\"/nonexistent/*.h5\"], \"expect\": {\"bit_identical_to_golden\": true}}"))
                .find("matches no file"),
            std::string::npos);
  const std::string e = error_of(one("{\"name\": \"a\", \"traces\": [\"" + golden +
                                     "\"], \"expect\": {\"bounds\": {\"max_ulp\": 3}}}"));
  EXPECT_NE(e.find("max_ulp"), std::string::npos) << e;
  EXPECT_NE(e.find("/cases/0/expect/bounds/max_ulp"), std::string::npos) << e;
  EXPECT_NE(error_of(one("{\"name\": \"a\", \"preset\": \"x\", \"tokens\": 1, \"expect\": {\"backend\": \"triton\"}}")).find("framework"),
            std::string::npos);
  EXPECT_NE(error_of(one("{\"name\": \"a b\", \"preset\": \"x\", \"tokens\": 1, \"expect\": {\"no_error_findings\": true}}")).find("spaces"),
            std::string::npos);
  EXPECT_NE(error_of("{\"cases\": [{\"name\": \"a\", \"preset\": \"p\", \"tokens\": 1, \"expect\": {\"no_error_findings\": true}},"
                     "{\"name\": \"a\", \"preset\": \"p\", \"tokens\": 1, \"expect\": {\"no_error_findings\": true}}]}")
                .find("duplicate"),
            std::string::npos);
  EXPECT_NE(error_of(one("{\"name\": \"a\", \"preset\": \"p\", \"tokens\": 1, \"expect\": {\"no_error_findings\": true}, "
                         "\"allow_changes\": [\"everything\"]}"))
                .find("unknown change"),
            std::string::npos);
  EXPECT_NE(error_of("not json").find("bad.suite.json"), std::string::npos);
}

}  // namespace
}  // namespace moesim::workflows
