// sim/core pieces of issue 11: checked size arithmetic, the memory-budget parser, atomic
// outputs and the input-overwrite refusal (library level; the CLI paths are tested through
// the binary in tests/cli/hardening_cli_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "sim/core/atomic_file.hpp"
#include "sim/core/budget.hpp"
#include "sim/core/checked.hpp"
#include "sim/core/error.hpp"

namespace moesim {
namespace {

namespace fs = std::filesystem;

TEST(Checked, MulAndAddOverflowAreInputErrors) {
  EXPECT_EQ(checked_mul(1 << 20, 1 << 20, "x"), std::int64_t{1} << 40);
  EXPECT_THROW(checked_mul(std::int64_t{1} << 32, std::int64_t{1} << 31, "x"), InputError);
  EXPECT_THROW(checked_mul(-(std::int64_t{1} << 62), 4, "x"), InputError);
  EXPECT_EQ(checked_add(std::numeric_limits<std::int64_t>::max() - 1, 1, "x"), std::numeric_limits<std::int64_t>::max());
  EXPECT_THROW(checked_add(std::numeric_limits<std::int64_t>::max(), 1, "x"), InputError);
  EXPECT_EQ(checked_product({3, 5, 7}, "x"), 105);
  EXPECT_EQ(checked_product({}, "x"), 1);
  EXPECT_THROW(checked_product({1 << 30, 1 << 30, 1 << 30}, "x"), InputError);
  EXPECT_THROW(checked_product({4, -1}, "x"), InputError);
  try {
    checked_product({std::int64_t{1} << 40, std::int64_t{1} << 40}, "f.h5:/calls/0000/topk_ids");
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "f.h5:/calls/0000/topk_ids");
  }
}

TEST(Budget, ParsesSizesAndRefusesNonsense) {
  EXPECT_EQ(parse_memory_size("512M", "b"), std::int64_t{512} << 20);
  EXPECT_EQ(parse_memory_size("8G", "b"), std::int64_t{8} << 30);
  EXPECT_EQ(parse_memory_size("1.5G", "b"), (std::int64_t{3} << 30) / 2);
  EXPECT_EQ(parse_memory_size("1048576", "b"), std::int64_t{1} << 20);
  EXPECT_GT(parse_memory_size("50%", "b"), 0);
  for (const char* bad : {"", "lots", "-1G", "0", "1X", "nanG", "100", "1e30T"}) EXPECT_THROW(parse_memory_size(bad, "b"), InputError) << bad;
  const std::int64_t old = memory_budget();
  set_memory_budget(std::int64_t{4} << 20);
  EXPECT_NO_THROW(require_within_budget(std::int64_t{4} << 20, "w", "x"));
  EXPECT_THROW(require_within_budget((std::int64_t{4} << 20) + 1, "w", "x"), InputError);
  set_memory_budget(old);
  EXPECT_GT(default_memory_budget(), 0);
}

class Atomic : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moesim-atomic-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    protect_inputs(false);
    fs::remove_all(dir_);
  }
  std::string p(const std::string& n) const { return (dir_ / n).string(); }
  std::size_t files() const { return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }
  fs::path dir_;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST_F(Atomic, CommitRenamesAndAbandonLeavesTheOldFile) {
  write_file_atomic(p("a.txt"), "one");
  EXPECT_EQ(slurp(p("a.txt")), "one");
  {
    AtomicOutput out(p("a.txt"));
    std::ofstream(out.temp_path()) << "two";
    EXPECT_EQ(slurp(p("a.txt")), "one");  // untouched until commit
    EXPECT_EQ(files(), 2u);
  }  // destroyed without commit
  EXPECT_EQ(slurp(p("a.txt")), "one");
  EXPECT_EQ(files(), 1u);
  {
    AtomicOutput out(p("a.txt"));
    std::ofstream(out.temp_path()) << "three";
    out.commit();
  }
  EXPECT_EQ(slurp(p("a.txt")), "three");
  EXPECT_EQ(files(), 1u);
  EXPECT_THROW(AtomicOutput(p("missing-dir/x")), InputError);
  EXPECT_THROW(AtomicOutput(dir_.string()), InputError);
}

TEST_F(Atomic, InputsAreNeverOverwrittenWhenProtected) {
  write_file_atomic(p("in.txt"), "input");
  fs::create_symlink(p("in.txt"), p("sym.txt"));
  protect_inputs(true);
  note_input(p("in.txt"));
  for (const auto& out : {p("in.txt"), p("sym.txt"), (dir_ / "." / "in.txt").string()})
    EXPECT_THROW(write_file_atomic(out, "clobber"), InputError) << out;
  EXPECT_EQ(slurp(p("in.txt")), "input");
  EXPECT_NO_THROW(write_file_atomic(p("other.txt"), "fine"));
  EXPECT_THROW(refuse_overwriting_inputs(p("other.txt"), {p("other.txt")}), InputError);
}

}  // namespace
}  // namespace moesim
