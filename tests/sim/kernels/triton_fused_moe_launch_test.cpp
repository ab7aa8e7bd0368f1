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
  // Tuned A10 entry at key 1024: 4 * (128*64*2 + 64*256*2) = 196,608 B > 99 KB.
  auto f = triton_moe::check(p, env("a10", "pr34086", dirs));
  const Finding* s = find(f, "SMEM_EXCEEDED", "gemm1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s->value, 196608);
  EXPECT_EQ(s->basis, "model");
  // Same shape on H100 (no tuned file for it here): default config fits in 227 KB.
  EXPECT_EQ(find(triton_moe::check(p, env("h100", "pr34086", dirs)), "SMEM_EXCEEDED", "gemm1"), nullptr);
  // Small M picks the small tuned entry on the A10 too.
  p.tokens = 2;
  EXPECT_EQ(find(triton_moe::check(p, env("a10", "pr34086", dirs)), "SMEM_EXCEEDED", "gemm1"), nullptr);
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
