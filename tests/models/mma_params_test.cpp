// models/mma/fdpa.json against the published parameter list written out by hand in
// tests/sim/mma/published_params.hpp (MMA-Sim Tables 4/5), row for row; plus the loader's
// one-line errors on malformed tables.
#include "models/lib/mma_params.hpp"

#include <gtest/gtest.h>

#include "sim/core/error.hpp"
#include "tests/sim/mma/published_params.hpp"

namespace moesim::models {
namespace {

TEST(FdpaTableJson, EqualsPublishedParameters) {
  const FdpaTable t = FdpaTable::load_default();
  const auto pub = mma::test::published_table();
  ASSERT_EQ(t.rows().size(), pub.size());
  for (const auto& want : pub) {
    const mma::FdpaParams& got = t.find(want.arch, want.inst);
    SCOPED_TRACE(want.key());
    EXPECT_EQ(got.algorithm, want.algorithm);
    EXPECT_EQ(got.a, want.a);
    EXPECT_EQ(got.b, want.b);
    EXPECT_EQ(got.c, want.c);
    EXPECT_EQ(got.k, want.k);
    EXPECT_EQ(got.l, want.l);
    EXPECT_EQ(got.f, want.f);
    EXPECT_EQ(got.rho, want.rho);
    EXPECT_EQ(got.e_zero, want.e_zero);
    EXPECT_EQ(got.g, want.g);
    EXPECT_EQ(got.scale, want.scale);
    EXPECT_EQ(got.scale_block, want.scale_block);
    EXPECT_FALSE(got.source.empty());
  }
}

TEST(FdpaTableJson, UnknownNamesAreOneLineErrors) {
  const FdpaTable t = FdpaTable::load_default();
  try {
    t.find("hopper", "wgmma.nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("wgmma.bf16.f32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.find("pascal", "mma"), InputError);
}

TEST(FdpaTableJson, MalformedRowsNameThePointer) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& body) {
    const std::string path = dir + "/fdpa_bad.json";
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(body.c_str(), f);
    std::fclose(f);
    return path;
  };
  const std::string row =
      R"({"arch":"x","inst":"y","algorithm":"T","a":"bf16","b":"bf16","c":"fp32","k":16,"l":16,"f":25,"rho":"RZ-FP32","e_zero":-133})";
  EXPECT_NO_THROW(FdpaTable::load(write(R"({"schema":"moesim.mma.fdpa/1","instructions":[)" + row + "]}")));
  try {
    std::string bad = row;
    bad.replace(bad.find("\"l\":16"), 6, "\"l\":5");
    FdpaTable::load(write(R"({"schema":"moesim.mma.fdpa/1","instructions":[)" + bad + "]}"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/instructions/0/l"), std::string::npos) << e.what();
  }
  EXPECT_THROW(FdpaTable::load(write(R"({"schema":"moesim.mma.fdpa/1","instructions":[)" + row + "," + row + "]}")),
               InputError);
  EXPECT_THROW(FdpaTable::load(write("{not json")), InputError);
}

}  // namespace
}  // namespace moesim::models
