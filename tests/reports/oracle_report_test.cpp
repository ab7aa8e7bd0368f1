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

}  // namespace
}  // namespace moesim::reports
