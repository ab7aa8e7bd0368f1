// EP/DP dispatch: the M each MoE kernel call sees.
#include <gtest/gtest.h>

#include "replay/dispatch/dispatch.hpp"
#include "sim/core/error.hpp"

using namespace moesim;
using namespace moesim::dispatch;

TEST(Dispatch, NoneKeepsPerRankTokens) {
  ParallelConfig pc;
  auto c = dispatch_call(pc, {100, 300}, 64, 8, {}, "call 0");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].tokens, 100);
  EXPECT_EQ(c[1].tokens, 300);
  EXPECT_EQ(c[0].local_experts, 64);
}

TEST(Dispatch, AllgatherSumsDpRanksAndSplitsExperts) {
  ParallelConfig pc;
  pc.mode = Mode::allgather;
  pc.dp = pc.ep = 8;
  auto c = dispatch_call(pc, {50000, 50000, 50000, 50000, 50000, 50000, 50000, 50000}, 512, 22, {}, "call 0");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].tokens, 400000);
  EXPECT_EQ(c[0].local_experts, 64);
  EXPECT_EQ(c[0].top_k, 22);
}

TEST(Dispatch, DeepEpHtBoundsByRoutedSlotsPerRank) {
  ParallelConfig pc;
  pc.mode = Mode::deepep_ht;
  pc.ep = pc.dp = 2;
  std::vector<std::int64_t> counts = {10, 20, 0, 5};  // experts 0,1 on rank 0; 2,3 on rank 1
  auto c = dispatch_call(pc, {40, 60}, 4, 2, counts, "call 0");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].tokens, 30);  // min(100 tokens, 30 slots)
  EXPECT_EQ(c[1].tokens, 5);
  EXPECT_EQ(c[0].local_experts, 2);
  // Without counts: the all-tokens bound.
  auto d = dispatch_call(pc, {40, 60}, 4, 2, {}, "call 0");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].tokens, 100);
}

TEST(Dispatch, DeepEpLlUsesBatchedLayout) {
  ParallelConfig pc;
  pc.mode = Mode::deepep_ll;
  pc.ep = 16;
  pc.ll_max_dispatch_tokens_per_rank = 256;
  auto c = dispatch_call(pc, {10}, 256, 8, {}, "call 0");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].tokens, 4096);
  EXPECT_EQ(c[0].top_k, 1);
  EXPECT_FALSE(c[0].chunkable);
}

TEST(Dispatch, SyntheticWorstCases) {
  ParallelConfig pc;
  pc.mode = Mode::allgather;
  pc.dp = pc.ep = 4;
  pc.max_num_tokens = 100000;
  auto s = synthetic_worst_cases(pc, 512, 22);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].tokens, 400000);  // profile run: all ranks' dummy tokens on the same experts
  EXPECT_NE(s[0].origin.find("profile run"), std::string::npos);
  EXPECT_EQ(s[1].tokens, 400000);  // autotune warm-up with every DP rank at max_num_tokens
  pc.max_num_tokens = 0;
  EXPECT_TRUE(synthetic_worst_cases(pc, 512, 22).empty());
}

TEST(Dispatch, BadInput) {
  EXPECT_THROW(parse_mode("pplx"), InputError);
  EXPECT_EQ(parse_mode("naive"), Mode::allgather);
  ParallelConfig pc;
  pc.ep = 0;
  EXPECT_THROW(dispatch_call(pc, {1}, 8, 2, {}, "x"), InputError);
}
