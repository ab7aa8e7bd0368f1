// models/flashinfer/sm90_interleave.json: the FlashInfer version -> SM90 interleave algorithm
// table (read from the upstream tags, see the file's "source"), its loader's lookups and its
// one-line errors on malformed data.
#include "models/lib/sm90_interleave_versions.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "models/lib/flashinfer_profile.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::models {
namespace {

const std::string kOld = "sm90_interleave_v0.6.10", kNew = "sm90_interleave_v0.6.16";

TEST(Sm90InterleaveVersions, BundledTableMatchesTheUpstreamTags) {
  const auto t = Sm90InterleaveVersions::load(moesim::models_dir());
  // The layout tags are sim/quant/sm90_interleave.hpp's (sm90_interleave_test checks those).
  EXPECT_EQ(std::set<std::string>(t.layouts().begin(), t.layouts().end()), (std::set<std::string>{kOld, kNew}));
  // Introduced in v0.6.10 (PR #3084): absent before.
  EXPECT_EQ(t.layout_for("0.6.9"), std::nullopt);
  EXPECT_EQ(t.layout_for("0.6.8.post1"), std::nullopt);
  EXPECT_EQ(t.layout_for("0.6.10rc1"), kOld);
  for (const char* v : {"0.6.10", "0.6.11", "0.6.11.post2", "0.6.12", "0.6.13", "0.6.14", "0.6.15", "0.6.15.post1"})
    EXPECT_EQ(t.layout_for(v), kOld) << v;
  // PR #3738 ships from v0.6.16rc1; the release branches revert it (#4412 / #4411).
  for (const char* v : {"0.6.16rc1", "0.6.16", "0.6.16.post1", "0.6.16.post2", "0.6.17rc1", "0.6.17rc4", "0.6.18rc1", "0.6.18rc7"})
    EXPECT_EQ(t.layout_for(v), kNew) << v;
  for (const char* v : {"0.6.16.post3", "0.6.16.post4", "0.6.17rc5", "0.6.17"}) EXPECT_EQ(t.layout_for(v), kOld) << v;
  EXPECT_EQ(t.main_layout(), kNew);
  EXPECT_EQ(t.main_commit(), "fb28d7242b3506a2348265962041acc1fb56cca4");
  EXPECT_THROW(t.layout_for("0.6.19"), InputError);
  EXPECT_THROW(t.layout_for("0.6.16.post9"), InputError);
  EXPECT_THROW(t.layout_for("not-a-version"), InputError);
  for (std::size_t i = 1; i < t.versions().size(); ++i) EXPECT_TRUE(t.versions()[i - 1].version < t.versions()[i].version);
}

TEST(Sm90InterleaveVersions, DoesNotDisturbTheFlashInferProfileLoader) {
  // The file lives next to the version profiles, which the profile loader globs.
  EXPECT_NO_THROW(FlashInferProfiles::load(moesim::models_dir()));
}

std::string write_tmp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("moesim_sm90il_" + name + "_" + std::to_string(::getpid()) + ".json");
  std::ofstream(p) << text;
  return p.string();
}

std::string error_of(const std::string& text) {
  const std::string path = write_tmp("bad", text);
  try {
    Sm90InterleaveVersions::load_file(path);
  } catch (const InputError& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "";
}

TEST(Sm90InterleaveVersions, MalformedTablesAreOneLineErrors) {
  const std::string head = R"({"layouts": [{"layout": "A", "introduced_by": "x"}], "absent_before": "0.6.10",
    "main": {"commit": "fb28d7242b3506a2348265962041acc1fb56cca4", "layout": "A"}, "versions": [)";
  const std::string c = R"("commit": "943d0ff0dfdbb5019b9733bd78ac730c5bff6f92")";
  EXPECT_EQ(error_of(head + R"({"version": "0.6.10", )" + c + R"(, "layout": "A"}]})"), "");
  EXPECT_NE(error_of(head + R"({"version": "0.6.10", )" + c + R"(, "layout": "B"}]})").find("/versions/0/layout"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"version": "0.6.10", )" + c + R"(, "layout": "A"}, {"version": "0.6.10", )" + c +
                     R"(, "layout": "A"}]})")
                .find("duplicate"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"version": "0.6.10", "commit": "xyz", "layout": "A"}]})").find("/versions/0/commit"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"version": "0.6.9", )" + c + R"(, "layout": "A"}]})").find("absent_before"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"version": "0.6.10", )" + c + R"(, "layout": "A"})").find("sm90il_bad"), std::string::npos);
}

}  // namespace
}  // namespace moesim::models
