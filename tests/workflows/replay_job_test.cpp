// The replay job as a library call, on an H100 golden recorded with Triton (tests/data/golden,
// hw-verified): every stage and the output bit-identical; a thread count does not change bits.
#include "workflows/replay_job.hpp"

#include <gtest/gtest.h>

#include "sim/core/error.hpp"

namespace moesim::workflows {
namespace {

const std::string kGolden = std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_bf16_e8k2.h5";

TEST(ReplayJob, GoldenBitIdentical) {
  ReplayRequest q;
  q.trace = kGolden;
  q.threads = 2;
  std::size_t progress_calls = 0;
  q.on_stage = [&](const std::string& id, std::size_t, std::size_t, std::size_t, const std::string&) {
    EXPECT_EQ(id, "triton_bf16");
    ++progress_calls;
  };
  const auto r = run_replay(q);
  EXPECT_EQ(r.against, "golden");
  EXPECT_EQ(r.variant, "triton_bf16");
  ASSERT_FALSE(r.calls.empty());
  EXPECT_TRUE(r.all_bit_identical());
  EXPECT_GT(progress_calls, 0u);
  EXPECT_TRUE(r.calls[0].result.buffers.empty());  // dropped unless asked
  q.keep_buffers = true;
  q.call = "0";
  q.threads = 1;
  const auto r1 = run_replay(q);
  ASSERT_EQ(r1.calls.size(), 1u);
  EXPECT_FALSE(r1.calls[0].result.buffers.empty());
  EXPECT_GT(r1.calls[0].result.output().bytes().size(), 0u);
  EXPECT_TRUE(r1.all_bit_identical());
}

TEST(ReplayJob, BadRequests) {
  ReplayRequest q;
  EXPECT_THROW(run_replay(q), InputError);
  q.trace = kGolden;
  q.call = "99";
  EXPECT_THROW(run_replay(q), InputError);
  q.call = "x";
  EXPECT_THROW(run_replay(q), InputError);
  q.call = "all";
  q.against_flashinfer = "0.6.4";
  q.against = "golden";
  EXPECT_THROW(run_replay(q), InputError);
}

}  // namespace
}  // namespace moesim::workflows
