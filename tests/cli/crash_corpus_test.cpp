// The crash-report corpus (tests/data/crash_reports/*.json, schema in docs/crash-corpus.md):
// every case runs through the real `moesim check` binary on both sides of its fix: flagged on
// the broken side with the finding and values derived from the thread and the source, silent
// on the fixed side.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cli_run.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using moesim::testing::run_moesim;

std::string corpus_dir() { return std::string(MOESIM_TEST_DATA_DIR) + "/crash_reports"; }

std::vector<std::string> case_files() {
  std::vector<std::string> v;
  if (!fs::is_directory(corpus_dir())) return v;
  for (const auto& e : fs::directory_iterator(corpus_dir()))
    if (e.path().extension() == ".json") v.push_back(e.path().stem().string());
  std::sort(v.begin(), v.end());
  return v;
}

std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

const json::object& obj(const json::object& o, const char* key, const std::string& file) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_object()) throw std::runtime_error(file + ": '" + key + "' must be an object");
  return v->as_object();
}

std::string str(const json::object& o, const char* key, const std::string& file, bool required = true) {
  const json::value* v = o.if_contains(key);
  if (!v) {
    if (required) throw std::runtime_error(file + ": missing '" + key + "'");
    return "";
  }
  if (!v->is_string()) throw std::runtime_error(file + ": '" + key + "' must be a string");
  return std::string(v->as_string());
}

std::vector<std::string> str_array(const json::object& o, const char* key, const std::string& file) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) throw std::runtime_error(file + ": '" + key + "' must be an array of strings");
  std::vector<std::string> r;
  for (const auto& x : v->as_array()) {
    if (!x.is_string()) throw std::runtime_error(file + ": '" + key + "' must be an array of strings");
    r.emplace_back(x.as_string());
  }
  return r;
}

struct CheckRun {
  int rc = -1;
  json::array findings;
  std::string raw;
};

CheckRun run_check(const std::vector<std::string>& args, const std::string& trace, bool threshold) {
  std::string cmd = "check";
  for (std::string a : args) {
    if (auto p = a.find("{trace}"); p != std::string::npos) a.replace(p, 7, trace);
    cmd += " " + shell_quote(a);
  }
  if (threshold) cmd += " --threshold";
  cmd += " --json";
  CheckRun r;
  auto cli = run_moesim(cmd, /*merge_stderr=*/false);
  r.rc = cli.rc;
  r.raw = cli.out;
  // The JSON report is the last line of stdout.
  std::string line, last;
  std::istringstream in(cli.out);
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') last = line;
  if (!last.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(last, ec);
    if (!ec && v.is_object())
      if (const auto* f = v.as_object().if_contains("findings"); f && f->is_array()) r.findings = f->as_array();
  }
  return r;
}

bool int_eq(const json::object& f, const char* key, const json::object& exp) {
  const json::value* want = exp.if_contains(key);
  if (!want) return true;
  const json::value* have = f.if_contains(key);
  return have && have->is_int64() && want->is_int64() && have->as_int64() == want->as_int64();
}

std::string sev(const json::object& f) {
  const json::value* s = f.if_contains("severity");
  return s && s->is_string() ? std::string(s->as_string()) : "";
}

class Case : public ::testing::TestWithParam<std::string> {};

TEST_P(Case, FlaggedBrokenSilentFixed) {
  const std::string stem = GetParam();
  const std::string file = corpus_dir() + "/" + stem + ".json";
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(ss.str(), ec);
  ASSERT_FALSE(ec) << file << ": " << ec.message();
  ASSERT_TRUE(doc.is_object()) << file;
  const json::object& c = doc.as_object();

  // --- the file itself ---
  ASSERT_EQ(str(c, "schema", file), "moesim-crash-case-1") << file;
  ASSERT_EQ(str(c, "id", file), stem) << file << ": id must equal the file stem";
  const std::set<std::string> prefixes = {"fi_", "trtllm_", "vllm_", "sglang_"};
  ASSERT_TRUE(std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return stem.rfind(p, 0) == 0; }))
      << file << ": file name must start with fi_, trtllm_, vllm_ or sglang_";
  ASSERT_FALSE(str(c, "title", file).empty());
  ASSERT_EQ(str(c, "thread", file).rfind("https://github.com/", 0), 0u) << file << ": thread must be a GitHub URL";
  const json::object& fix = obj(c, "fix", file);
  ASSERT_EQ(str(fix, "url", file).rfind("https://github.com/", 0), 0u) << file << ": fix.url must be a GitHub URL";
  const std::string kind = str(fix, "kind", file);
  ASSERT_TRUE(kind == "fix" || kind == "workaround") << file << ": fix.kind must be fix | workaround";
  const json::object& rep = obj(c, "reported", file);
  ASSERT_FALSE(str(rep, "device", file).empty()) << file;
  ASSERT_FALSE(str(rep, "error", file).empty()) << file;
  const json::object& exp = obj(c, "expected", file);
  const std::string want_id = str(exp, "finding", file);
  const std::string want_kernel = str(exp, "kernel", file, false);
  const std::string want_stage = str(exp, "stage", file, false);
  const std::string want_sev = exp.contains("severity") ? str(exp, "severity", file) : "error";
  const std::string want_formula = str(exp, "formula_contains", file, false);
  ASSERT_GE(str(exp, "derivation", file).size(), 40u) << file << ": expected.derivation must show the arithmetic";
  const bool has_number = exp.contains("value") || exp.contains("limit_value") || exp.contains("first_failing_tokens");
  ASSERT_TRUE(has_number || !want_formula.empty() || exp.contains("details"))
      << file << ": expected needs value, limit_value, first_failing_tokens, formula_contains or details";
  const std::vector<std::string> broken = str_array(c, "broken", file);
  const std::vector<std::string> fixed = str_array(c, "fixed", file);

  // --- optional synthetic trace ---
  std::string trace;
  if (c.contains("synth")) {
    trace = (fs::temp_directory_path() / ("moesim_corpus_" + stem + "_" + std::to_string(::getpid()) + ".h5")).string();
    std::string cmd = "synth";
    for (const auto& a : str_array(c, "synth", file)) cmd += " " + shell_quote(a);
    auto s = run_moesim(cmd + " -o " + shell_quote(trace));
    ASSERT_EQ(s.rc, 0) << file << ": synth failed: " << s.out;
  }
  struct Cleanup {
    std::string p;
    ~Cleanup() {
      if (!p.empty()) fs::remove(p);
    }
  } cleanup{trace};

  auto details_match = [&](const json::object& f) {
    const json::value* d = exp.if_contains("details");
    if (!d || !d->is_object()) return true;
    const json::value* fd = f.if_contains("details");
    for (const auto& [k, v] : d->as_object()) {
      const json::value* have = fd && fd->is_object() ? fd->as_object().if_contains(k) : nullptr;
      if (!(have && v.is_string() && have->is_string() && have->as_string() == v.as_string())) return false;
    }
    return true;
  };
  // "The same finding": id, and kernel / stage / details where the case names them.
  auto matches_kernel = [&](const json::object& f) {
    auto field = [&](const char* k) {
      const json::value* v = f.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    return field("id") == want_id && (want_kernel.empty() || field("kernel") == want_kernel) &&
           (want_stage.empty() || field("stage") == want_stage) && details_match(f);
  };

  // --- broken side ---
  CheckRun b = run_check(broken, trace, exp.contains("first_failing_tokens"));
  if (want_sev == "error") EXPECT_EQ(b.rc, 1) << file << " broken side exit code\n" << b.raw;
  else EXPECT_TRUE(b.rc == 0 || b.rc == 1) << file << " broken side exit code\n" << b.raw;
  bool found = false;
  std::string seen;
  for (const auto& fv : b.findings) {
    if (!fv.is_object()) continue;
    const json::object& f = fv.as_object();
    if (!matches_kernel(f)) continue;
    seen += json::serialize(f) + "\n";
    bool ok = sev(f) == want_sev;
    ok = ok && int_eq(f, "value", exp) && int_eq(f, "limit_value", exp) && int_eq(f, "first_failing_tokens", exp);
    if (!want_formula.empty())
      ok = ok && f.contains("formula") && std::string(f.at("formula").as_string()).find(want_formula) != std::string::npos;
    found = found || ok;
  }
  EXPECT_TRUE(found) << file << ": broken side does not report " << want_id << " with the expected values.\n"
                     << "findings with that id:\n" << (seen.empty() ? "(none)\n" : seen) << "output:\n" << b.raw;

  // --- fixed side ---
  CheckRun x = run_check(fixed, trace, false);
  std::int64_t want_rc = 0;
  if (const json::value* r = c.if_contains("fixed_expect_exit"); r && r->is_int64()) want_rc = r->as_int64();
  EXPECT_EQ(x.rc, want_rc) << file << " fixed side exit code\n" << x.raw;
  for (const auto& fv : x.findings) {
    if (!fv.is_object()) continue;
    const json::object& f = fv.as_object();
    if (matches_kernel(f) && sev(f) != "info")
      ADD_FAILURE() << file << ": fixed side still reports " << json::serialize(f);
  }
}

std::string case_name(const ::testing::TestParamInfo<std::string>& i) {
  std::string n = i.param;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(CrashCorpus, Case, ::testing::ValuesIn(case_files()), case_name);

TEST(CrashCorpusFiles, EveryFileIsACaseAndPrefixesAreKnown) {
  // Every file in the directory is a .json case (no stray notes that would be skipped silently).
  ASSERT_TRUE(fs::is_directory(corpus_dir())) << corpus_dir();
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(corpus_dir())) {
    EXPECT_EQ(e.path().extension(), ".json") << e.path();
    ++n;
  }
  EXPECT_GE(n, 1u);
}

}  // namespace
