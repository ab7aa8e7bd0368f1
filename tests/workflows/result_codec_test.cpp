// The byte form MPI ranks send to rank 0 (workflows/result_codec): every field of a call report
// and a case result survives the round trip exactly (doubles by their bits, NaN included), and a
// truncated or padded buffer is refused. The partitions cover every item exactly once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "reports/regress_report.hpp"
#include "reports/replay_report.hpp"
#include "workflows/result_codec.hpp"

namespace moesim::workflows {
namespace {

CallReport sample_call() {
  CallReport c;
  c.call = 7;
  c.layer = 3;
  c.num_tokens = 123;
  c.result.variant = "triton_bf16";
  c.result.stage_order = {"routing", "gemm1", "finalize"};
  c.result.stage_output = {{"gemm1", "gemm1_out"}, {"finalize", "output"}};
  kernels::Finding f;
  f.id = "EMULATED_OOB_ACCESS";
  f.severity = kernels::Severity::warning;
  f.kernel = "triton_bf16";
  f.stage = "gemm2";
  f.formula = "index 9 >= 8";
  f.value = 9;
  f.limit_value = 8;
  f.first_failing_tokens = 378345;
  f.buffer = "w2";
  f.count = 2;
  f.details = {{"tile", "64x64"}, {"tactic", "3"}};
  c.result.findings = {f};
  c.result.timings = {{"gemm1", 0.125}, {"finalize", 1.0 / 3}};
  c.result.seconds = 0.1 + 0.2;
  replay::ReplayDiff d;
  d.a_name = "triton_bf16";
  d.b_name = "reference_fp64";
  d.first_divergence = "gemm1";
  d.output_compared = true;
  d.output.a_type = "bf16";
  d.output.count = 100;
  d.output.identical = 97;
  d.output.max_abs = std::numeric_limits<double>::denorm_min();
  d.output.rel_l2 = std::nan("");
  d.output.ulp_hist[3] = 5;
  d.output.per_expert = {{1, 10, 9, 0.5, 0.25}};
  d.output.worst_tokens = {{4, 2, 1, 1e-300, 2e300}};
  replay::StageDiff s;
  s.stage = "gemm1";
  s.compared = true;
  s.diff = d.output;
  d.stages = {s, replay::StageDiff{"act", false, "not recorded", {}}};
  c.diff = d;
  return c;
}

TEST(ResultCodec, CallReportRoundTripsExactly) {
  const CallReport c = sample_call();
  const std::string b = encode_call_report(c);
  const CallReport d = decode_call_report(b);
  EXPECT_EQ(encode_call_report(d), b);
  EXPECT_EQ(d.call, 7u);
  EXPECT_EQ(d.layer, 3);
  EXPECT_EQ(d.result.findings.at(0).details.at(1).second, "3");
  EXPECT_EQ(*d.result.findings.at(0).first_failing_tokens, 378345);
  EXPECT_FALSE(d.result.findings.at(0).index.has_value());
  EXPECT_EQ(d.result.seconds, 0.1 + 0.2);
  EXPECT_TRUE(std::isnan(d.diff->output.rel_l2));
  EXPECT_EQ(d.diff->output.max_abs, std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(d.diff->stages.at(1).note, "not recorded");
  // The rendered reports are the same bytes.
  ReplayReport r1, r2;
  r1.calls = {c};
  r2.calls = {d};
  EXPECT_EQ(reports::to_text(r1), reports::to_text(r2));
  EXPECT_EQ(boost::json::serialize(reports::to_json(r1)), boost::json::serialize(reports::to_json(r2)));
}

TEST(ResultCodec, CaseResultRoundTripsExactly) {
  CaseResult c;
  c.id = "case/trace/v@0.6.8";
  c.case_name = "case";
  c.status = CaseResult::Status::fail;
  c.failures = {"call 0: rel L2 0.1 > bound 0.01"};
  c.first_divergence = "gemm2";
  c.notes = {"n"};
  c.recorded.output_sha256 = std::string(64, 'a');
  c.recorded.has_metrics = true;
  c.recorded.rel_l2 = 1.0 / 7;
  c.recorded.max_ulp = -1;
  c.recorded.findings = {"X k/s [error]"};
  c.baseline_compared = true;
  c.seconds = 2.5;
  const std::string b = encode_case_result(c);
  const CaseResult d = decode_case_result(b);
  EXPECT_EQ(encode_case_result(d), b);
  RegressResult r1, r2;
  r1.cases = {c};
  r2.cases = {d};
  EXPECT_EQ(reports::to_junit(r1), reports::to_junit(r2));
  EXPECT_EQ(reports::to_markdown(r1), reports::to_markdown(r2));
}

TEST(ResultCodec, MalformedBuffersAreRefused) {
  const std::string b = encode_call_report(sample_call());
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, b.size() / 2, b.size() - 1})
    EXPECT_THROW(decode_call_report(b.substr(0, n)), std::runtime_error) << n;
  EXPECT_THROW(decode_call_report(b + "x"), std::runtime_error);
  std::string huge = b;
  const std::uint64_t big = ~0ull;
  std::memcpy(huge.data() + 24, &big, 8);  // the variant string's length (after call, layer, num_tokens)
  EXPECT_THROW(decode_call_report(huge), std::runtime_error);
  CallReport with_buffers = sample_call();
  with_buffers.result.buffers.emplace("x", kernels::EmuBuffer("x", kernels::ElemType::F32, {1}));
  EXPECT_THROW(encode_call_report(with_buffers), std::logic_error);
  RankShare s{true, "call 1 (layer 1): f.h5:/layers/0001/weights/w13: bad", true, {"a", "b"}};
  const RankShare t = decode_share(encode_share(s));
  EXPECT_EQ(t.error, s.error);
  EXPECT_EQ(t.items, s.items);
}

TEST(Partition, EveryItemOnExactlyOneRankAndIndependentOfNothingElse) {
  for (std::size_t n : {0, 1, 2, 5, 58, 64, 100})
    for (int ranks : {1, 2, 3, 7, 64}) {
      std::multiset<std::size_t> a, b;
      for (int r = 0; r < ranks; ++r) {
        const auto rp = replay_partition(n, ranks, r);
        for (std::size_t k = 1; k < rp.size(); ++k) EXPECT_EQ(rp[k], rp[k - 1] + 1);  // contiguous
        a.insert(rp.begin(), rp.end());
        for (auto i : regress_partition(n, ranks, r)) {
          EXPECT_EQ(i % static_cast<std::size_t>(ranks), static_cast<std::size_t>(r));
          b.insert(i);
        }
      }
      std::multiset<std::size_t> all;
      for (std::size_t i = 0; i < n; ++i) all.insert(i);
      EXPECT_EQ(a, all) << n << " " << ranks;
      EXPECT_EQ(b, all) << n << " " << ranks;
    }
  // 58 layers on 64 ranks: 6 ranks idle, none with two items.
  std::size_t idle = 0;
  for (int r = 0; r < 64; ++r) idle += replay_partition(58, 64, r).empty();
  EXPECT_EQ(idle, 6u);
}

}  // namespace
}  // namespace moesim::workflows
