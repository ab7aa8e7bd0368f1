// Oracle renderings: the JSON carries the decision and the trail; the text names the backend
// and each failing predicate. Expected values: vLLM #40808 (b542bdf7) falls back to Triton on
// SM110 for bf16 because FlashInfer CUTLASS is gated to families 100/120
// (/work/shared/reference/vllm_sglang.md, section 4).
#include "reports/oracle_report.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "sim/core/paths.hpp"

namespace moesim::reports {
namespace {

TEST(OracleReport, JsonAndText) {
  oracle::OracleQuery q;
  q.framework = "vllm@pr40808";
  q.device = "sm110";
  q.quant = "bf16";
  q.traits = {{"activation", "relu2_no_mul"}};
  const auto d = oracle::decide(q, moesim::models_dir());
  const std::string js = format_json(d);
  ASSERT_FALSE(js.empty());
  EXPECT_EQ(js.back(), '\n');
  auto v = boost::json::parse(js);
  EXPECT_EQ(v.at("backend").as_string(), "triton");
  EXPECT_EQ(v.at("revision_commit").as_string(), "b542bdf7fb3611879b30917e03bef62963496e83");
  EXPECT_GT(v.at("trail").as_array().size(), 5u);
  const std::string text = format_text(d);
  EXPECT_NE(text.find("backend: triton"), std::string::npos);
  EXPECT_NE(text.find("FAIL fi_cutlass.device"), std::string::npos) << text;
}

// A release tag resolves with a note, and the JSON names the inputs that decided the answer.
TEST(OracleReport, RevisionNoteAndDecidedBy) {
  oracle::OracleQuery q;
  q.framework = "vllm@v0.19.0";  // cut at d816834c1aa6 (2026-03-29): after #38169, before #36286
  q.device = "sm100";
  q.quant = "bf16";
  q.traits = {{"top_k", "8"}};
  const auto d = oracle::decide(q, moesim::models_dir());
  auto v = boost::json::parse(format_json(d)).as_object();
  EXPECT_EQ(v.at("revision").as_string(), "pr38169");
  EXPECT_EQ(v.at("revision_spec").as_string(), "v0.19.0");
  EXPECT_NE(std::string(v.at("revision_note").as_string()).find("d816834c1aa6"), std::string::npos);
  bool device = false, top_k = false;
  for (const auto& x : v.at("decided_by").as_array()) {
    device = device || x.as_string() == "device";
    top_k = top_k || x.as_string() == "trait:top_k";
  }
  EXPECT_TRUE(device);
  EXPECT_FALSE(top_k);  // given, but no bf16 rule reads it
  EXPECT_NE(format_text(d).find("revision: release tag v0.19.0"), std::string::npos);
}

TEST(OracleReport, RevisionListHasEveryRevisionAndTag) {
  const auto fw = models::load_framework_by_name(moesim::models_dir(), "sglang");
  auto v = boost::json::parse(format_revision_list(fw, true)).as_object();
  EXPECT_EQ(v.at("revisions").as_array().size(), fw.revisions.size() + fw.tags.size());
  const std::string text = format_revision_list(fw, false);
  EXPECT_NE(text.find("tag      v0.5.13  2026-06-10  28b095c01005  -> pr26496"), std::string::npos) << text;
  EXPECT_NE(text.find("revision pr20047"), std::string::npos);
}

}  // namespace
}  // namespace moesim::reports
