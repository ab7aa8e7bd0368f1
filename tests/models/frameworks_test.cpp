// Framework oracle data: the shipped JSON loads and cross-checks; the loaders reject bad data
// with file + JSON pointer; flashinfer version ordering follows PEP 440; device aliases.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>

#include "models/lib/framework_devices.hpp"
#include "models/lib/framework_rules.hpp"
#include "models/lib/framework_version.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::models {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(FrameworkData, ShippedFilesLoadAndEveryReferenceResolves) {
  // load_framework cross-checks every order entry, list op and override against the
  // candidates, and every since/until against the revisions; a dangling reference throws.
  for (const std::string name : {"vllm", "sglang"}) {
    Framework fw = load_framework_by_name(moesim::models_dir(), name);
    EXPECT_EQ(fw.name, name);
    EXPECT_FALSE(fw.revisions.empty());
    for (const auto& s : fw.selectors) {
      EXPECT_FALSE(s.candidates.empty()) << s.id;
      for (const auto& o : s.order) EXPECT_TRUE(s.candidates.count(o.candidate)) << s.id << " " << o.candidate;
      for (const auto& [id, c] : s.candidates) {
        EXPECT_FALSE(c.backend.empty()) << id;
        EXPECT_FALSE(c.requires_.empty()) << s.id << "/" << id << " has no requirement: its accept edge would be unconditional by accident";
        for (const auto& p : c.requires_) EXPECT_FALSE(p.source.empty()) << s.id << "/" << id << "/" << p.id << " cites no source";
      }
    }
  }
}

TEST(FrameworkData, VllmRevisionMarkersNamedByTheIssueExistInMergeOrder) {
  Framework fw = load_framework_by_name(moesim::models_dir(), "vllm");
  // merge dates (first-parent upstream main, snapshot of fork neuralmagic/vllm): 38050 03-25
  // < 38169 03-26 < 36286 03-31 < 38251 04-06 < 39825 04-14 < 39959 04-20 < 40808 04-30 < V0 05-27
  // < 43599 05-28 < 44220 06-02 < 44992 06-11 < 43853 06-17.
  std::vector<std::string> chrono{"pr38050", "pr38169", "pr36286", "pr38251", "pr39825", "pr39959", "pr40808",
                                  "main-52a31cc", "pr43599", "pr44220", "pr44992", "pr43853"};
  int last = -1;
  for (const auto& r : chrono) {
    int i = fw.find_revision(r);
    ASSERT_GE(i, 0) << r;
    EXPECT_GT(i, last) << r;
    last = i;
  }
  EXPECT_EQ(fw.find_revision("v0"), fw.find_revision("main-52a31cc"));
  EXPECT_EQ(fw.revisions[fw.find_revision("pr39959")].flashinfer_pin, "0.6.8.post1");   // #39959 bumped to 0.6.8.post1
  EXPECT_EQ(fw.revisions[fw.find_revision("pr41711")].flashinfer_pin, "0.6.11.post2");  // #41711
  EXPECT_EQ(fw.find_revision("pr99999"), -1);
}

TEST(FrameworkData, UnknownFrameworkListsKnownOnes) {
  std::string e = error_of([] { load_framework_by_name(moesim::models_dir(), "tensorrt_llm"); });
  EXPECT_NE(e.find("unknown framework"), std::string::npos) << e;
  EXPECT_NE(e.find("sglang"), std::string::npos) << e;
  EXPECT_NE(e.find("vllm"), std::string::npos) << e;
}

class BrokenData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moesim_fw_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                        "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "frameworks");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text) {
    auto p = dir_ / "frameworks" / "toy.json";
    std::ofstream(p) << text;
    return p.string();
  }
  // A minimal valid file; tests patch one piece.
  static std::string toy(const std::string& order = R"(["A"])", const std::string& since = "",
                         const std::string& op = R"({"sm_ge": 90})") {
    return R"({"framework": "toy", "revisions": [{"id": "r1", "title": "t"}, {"id": "r2", "title": "t"}],
      "quant_schemes": [{"id": "bf16"}], "traits": [],
      "selectors": [{"id": "s", "title": "t", "primary": true, "order": )" + order + R"(,
        "candidates": {"A": {"backend": "a", "requires": [{"id": "p", "text": "t", )" + since + R"("test": )" + op + R"(}]}},
        "exhausted": {"action": "error", "message": "none"}}]})";
  }
  fs::path dir_;
};

TEST_F(BrokenData, ToyFileLoads) { EXPECT_NO_THROW(load_framework(write(toy()))); }

TEST_F(BrokenData, MalformedJsonNamesFileAndLine) {
  std::string p = write("{\"framework\": \"toy\",\n \"revisions\": [ }");
  std::string e = error_of([&] { load_framework(p); });
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("malformed JSON at line 2"), std::string::npos) << e;
}

TEST_F(BrokenData, OrderNamingAMissingCandidateIsRejectedWithPointer) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A", "B"])"))); });
  EXPECT_NE(e.find("/selectors/0/order/1"), std::string::npos) << e;
  EXPECT_NE(e.find("no candidate 'B'"), std::string::npos) << e;
}

TEST_F(BrokenData, UnknownRevisionInSinceIsRejected) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A"])", R"("since": "r9", )"))); });
  EXPECT_NE(e.find("unknown revision 'r9'"), std::string::npos) << e;
}

TEST_F(BrokenData, UnknownPredicateOperatorIsRejected) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A"])", "", R"({"sm_approximately": 90})"))); });
  EXPECT_NE(e.find("unknown predicate operator 'sm_approximately'"), std::string::npos) << e;
  EXPECT_NE(e.find("/test"), std::string::npos) << e;
}

TEST_F(BrokenData, WrongTypeInPredicateIsRejected) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A"])", "", R"({"sm_in": "ninety"})"))); });
  EXPECT_NE(e.find("expected an array"), std::string::npos) << e;
}

TEST_F(BrokenData, UnknownTraitIsRejected) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A"])", "", R"({"trait_in": {"name": "colour", "values": ["red"]}})"))); });
  EXPECT_NE(e.find("unknown trait 'colour'"), std::string::npos) << e;
}

TEST_F(BrokenData, UntilBeforeSinceIsRejected) {
  std::string e = error_of([&] { load_framework(write(toy(R"(["A"])", R"("since": "r2", "until": "r1", )"))); });
  EXPECT_NE(e.find("must come after"), std::string::npos) << e;
}

// PEP 440 ordering (https://peps.python.org/pep-0440/#summary-of-permitted-suffixes-and-relative-ordering):
// X.devN < X.rcN < X < X.postN, and release components compare numerically.
TEST(PyVersion, Pep440Ordering) {
  auto v = [](const char* s) { return PyVersion::parse(s, "test"); };
  std::vector<const char*> ascending{"0.4.0", "0.6.4", "0.6.8", "0.6.8.post1", "0.6.9", "0.6.10",
                                     "0.6.11", "0.6.11.post2", "0.6.16.dev1", "0.6.16rc1", "0.6.16", "0.6.18.post1", "1.0"};
  for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
    EXPECT_LT(v(ascending[i]), v(ascending[i + 1])) << ascending[i] << " < " << ascending[i + 1];
    EXPECT_GT(v(ascending[i + 1]), v(ascending[i]));
  }
  EXPECT_EQ(v("0.6.8"), v("0.6.8.0"));
  EXPECT_EQ(v("v0.6.8"), v("0.6.8"));
}

TEST(PyVersion, GarbageIsAnInputError) {
  for (const char* bad : {"", "abc", "0.6.8.post", "0.6.8-beta", "0..6", "0.6.8 "}) {
    EXPECT_THROW(PyVersion::parse(bad, "--flashinfer"), InputError) << "'" << bad << "'";
  }
}

TEST(DeviceAliases, ResolveNamesAndSpellings) {
  const std::string d = moesim::models_dir();
  EXPECT_EQ(resolve_device(d, "sm110").sm, 110);
  EXPECT_EQ(resolve_device(d, "SM_121a").sm, 121);
  EXPECT_EQ(resolve_device(d, "sm90a").sm, 90);
  EXPECT_EQ(resolve_device(d, "H100").sm, 90);
  EXPECT_EQ(resolve_device(d, "b300").sm, 103);
  EXPECT_EQ(resolve_device(d, "thor").sm, 110);
  EXPECT_EQ(resolve_device(d, "dgx-spark").sm, 121);
  std::string e = error_of([&] { resolve_device(d, "sm999"); });
  EXPECT_NE(e.find("unknown device"), std::string::npos) << e;
  EXPECT_NE(e.find("sm110"), std::string::npos) << e;  // lists known names
}

}  // namespace
}  // namespace moesim::models
