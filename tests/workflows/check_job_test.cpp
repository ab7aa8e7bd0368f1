// The check job as a library call: the request fields reach the engine, the framework oracle
// picks the backend when only a revision is named, and bad requests are InputErrors.
// Expected values are the upstream facts the README examples cite: Nemotron-3-Super at 400k
// tokens overflows TRTLLM-gen's grid.y from 378,345 tokens per call (engine_test derives it
// from the launch formula); vLLM #39959 routes bf16 on SM110 to FlashInfer CUTLASS, whose
// 0.6.8.post1 SM110 tactics hit "Unsupported tile shape config" (known-bad table).
#include "workflows/check_job.hpp"

#include <gtest/gtest.h>

#include "sim/core/error.hpp"

namespace moesim::workflows {
namespace {

const kernels::Finding* find(const CheckResult& r, const std::string& id) {
  for (const auto& f : r.report.findings)
    if (f.id == id) return &f;
  return nullptr;
}

TEST(CheckJob, PresetThreshold) {
  CheckRequest q;
  q.preset = "nemotron-3-super";
  q.tokens = 400000;
  q.devices = {"b200"};
  q.flashinfer = {"0.6.11.post2"};
  q.backends = {"flashinfer_trtllm"};
  q.threshold = true;
  const auto r = run_check(q);
  EXPECT_TRUE(r.has_error());
  EXPECT_FALSE(r.decision.has_value());  // a backend was named: no oracle
  const auto* g = find(r, "GRID_Y_OVERFLOW");
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->first_failing_tokens.has_value());
  EXPECT_EQ(*g->first_failing_tokens, 378345);
  EXPECT_EQ(r.workload.source, "preset nemotron-3-super");
}

TEST(CheckJob, OraclePicksBackend) {
  CheckRequest q;
  q.preset = "nemotron-3-nano";
  q.tokens = 8192;
  q.quant = "bf16";
  q.devices = {"sm110"};
  q.flashinfer = {"0.6.8.post1"};
  q.vllm = "pr39959";
  const auto r = run_check(q);
  ASSERT_TRUE(r.decision.has_value());
  EXPECT_EQ(r.decision->backend, "flashinfer_cutlass");
  ASSERT_EQ(r.report.targets.size(), 1u);
  EXPECT_EQ(r.report.targets[0].variant, "flashinfer_cutlass");
  EXPECT_NE(find(r, "KNOWN_BAD_VERSION"), nullptr);
  q.vllm = "pr40808";  // the fix: Triton on SM110
  const auto r2 = run_check(q);
  EXPECT_EQ(r2.decision->backend, "triton");
  EXPECT_FALSE(r2.has_error());
}

TEST(CheckJob, BadRequests) {
  CheckRequest q;
  EXPECT_THROW(run_check(q), InputError);  // neither trace nor preset
  q.preset = "nemotron-3-super";
  EXPECT_THROW(run_check(q), InputError);  // no tokens
  q.tokens = 10;
  q.vllm = "pr40808";
  q.sglang = "s0";
  EXPECT_THROW(run_check(q), InputError);  // two frameworks
  q.sglang.clear();
  q.vllm.clear();
  q.trtllm_class = "bogus";
  q.devices = {"b200"};
  EXPECT_THROW(run_check(q), InputError);
}

}  // namespace
}  // namespace moesim::workflows
