// moesim repro on the two README deployments, from their error texts alone. Expected values
// are upstream facts, not outputs of this code: FlashInfer 0.6.8.post1's SM110 CUTLASS tactics
// hit "Unsupported tile shape config 256256128 for MoE gemm." (flashinfer-ai/flashinfer#3134),
// and TRTLLM-gen's grid.y = min(E, T*K) + (T*K - min(E, T*K)) / 128 first exceeds 65,535 at
// T = floor(((65536 - 512) * 128 + 511) / 22) + 1 = 378,345 for E=512, K=22
// (/work/shared/reference/flashinfer.md section 1.5).
#include "workflows/repro.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "sim/core/error.hpp"
#include "traces/trace_io.hpp"

namespace moesim::workflows {
namespace {

namespace fs = std::filesystem;

CheckRequest nano_sm110() {
  CheckRequest q;
  q.preset = "nemotron-3-nano";
  q.tokens = 8192;
  q.quant = "bf16";
  q.devices = {"sm110"};
  q.flashinfer = {"0.6.8.post1"};
  q.vllm = "pr39959";
  return q;
}

CheckRequest super_b200() {
  CheckRequest q;
  q.preset = "nemotron-3-super";
  q.tokens = 400000;
  q.devices = {"b200"};
  q.flashinfer = {"0.6.11.post2"};
  return q;
}

bool fires(const std::string& trace, const std::string& id, const std::string& text, std::optional<std::int64_t> tokens = {}) {
  CheckRequest v;
  v.trace = trace;
  check::Workload w = load_workload(v);
  if (tokens) {  // fewer tokens: take the removed tokens' slots off the busiest experts
    auto& c = w.calls.at(0);
    std::int64_t drop = (c.num_tokens - *tokens) * w.model.top_k;
    c.num_tokens = *tokens;
    while (drop-- > 0) --*std::max_element(c.expert_counts.begin(), c.expert_counts.end());
  }
  for (const auto& f : run_check(v, w).report.findings)
    if (f.id == id && match_error_text(text, f.gpu_error) > 0) return true;
  return false;
}

TEST(Repro, MatchIgnoresNumbersAndPrefixes) {
  EXPECT_GT(match_error_text("Unsupported tile shape config ... for MoE gemm", "Unsupported tile shape config 256256128 for MoE gemm."), 0);
  EXPECT_GT(match_error_text("RuntimeError: Error occurred when running GEMM! (numBatches: 69258, GemmMNK: 2688 8800000 1024)",
                             "Error occurred when running GEMM! (numBatches: 512, GemmMNK: ..., Kernel: ...)"),
            0);
  EXPECT_GT(match_error_text("OutOfResources: shared memory, Required: 262144 Hardware limit: 232448",
                             "triton.runtime.errors.OutOfResources: out of resource: shared memory, Required: 262144, Hardware limit: 232448."),
            0);
  EXPECT_EQ(match_error_text("Unsupported tile shape config ... for MoE gemm",
                             "Unsupported tile (64, 64, 64) and cluster (1, 2, 1) shape combination for arch 100."),
            0);
  EXPECT_EQ(match_error_text("CUDA error: an illegal memory access was encountered", ""), 0);
  EXPECT_EQ(match_error_text("gemm", "Error occurred when running GEMM!"), 0);  // one word explains nothing
  // A kept number that the finding prints ranks that finding first.
  EXPECT_GT(match_error_text("Unsupported tile shape config 256256128 for MoE gemm", "Unsupported tile shape config 256256128 for MoE gemm."),
            match_error_text("Unsupported tile shape config 256256128 for MoE gemm", "Unsupported tile shape config 256064128 for MoE gemm."));
}

TEST(Repro, Sm110TileErrorAndMinimalTrace) {
  const std::string out = (fs::path(::testing::TempDir()) / "repro_sm110_min.h5").string();
  fs::remove(out);
  ReproRequest r{"Unsupported tile shape config ... for MoE gemm", nano_sm110(), out};
  const ReproResult res = run_repro(r);
  ASSERT_TRUE(res.explained());
  bool saw_tile = false, saw_known_bad = false;
  for (const auto& e : res.explanations) {
    EXPECT_EQ(e.finding.kernel, "flashinfer_cutlass");
    EXPECT_NE(e.finding.gpu_error.find("Unsupported tile shape config"), std::string::npos);
    saw_tile |= e.finding.id == "TILE_UNREGISTERED";
    saw_known_bad |= e.finding.id == "KNOWN_BAD_VERSION";
  }
  EXPECT_TRUE(saw_tile);
  EXPECT_TRUE(saw_known_bad);
  ASSERT_TRUE(res.first_failing_tokens.has_value());
  EXPECT_EQ(*res.first_failing_tokens, 1);  // a property of the tactic list: every token count
  EXPECT_TRUE(res.minimal_reproduces) << res.minimal_note;
  const traces::Trace t = traces::read_trace(out);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].num_tokens, 1);
  EXPECT_EQ(t.context.device, "thor");
  EXPECT_EQ(t.context.flashinfer_version, "0.6.8.post1");
  EXPECT_TRUE(fires(out, res.explanations[0].finding.id, r.error_text));
}

TEST(Repro, GridYFromErrorTextAndMinimalTrace) {
  const std::string out = (fs::path(::testing::TempDir()) / "repro_gridy_min.h5").string();
  fs::remove(out);
  ReproRequest r{"RuntimeError: Error occurred when running GEMM!", super_b200(), out};
  const ReproResult res = run_repro(r);
  ASSERT_TRUE(res.explained());
  EXPECT_EQ(res.explanations[0].finding.id, "GRID_Y_OVERFLOW");
  EXPECT_EQ(res.explanations[0].finding.kernel, "flashinfer_trtllm");
  ASSERT_TRUE(res.first_failing_tokens.has_value());
  EXPECT_EQ(*res.first_failing_tokens, 378345);
  EXPECT_TRUE(res.minimal_reproduces) << res.minimal_note;
  const traces::Trace t = traces::read_trace(out);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].num_tokens, 378345);
  std::int64_t slots = 0, mn = INT64_MAX, mx = 0;
  for (auto c : t.calls[0].expert_counts) slots += c, mn = std::min(mn, c), mx = std::max(mx, c);
  EXPECT_EQ(slots, 378345 * 22);  // every routed slot kept
  EXPECT_LE(mx - mn, 1);          // the preset's uniform load stays uniform
  EXPECT_TRUE(fires(out, "GRID_Y_OVERFLOW", r.error_text));
  EXPECT_FALSE(fires(out, "GRID_Y_OVERFLOW", r.error_text, 378344));  // one token fewer: no overflow
}

TEST(Repro, IllegalMemoryAccessIsTheEmpiricalRegion) {
  ReproRequest r{"CUDA error: an illegal memory access was encountered", super_b200(), ""};
  const ReproResult res = run_repro(r);
  ASSERT_TRUE(res.explained());
  EXPECT_EQ(res.explanations[0].finding.id, "EMPIRICAL_CRASH_REGION");
  ASSERT_TRUE(res.first_failing_tokens.has_value());
  EXPECT_EQ(*res.first_failing_tokens, 305000);  // vLLM PR #43599: "305k or more causes IMA"
}

TEST(Repro, NothingExplainsListsWhatWasChecked) {
  ReproRequest r{"NCCL error: unhandled system error", super_b200(), ""};
  const ReproResult res = run_repro(r);
  EXPECT_FALSE(res.explained());
  EXPECT_FALSE(res.checked_targets.empty());
  EXPECT_FALSE(res.checked_findings.empty());
  EXPECT_FALSE(res.first_failing_tokens.has_value());
  EXPECT_THROW(run_repro(ReproRequest{"", super_b200(), ""}), InputError);
}

}  // namespace
}  // namespace moesim::workflows
