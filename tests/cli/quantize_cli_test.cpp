// `moesim quantize` end to end: output equals the library quantizer on the same data, layout
// tags are recorded, and every bad input is one line on stderr with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/nvfp4.hpp"
#include "traces/h5.hpp"

namespace moesim {
namespace {

struct CliRun {
  int code;
  std::string out;
};
CliRun run(const std::string& args) {
  const std::string cmd = std::string(MOESIM_BINARY) + " quantize " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 512> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int st = p ? pclose(p) : -1;
  return {WEXITSTATUS(st), out};
}

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("moesim_qcli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    in_ = (dir_ / "in.h5").string();
    Rng rng(1);
    x_.resize(rows_ * cols_);
    std::vector<std::uint16_t> bf(x_.size());
    for (std::size_t i = 0; i < x_.size(); ++i) {
      bf[i] = fmt::fast::f32_to_bf16_rn(static_cast<float>(rng.normal()));
      x_[i] = fmt::fast::bf16_to_f32(bf[i]);
    }
    h5::File f = h5::File::create(in_);
    f.write("/w", h5::Scalar::U16, {rows_, cols_}, bf.data());
    f.set_attr("/w", "dtype", std::string("bf16"));
    std::vector<float> bad(x_.begin(), x_.end());
    bad[5] = NAN;
    f.write("/bad", h5::Scalar::F32, {rows_, cols_}, bad.data());
    f.write("/odd", h5::Scalar::F32, {4, 24}, x_.data());
    f.write("/vec", h5::Scalar::F32, {16}, x_.data());
    std::vector<std::uint16_t> u(16, 0);
    f.write("/nodtype", h5::Scalar::U16, {1, 16}, u.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string in_;
  std::int64_t rows_ = 256, cols_ = 64;
  std::vector<float> x_;
};

TEST_F(QuantizeCli, Nvfp4OutputEqualsLibraryAndRecordsLayout) {
  const std::string out = (dir_ / "q.h5").string();
  const CliRun r = run(in_ + " " + out + " -d /w -f nvfp4 -r vllm-kernel -l swizzled_128x4");
  ASSERT_EQ(r.code, 0) << r.out;
  const float amax = quant::amax_abs(x_.data(), rows_ * cols_);
  const quant::GlobalScale g{quant::GlobalScale::Shape::PerTensor, {2688.0f / amax}, {}};
  const auto q = quant::quantize_nvfp4(x_.data(), rows_, cols_, g, quant::Nvfp4Rule::VllmKernel);
  h5::File f = h5::File::open_read(out);
  EXPECT_EQ(f.read<std::uint8_t>("/data", h5::Scalar::U8), q.packed);
  EXPECT_EQ(f.read<std::uint8_t>("/scales", h5::Scalar::U8),
            quant::sf_to_layout(q.scales.data(), rows_, cols_ / 16, quant::SfLayout::Swizzled128x4));
  EXPECT_EQ(f.attr_string("/scales", "layout"), "swizzled_128x4");
  EXPECT_EQ(f.attr_string("/", "rule"), "vllm-kernel");
  EXPECT_EQ(f.read<float>("/global_scale", h5::Scalar::F32).at(0), 2688.0f / amax);
}

TEST_F(QuantizeCli, FourOverSixRulesEqualLibrary) {
  const float amax = quant::amax_abs(x_.data(), rows_ * cols_);
  for (const char* name : {"te-4over6", "flashinfer-4over6-exact-mse"}) {
    const std::string out = (dir_ / (std::string(name) + ".h5")).string();
    const CliRun r = run(in_ + " " + out + " -d /w -f nvfp4 -r " + name);
    ASSERT_EQ(r.code, 0) << r.out;
    const quant::Nvfp4Rule rule = quant::parse_nvfp4_rule(name);
    const quant::GlobalScale g{quant::GlobalScale::Shape::PerTensor, {quant::global_scale_from_amax(rule, amax)}, {}};
    const auto q = quant::quantize_nvfp4(x_.data(), rows_, cols_, g, rule);
    h5::File f = h5::File::open_read(out);
    EXPECT_EQ(f.read<std::uint8_t>("/data", h5::Scalar::U8), q.packed) << name;
    EXPECT_EQ(f.read<std::uint8_t>("/scales", h5::Scalar::U8), q.scales) << name;
    EXPECT_EQ(f.attr_string("/", "rule"), name);
    EXPECT_EQ(f.attr_string("/global_scale", "semantics"), quant::nvfp4_global_scale_semantics(rule));
  }
}

TEST_F(QuantizeCli, MxAndFp8Run) {
  EXPECT_EQ(run(in_ + " " + (dir_ / "m.h5").string() + " -d /w -f mx -r rceil --elem e4m3").code, 0);
  EXPECT_EQ(run(in_ + " " + (dir_ / "p.h5").string() + " -d /w -f fp8 --granularity per-token").code, 0);
}

TEST_F(QuantizeCli, BadInputsAreOneLineExit2) {
  const std::string out = (dir_ / "x.h5").string();
  const std::pair<std::string, std::string> cases[] = {
      {(dir_ / "missing.h5").string() + " " + out + " -d /w -f nvfp4", "missing.h5"},
      {in_ + " " + out + " -d /nope -f nvfp4", "/nope"},
      {in_ + " " + out + " -d /bad -f nvfp4", "non-finite"},
      {in_ + " " + out + " -d /odd -f nvfp4", "multiple"},
      {in_ + " " + out + " -d /vec -f nvfp4", "2-D"},
      {in_ + " " + out + " -d /nodtype -f nvfp4", "dtype"},
      {in_ + " " + out + " -d /w -f nvfp5", "unknown format"},
      {in_ + " " + out + " -d /w -f nvfp4 -r magic", "unknown NVFP4 rule"},
      {in_ + " " + out + " -d /w -f nvfp4 -l diagonal", "unknown scale layout"},
      {in_ + " " + out + " -d /w -f nvfp4 --global-scale abc", "--global-scale"},
      {in_ + " " + out + " -f nvfp4", "dataset"},
  };
  for (const auto& [args, needle] : cases) {
    const CliRun r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
  }
  const std::string corrupt = (dir_ / "corrupt.h5").string();
  { FILE* c = std::fopen(corrupt.c_str(), "wb"); std::fputs("not hdf5 at all", c); std::fclose(c); }
  const CliRun r = run(corrupt + " " + out + " -d /w -f nvfp4");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(run("--help").code, 0);
}

}  // namespace
}  // namespace moesim
