// The oracle scenario corpus (tests/data/oracle_scenarios/*.json): backend-selection
// questions whose expected answers were derived from vLLM / SGLang source at pinned commits
// (each scenario cites the upstream file:line@commit that decides it; see the README there).
// One gtest per scenario. The expected values are never produced by moesim.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <filesystem>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "replay/oracle/oracle.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace {

namespace json = boost::json;

struct Scenario {
  std::string file;
  std::string id;
  json::object obj;
};

std::vector<Scenario> load_all() {
  std::vector<Scenario> out;
  const std::filesystem::path dir = std::filesystem::path(MOESIM_TEST_DATA_DIR) / "oracle_scenarios";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    json::value v = json::parse(ss.str());
    for (const auto& s : v.as_object().at("scenarios").as_array())
      out.push_back({f.filename().string(), std::string(s.as_object().at("id").as_string()), s.as_object()});
  }
  return out;
}

const std::vector<Scenario>& all() {
  static const std::vector<Scenario> s = load_all();
  return s;
}

std::string str(const json::object& o, const char* k) {
  auto it = o.find(k);
  return it == o.end() || it->value().is_null() ? "" : std::string(it->value().as_string());
}

std::map<std::string, std::string> kv(const json::object& o, const char* k) {
  std::map<std::string, std::string> m;
  if (auto it = o.find(k); it != o.end())
    for (const auto& [key, val] : it->value().as_object()) m[std::string(key)] = std::string(val.as_string());
  return m;
}

class OracleScenario : public ::testing::TestWithParam<std::size_t> {};

TEST_P(OracleScenario, MatchesUpstream) {
  const Scenario& sc = all()[GetParam()];
  const json::object& o = sc.obj;
  SCOPED_TRACE(sc.file + " " + sc.id + " | " + str(o, "source") + " | " + str(o, "derivation"));
  moesim::oracle::OracleQuery q{str(o, "framework"), str(o, "device"), str(o, "quant"), str(o, "flashinfer"),
                                kv(o, "env"), kv(o, "traits")};
  const json::object& ex = o.at("expected").as_object();
  const std::int64_t exit_code = ex.at("exit").as_int64();
  if (exit_code == 2) {
    try {
      (void)moesim::oracle::decide(q, moesim::models_dir());
      FAIL() << "expected a refusal (exit 2) containing '" << str(ex, "message_contains") << "'";
    } catch (const moesim::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(str(ex, "message_contains")), std::string::npos) << e.what();
    }
    return;
  }
  moesim::oracle::OracleDecision d = moesim::oracle::decide(q, moesim::models_dir());
  if (exit_code == 1) {
    EXPECT_TRUE(d.error) << "expected the framework to raise; moesim chose " << d.backend;
    EXPECT_NE(d.error_message.find(str(ex, "error_contains")), std::string::npos) << d.error_message;
    return;
  }
  ASSERT_EQ(exit_code, 0);
  EXPECT_FALSE(d.error) << d.error_message;
  ASSERT_TRUE(ex.contains("backend") || ex.contains("results")) << "a scenario must expect a backend or selector results";
  if (ex.contains("backend")) {
    EXPECT_EQ(d.backend, str(ex, "backend"));
  }
  if (auto it = ex.find("revision"); it != ex.end()) {
    EXPECT_EQ(d.revision, std::string(it->value().as_string()));
  }
  if (auto it = ex.find("properties"); it != ex.end()) {  // of the chosen (primary) backend
    auto r = std::find_if(d.results.begin(), d.results.end(), [&](const auto& x) { return x.candidate == d.candidate && !x.error; });
    ASSERT_NE(r, d.results.end()) << "no selector chose " << d.candidate;
    for (const auto& [name, val] : it->value().as_object()) {
      auto p = std::find_if(r->properties.begin(), r->properties.end(), [&](const auto& kvp) { return kvp.first == std::string(name); });
      ASSERT_NE(p, r->properties.end()) << "property " << std::string(name) << " not set";
      EXPECT_EQ(p->second, std::string(val.as_string())) << std::string(name);
    }
  }
  if (auto it = ex.find("results"); it != ex.end()) {
    for (const auto& kv : it->value().as_object()) {
      const auto& sel = kv.key();  // not a structured binding: clang 14 cannot capture one in a lambda
      const auto& val = kv.value();
      auto r = std::find_if(d.results.begin(), d.results.end(), [&](const auto& x) { return x.selector == sel; });
      ASSERT_NE(r, d.results.end()) << "selector " << sel << " not evaluated";
      EXPECT_EQ(r->error ? "error" : r->value, std::string(val.as_string())) << sel;
    }
  }
}

std::string name_of(const ::testing::TestParamInfo<std::size_t>& info) {
  std::string n = all()[info.param].id;
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Corpus, OracleScenario, ::testing::Range<std::size_t>(0, all().size()), name_of);

TEST(OracleScenarioCorpus, IdsAreUniqueAndEverySourceIsPinned) {
  std::set<std::string> ids;
  for (const auto& s : all()) {
    EXPECT_TRUE(ids.insert(s.id).second) << "duplicate scenario id " << s.id;
    const std::string src = str(s.obj, "source");
    EXPECT_NE(src.find('@'), std::string::npos) << s.id << ": source must be file:line@commit";
    EXPECT_FALSE(str(s.obj, "derivation").empty()) << s.id;
  }
  EXPECT_GE(all().size(), 150u);
}

}  // namespace
