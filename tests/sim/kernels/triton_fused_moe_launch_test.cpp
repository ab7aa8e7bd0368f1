// Triton fused_moe: int32 offsets before vLLM PR #34279 and the shared-memory estimate.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>

#include "models/lib/chunking.hpp"
#include "models/lib/device.hpp"
#include "models/lib/triton_config.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/threshold.hpp"
#include "sim/kernels/triton_fused_moe_launch.hpp"

using namespace moesim;
using namespace moesim::kernels;

namespace {
struct World {
  models::DeviceTable devs = models::DeviceTable::load(models_dir());
  models::ChunkingTable chunks = models::ChunkingTable::load(models_dir(), "vllm");
  models::TritonConfigRules rules = models::TritonConfigRules::load(models_dir(), "vllm");
};
World& world() {
  static World w;
  return w;
}
LaunchEnv env(const std::string& dev, const std::string& rev, std::vector<std::string> dirs = {}) {
  LaunchEnv e;
  e.device = &world().devs.find(dev);
  e.triton.framework = "vllm";
  e.triton.revision = &world().chunks.find(rev);
  e.triton.rules = &world().rules;
  e.triton.rules_revision = world().rules.resolve(rev);
  e.triton.config_dirs = std::move(dirs);
  return e;
}
LaunchProblem deepseek(std::int64_t T) {  // DeepSeek-V3 shape, TP1, bf16
  LaunchProblem p;
  p.tokens = T;
  p.num_experts = p.local_experts = 256;
  p.top_k = 8;
  p.hidden = 7168;
  p.intermediate = 2048;
  p.quant = "bf16";
  return p;
}
const Finding* find(const std::vector<Finding>& v, const std::string& id, const std::string& stage) {
  for (const auto& f : v)
    if (f.id == id && f.stage == stage) return &f;
  return nullptr;
}
// Independent brute force: first M with (M*K - 1) * stride > INT32_MAX.
std::int64_t brute(std::int64_t K, std::int64_t stride) {
  for (std::int64_t M = 1;; ++M)
    if ((M * K - 1) * stride > INT32_MAX) return M;
}
}  // namespace

TEST(TritonFusedMoe, Int32OffsetsBeforePr34279BothSides) {
  auto e = env("h100", "pre-34279");
  const std::int64_t g2 = brute(8, 7168);  // C = intermediate_cache3 [M, 8, 7168]
  const std::int64_t g1 = brute(8, 4096);  // C = intermediate_cache1 [M, 8, 2*2048]
  EXPECT_EQ(g2, 37450);                    // the "~37k tokens" DeepSeek report (sglang#4856)
  EXPECT_EQ(find(triton_moe::check(deepseek(g2 - 1), e), "INT32_OFFSET_OVERFLOW", "gemm2"), nullptr);
  ASSERT_NE(find(triton_moe::check(deepseek(g2), e), "INT32_OFFSET_OVERFLOW", "gemm2"), nullptr);
  EXPECT_EQ(find(triton_moe::check(deepseek(g1 - 1), e), "INT32_OFFSET_OVERFLOW", "gemm1"), nullptr);
  EXPECT_NE(find(triton_moe::check(deepseek(g1), e), "INT32_OFFSET_OVERFLOW", "gemm1"), nullptr);
  // int64 strides from PR #34279 on.
  EXPECT_EQ(find(triton_moe::check(deepseek(1000000), env("h100", "pr34279")), "INT32_OFFSET_OVERFLOW", "gemm2"), nullptr);
}

TEST(TritonFusedMoe, SmemEstimateBothSidesOfDeviceLimit) {
  const std::vector<std::string> dirs = {std::string(MOESIM_TEST_DATA_DIR) + "/triton_configs"};
  LaunchProblem p = deepseek(1024);
  p.num_experts = p.local_experts = 8;
  p.intermediate = 1792;
  // Tuned A10 entry at key 1024 (BM128 BN256 BK64, 4 stages): Triton allocates num_stages - 1 = 3
  // buffers per pipelined operand on SM86 (no wgmma): 3 * (128*64*2 + 64*256*2) = 147,456 B > 99 KB.
  auto f = triton_moe::check(p, env("a10", "pr34086", dirs));
  const Finding* s = find(f, "SMEM_EXCEEDED", "gemm1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s->value, 147456);
  EXPECT_EQ(*s->limit_value, 101376);
  // Same shape on H100 (no tuned file for it here): default config fits in 227 KB.
  EXPECT_EQ(find(triton_moe::check(p, env("h100", "pr34086", dirs)), "SMEM_EXCEEDED", "gemm1"), nullptr);
  // Small M picks the small tuned entry on the A10 too.
  p.tokens = 2;
  EXPECT_EQ(find(triton_moe::check(p, env("a10", "pr34086", dirs)), "SMEM_EXCEEDED", "gemm1"), nullptr);
}

// Buffers per pipelined load, from Triton's pipeliner source (AssignLatencies.cpp assignLatencies:
// loadLatency = (numStages - 1) / (maxIndirectionLevel + 1); LowerLoops.cpp lowerLoads: one
// buffer per stage of latency, +1 when loadRequiresAdditionalBuffer, i.e. the operand feeds a
// WarpGroupDotOp = SM90 wgmma). Worked by hand, not by the code under test.
TEST(TritonFusedMoe, SmemBuffersFollowTritonPipeliner) {
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(4, 80), 3);
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(4, 90), 4);
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(4, 100), 3);
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(2, 86), 1);
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(2, 90), 2);
  EXPECT_EQ(triton_moe::triton_pipeline_buffers(1, 90), 1);
  models::TritonConfig c;
  c.block_m = 64;
  c.block_n = 128;
  c.block_k = 64;
  c.num_stages = 4;
  // bf16: A 64*64*2 = 8,192 B, B 64*128*2 = 16,384 B per buffer.
  EXPECT_EQ(triton_moe::smem_estimate(c, 16, 16, 90), 4 * 24576);   // 98,304 on H100
  EXPECT_EQ(triton_moe::smem_estimate(c, 16, 16, 80), 3 * 24576);   // 73,728 on A100
  EXPECT_EQ(triton_moe::smem_estimate(c, 8, 8, 100), 3 * 12288);    // fp8 w8a8 on B200: 36,864
  c.num_stages = 5;
  c.block_m = 128;
  c.block_n = 256;
  EXPECT_EQ(triton_moe::smem_estimate(c, 16, 16, 90), 5 * (16384 + 32768));  // 245,760 > 232,448 on H100
  EXPECT_EQ(triton_moe::smem_estimate(c, 16, 16, 100), 4 * (16384 + 32768)); // 196,608 fits on B200
}

TEST(TritonFusedMoe, SmemThresholdFollowsNearestKeyBoundary) {
  const std::vector<std::string> dirs = {std::string(MOESIM_TEST_DATA_DIR) + "/triton_configs"};
  LaunchProblem p = deepseek(1);
  p.num_experts = p.local_experts = 8;
  p.intermediate = 1792;
  auto e = env("a10", "pr34086", dirs);
  auto fires = [&](std::int64_t t) {
    p.tokens = t;
    return find(triton_moe::check(p, e), "SMEM_EXCEEDED", "gemm1") != nullptr;
  };
  // Keys 4 and 1024: nearest key switches to 1024 at M = floor((4+1024)/2) + 1 = 515.
  std::int64_t brute_first = -1;
  for (std::int64_t t = 1; t <= 2000; ++t)
    if (fires(t)) {
      brute_first = t;
      break;
    }
  EXPECT_EQ(brute_first, 515);
  EXPECT_EQ(first_failing(fires, triton_moe::segment_starts(p, e, 1, 2000), 1, 2000), brute_first);
}

TEST(TritonFusedMoe, Fp4IsNotATritonPath) {
  LaunchProblem p = deepseek(10);
  p.quant = "nvfp4";
  EXPECT_NE(find(triton_moe::check(p, env("b200", "main")), "EMPTY_TACTIC_SET", "gemm1"), nullptr);
}
