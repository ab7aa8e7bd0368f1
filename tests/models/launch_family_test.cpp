// models/launch/*.json loader: every shipped family loads; a malformed family file is one
// InputError naming the file and JSON pointer (bad expression, comparison, duplicate ids,
// wrong schema), never a crash.
#include "models/lib/launch_family.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::models {
namespace {

std::string write_tmp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p.string();
}

const char* kGood = R"({"schema": "moesim-launch-family-1", "id": "x", "description": "d", "framework": "vllm",
  "let": [["a", "T * 2"]],
  "revisions": [{"id": "r0", "source": "s", "hazards": [{"id": "h", "finding": "INT32_OFFSET_OVERFLOW",
    "stage": "g", "value": "a", "limit": "INT32_MAX", "message": "m", "upstream": "u"}]}]})";

TEST(LaunchFamilyData, ShippedFamiliesLoad) {
  const auto t = load_launch_families(models_dir());
  EXPECT_GE(t.families.size(), 8u);
  for (const auto& f : t.families) {
    EXPECT_FALSE(f.revisions.empty()) << f.id;
    EXPECT_NE(t.find(f.id), nullptr);
  }
}

TEST(LaunchFamilyData, GoodFileLoads) {
  const auto f = load_launch_family_file(write_tmp("moesim_lf_good.json", kGood));
  ASSERT_EQ(f.revisions.size(), 1u);
  EXPECT_EQ(f.revisions[0].hazards[0].value.text(), "a");
}

TEST(LaunchFamilyData, MalformedFilesNameFileAndPointer) {
  struct Bad { const char* from; const char* to; const char* pointer; };
  const Bad bads[] = {
      {"\"T * 2\"", "\"T * \"", "/let/0/1"},
      {"\"INT32_MAX\"", "\"INT32_MAX )\"", "/revisions/0/hazards/0/limit"},
      {"\"stage\": \"g\",", "\"stage\": \"g\", \"cmp\": \"<>\",", "/revisions/0/hazards/0/cmp"},
      {"\"moesim-launch-family-1\"", "\"moesim-launch-family-0\"", "/schema"},
      {"\"framework\": \"vllm\"", "\"framework\": \"trtllm\"", "/framework"},
      {"\"stage\": \"g\",", "\"severity\": \"fatal\", \"stage\": \"g\",", "/revisions/0/hazards/0/severity"},
  };
  for (const auto& b : bads) {
    std::string text = kGood;
    text.replace(text.find(b.from), std::string(b.from).size(), b.to);
    const std::string path = write_tmp("moesim_lf_bad.json", text);
    try {
      load_launch_family_file(path);
      ADD_FAILURE() << "accepted: " << b.to;
    } catch (const InputError& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find(path), std::string::npos) << w;
      EXPECT_NE(w.find(b.pointer), std::string::npos) << w;
    }
  }
  EXPECT_THROW(load_launch_family_file(write_tmp("moesim_lf_trunc.json", std::string(kGood).substr(0, 60))), InputError);
}

}  // namespace
}  // namespace moesim::models
