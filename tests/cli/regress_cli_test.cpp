// moesim regress end to end: a suite over a copy of an H100 golden passes; flipping one bit of
// the recorded output makes it fail with exit 1 and a JUnit failure naming the stage whose
// golden changed (the golden 'output' is compared at the variant's last stage, finalize);
// baselines catch changed output bits; bad suites exit 2.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/cli_run.hpp"

namespace moesim {
namespace {

namespace fs = std::filesystem;
using testing::run_moesim;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Dir {
  fs::path p;
  explicit Dir(const std::string& name) : p(fs::path(::testing::TempDir()) / name) {
    fs::remove_all(p);
    fs::create_directories(p);
  }
};

void flip_output_bit(const fs::path& h5, int element, int bit) {
  const std::string py = std::string(MOESIM_PYTHON) +
                         " -c \"import h5py,sys; f=h5py.File(sys.argv[1],'r+'); d=f['calls/0000/golden/output']; a=d[...]; "
                         "a.flat[int(sys.argv[2])] ^= (1 << int(sys.argv[3])); d[...]=a; f.close()\" " +
                         h5.string() + " " + std::to_string(element) + " " + std::to_string(bit);
  ASSERT_EQ(std::system(py.c_str()), 0) << py;
}

void write_suite(const fs::path& p, const std::string& trace) {
  std::ofstream(p) << "{\"suite\": \"flip\", \"cases\": [{\"name\": \"golden\", \"traces\": [\"" << trace
                   << "\"], \"expect\": {\"bit_identical_to_golden\": true}}]}";
}

TEST(RegressCli, FlippedGoldenBitFailsNamingTheStage) {
  Dir d("regress_flip");
  fs::copy_file(fs::path(MOESIM_TEST_DATA_DIR) / "golden/triton_bf16_e8k2.h5", d.p / "g.h5");
  write_suite(d.p / "s.suite.json", "g.h5");
  auto ok = run_moesim("regress " + (d.p / "s.suite.json").string() + " --threads 2 --junit " + (d.p / "ok.xml").string());
  ASSERT_EQ(ok.rc, 0) << ok.out;
  const std::string okx = slurp(d.p / "ok.xml");
  EXPECT_NE(okx.find("tests=\"1\" failures=\"0\" errors=\"0\""), std::string::npos) << okx;
  EXPECT_NE(okx.find("name=\"golden/g\""), std::string::npos) << okx;

  flip_output_bit(d.p / "g.h5", 777, 3);
  auto bad = run_moesim("regress " + (d.p / "s.suite.json").string() + " --threads 2 --junit " + (d.p / "bad.xml").string() +
                        " --markdown " + (d.p / "bad.md").string());
  EXPECT_EQ(bad.rc, 1) << bad.out;
  const std::string x = slurp(d.p / "bad.xml");
  EXPECT_NE(x.find("failures=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<failure message=\"call 0: first divergent stage finalize against golden"), std::string::npos) << x;
  EXPECT_NE(x.find("8191/8192 bit-identical"), std::string::npos) << x;  // exactly one element differs
  EXPECT_NE(x.find("first mismatch at element 777"), std::string::npos) << x;
  const std::string md = slurp(d.p / "bad.md");
  EXPECT_NE(md.find("**FAIL**"), std::string::npos) << md;
  EXPECT_LE(md.size(), std::size_t(1) << 20);
}

TEST(RegressCli, BaselineCatchesChangedOutputBits) {
  Dir d("regress_baseline");
  fs::copy_file(fs::path(MOESIM_TEST_DATA_DIR) / "golden/triton_bf16_e8k2.h5", d.p / "g.h5");
  std::ofstream(d.p / "s.suite.json") << "{\"suite\": \"b\", \"cases\": [{\"name\": \"ref\", \"traces\": [\"g.h5\"], "
                                         "\"expect\": {\"bounds\": {\"against\": \"reference\", \"max_rel_l2\": 0.05}}}]}";
  const std::string suite = (d.p / "s.suite.json").string(), base = (d.p / "base").string();
  auto up = run_moesim("regress " + suite + " --threads 2 --update-baseline " + base);
  ASSERT_EQ(up.rc, 0) << up.out;
  const fs::path entry = d.p / "base" / "ref__g.json";
  ASSERT_TRUE(fs::exists(entry)) << up.out;
  auto same = run_moesim("regress " + suite + " --threads 2 --baseline " + base);
  EXPECT_EQ(same.rc, 0) << same.out;
  // A baseline recorded from other output bits: the run must fail and say so.
  std::string j = slurp(entry);
  const auto at = j.find("\"output_sha256\":\"");
  ASSERT_NE(at, std::string::npos) << j;
  j[at + 17] = j[at + 17] == '0' ? '1' : '0';
  std::ofstream(entry) << j;
  auto changed = run_moesim("regress " + suite + " --threads 2 --baseline " + base + " --json");
  EXPECT_EQ(changed.rc, 1) << changed.out;
  EXPECT_NE(changed.out.find("output bits changed against the baseline"), std::string::npos) << changed.out;
  fs::remove(entry);
  auto missing = run_moesim("regress " + suite + " --threads 2 --baseline " + base);
  EXPECT_EQ(missing.rc, 1) << missing.out;
  EXPECT_NE(missing.out.find("no baseline entry"), std::string::npos) << missing.out;
}

TEST(RegressCli, BadInputExits2) {
  Dir d("regress_bad");
  std::ofstream(d.p / "s.suite.json") << "{\"cases\": [{\"name\": \"x\", \"traces\": [\"missing.h5\"], \"expect\": {\"bit_identical_to_golden\": true}}]}";
  auto r = run_moesim("regress " + (d.p / "s.suite.json").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("matches no file"), std::string::npos) << r.out;
  auto r2 = run_moesim("regress " + (d.p / "nope.json").string());
  EXPECT_EQ(r2.rc, 2) << r2.out;
  // A trace without golden outputs under a golden expectation: the instance cannot run.
  const std::string nov = (fs::path(MOESIM_TEST_DATA_DIR) / "../../traces/default/qwen3-30b-a3b-mini-bf16.h5").lexically_normal().string();
  std::ofstream(d.p / "g.suite.json") << "{\"cases\": [{\"name\": \"x\", \"traces\": [\"" << nov
                                      << "\"], \"expect\": {\"bit_identical_to_golden\": true}}]}";
  auto r3 = run_moesim("regress " + (d.p / "g.suite.json").string() + " --no-baseline --threads 2 --junit " + (d.p / "e.xml").string());
  EXPECT_EQ(r3.rc, 2) << r3.out;
  EXPECT_NE(slurp(d.p / "e.xml").find("<error message=\"bad input"), std::string::npos);
}

}  // namespace
}  // namespace moesim
