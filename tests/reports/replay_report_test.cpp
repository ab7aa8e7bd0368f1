// Replay reports: the JSON carries every diff field, Markdown and text name the divergence.
#include <gtest/gtest.h>

#include "replay/inputs.hpp"
#include "reports/replay_report.hpp"

namespace moesim::reports {
namespace {

TEST(ReplayReport, JsonTextMarkdown) {
  kernels::MoeProblem p;
  p.num_tokens = 6;
  p.top_k = 2;
  p.num_experts = 4;
  p.hidden = 32;
  p.intermediate = 16;
  const auto call = replay::synth_call(p, 1);
  const replay::SyntheticWeights w(p, 2, 1.0);
  ReplayReport r;
  r.trace = "mem";
  r.variant = "triton_bf16";
  r.fidelity = "hw-verified";
  r.against = "reference_fp64";
  CallReport c;
  c.num_tokens = p.num_tokens;
  c.result = replay::run_replay(kernels::find_variant("triton_bf16"), call, w);
  const auto ref = replay::run_replay(kernels::find_variant("reference_fp64"), call, w);
  c.diff = replay::diff_replays(c.result, ref, call);
  r.calls.push_back(std::move(c));
  const auto j = to_json(r);
  const auto& d = j.at("calls").as_array().at(0).as_object().at("diff").as_object();
  EXPECT_EQ(d.at("first_divergence").as_string(), "gemm1");
  const auto& out = d.at("output").as_object();
  for (const char* k : {"max_abs", "rel_l2", "ulp_histogram", "bit_identical_pct", "nan", "inf", "per_expert", "worst_tokens"})
    EXPECT_TRUE(out.contains(k)) << k;
  EXPECT_FALSE(j.at("all_bit_identical").as_bool());
  EXPECT_NE(to_text(r).find("first divergence: stage gemm1"), std::string::npos);
  EXPECT_NE(to_markdown(r).find("| gemm2 |"), std::string::npos);
}

}  // namespace
}  // namespace moesim::reports
