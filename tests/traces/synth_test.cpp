// Synthetic routing: reproducibility, distribution shapes, and the profile-run worst case.
#include "traces/synth.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "test_util.hpp"
#include "traces/inspect.hpp"
#include "traces/trace_io.hpp"

namespace moesim::traces {
namespace {

using moesim::testing::run_cmd;
using moesim::testing::temp_path;

std::vector<std::int64_t> counts(const std::vector<std::int32_t>& ids, std::int64_t E) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(E), 0);
  for (auto i : ids) ++c[static_cast<std::size_t>(i)];
  return c;
}

TEST(Synth, SameSeedSameRoutingDifferentSeedDifferent) {
  std::vector<std::int32_t> a, b, c;
  std::vector<float> wa, wb, wc;
  sample_routing("zipf:1.1", 64, 6, 1000, 5, 0, a, wa);
  sample_routing("zipf:1.1", 64, 6, 1000, 5, 0, b, wb);
  sample_routing("zipf:1.1", 64, 6, 1000, 6, 0, c, wc);
  EXPECT_EQ(a, b);
  EXPECT_EQ(wa, wb);
  EXPECT_NE(a, c);
}

TEST(Synth, EveryTokenHasDistinctValidExpertsAndNormalisedWeights) {
  for (const char* dist : {"uniform", "zipf:3", "hot:0.9", "same"}) {
    std::vector<std::int32_t> ids;
    std::vector<float> w;
    sample_routing(dist, 16, 8, 500, 1, 0, ids, w);
    for (int t = 0; t < 500; ++t) {
      std::set<std::int32_t> s(ids.begin() + t * 8, ids.begin() + t * 8 + 8);
      ASSERT_EQ(s.size(), 8u) << dist << " token " << t;
      ASSERT_GE(*s.begin(), 0);
      ASSERT_LT(*s.rbegin(), 16);
      float sum = 0;
      for (int k = 0; k < 8; ++k) sum += w[t * 8 + k];
      ASSERT_NEAR(sum, 1.0f, 1e-5f);
    }
  }
}

TEST(Synth, UniformIsBalancedZipfAndHotAreSkewed) {
  std::vector<std::int32_t> ids;
  std::vector<float> w;
  sample_routing("uniform", 32, 4, 40000, 2, 0, ids, w);
  auto u = load_stats(counts(ids, 32));
  EXPECT_LT(u.imbalance, 1.1);  // 5000 per expert expected, sd ~70
  sample_routing("zipf:1.5", 32, 4, 40000, 2, 0, ids, w);
  EXPECT_GT(load_stats(counts(ids, 32)).imbalance, 3.0);
  sample_routing("hot:0.8", 32, 4, 40000, 2, 0, ids, w);
  auto h = load_stats(counts(ids, 32));
  // the hot expert takes ~80% of first slots plus its uniform share of the rest
  EXPECT_GT(h.max_load, 0.8 * 40000);
}

TEST(Synth, SameRoutesEveryTokenToExpertsZeroToKMinusOne) {
  std::vector<std::int32_t> ids;
  std::vector<float> w;
  sample_routing("same", 256, 8, 100, 9, 0, ids, w);
  for (int t = 0; t < 100; ++t)
    for (int k = 0; k < 8; ++k) ASSERT_EQ(ids[t * 8 + k], k);
}

TEST(Synth, BadDistributionAndPresetAreInputErrors) {
  std::vector<std::int32_t> ids;
  std::vector<float> w;
  EXPECT_THROW(sample_routing("gauss", 8, 2, 1, 0, 0, ids, w), InputError);
  EXPECT_THROW(sample_routing("zipf:-1", 8, 2, 1, 0, 0, ids, w), InputError);
  EXPECT_THROW(sample_routing("zipf:abc", 8, 2, 1, 0, 0, ids, w), InputError);
  auto r = run_cmd(std::string(MOESIM_BINARY) + " synth -p no-such-model -o " + temp_path("x.h5"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown model preset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deepseek-v3"), std::string::npos) << "should list known presets: " << r.out;
}

TEST(Synth, EveryIssuePresetLoadsAndSynthesises) {
  for (const char* p : {"deepseek-v3", "qwen3-30b-a3b", "qwen3-235b-a22b", "gpt-oss-20b", "gpt-oss-120b", "mixtral-8x7b",
                        "nemotron-3-super", "nemotron-3-nano", "kimi-k2.5"}) {
    SynthOptions o;
    o.preset = p;
    o.tokens = {33};
    Trace t = synthesize(o, models_dir());
    EXPECT_TRUE(validate(t).empty()) << p;
    EXPECT_EQ(t.calls[0].topk_ids.size(), static_cast<std::size_t>(33 * t.model.top_k)) << p;
  }
}

TEST(Synth, CountsModeMatchesRoutingModeAndValidates) {
  SynthOptions o;
  o.preset = "deepseek-v3";
  o.tokens = {1000};
  o.seed = 4;
  Trace r = synthesize(o, models_dir());
  o.mode = "counts";
  Trace c = synthesize(o, models_dir());
  EXPECT_TRUE(c.calls[0].topk_ids.empty());
  EXPECT_EQ(c.calls[0].expert_counts, r.calls[0].tokens_per_expert(256));
  const std::string p = temp_path("c.h5");
  write_trace(c, p);
  EXPECT_EQ(read_trace(p).calls[0].expert_counts, c.calls[0].expert_counts);
}

TEST(Synth, FileOutputIsByteReproducible) {
  const std::string a = temp_path("a.h5"), b = temp_path("b.h5");
  const std::string cmd = std::string(MOESIM_BINARY) + " synth -p qwen3-30b-a3b -t 100,7 -r zipf:1.2 -s 11 --activations --weights bf16 --hidden 32 --intermediate 16 -o ";
  ASSERT_EQ(run_cmd(cmd + a).code, 0);
  ASSERT_EQ(run_cmd(cmd + b).code, 0);
  Trace ta = read_trace(a), tb = read_trace(b);
  ASSERT_EQ(ta.calls.size(), 2u);
  EXPECT_EQ(ta.calls[1].topk_ids, tb.calls[1].topk_ids);
  EXPECT_EQ(ta.calls[0].hidden_states->data.bytes, tb.calls[0].hidden_states->data.bytes);
}

TEST(Inspect, LoadStatsAgainstHandComputedValues) {
  // loads 0, 2, 4, 10: mean 4, max/mean 2.5, variance (16+4+0+36)/4 = 14
  auto s = load_stats({0, 2, 4, 10}, 2);
  EXPECT_EQ(s.assignments, 16);
  EXPECT_EQ(s.max_load, 10);
  EXPECT_EQ(s.hottest_expert, 3);
  EXPECT_EQ(s.empty_experts, 1);
  EXPECT_DOUBLE_EQ(s.mean_load, 4.0);
  EXPECT_DOUBLE_EQ(s.imbalance, 2.5);
  EXPECT_NEAR(s.cv, std::sqrt(14.0) / 4.0, 1e-12);
  // two buckets of width 6: [0,6) holds 3 experts, [6,12) holds 1
  EXPECT_EQ(s.histogram, (std::vector<std::int64_t>{3, 1}));
}

TEST(Inspect, CliJsonReportsWhatIsMissing) {
  const std::string p = temp_path("shape.h5");
  ASSERT_EQ(run_cmd(std::string(MOESIM_BINARY) + " synth -p deepseek-v3 -t 1000 --mode counts -o " + p).code, 0);
  auto r = run_cmd(std::string(MOESIM_BINARY) + " inspect --json " + p);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"num_experts\":256"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"assignments\":8000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("weights hidden_states topk_ids"), std::string::npos) << r.out;
  auto h = run_cmd(std::string(MOESIM_BINARY) + " inspect --help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--json"), std::string::npos);
}

}  // namespace
}  // namespace moesim::traces
