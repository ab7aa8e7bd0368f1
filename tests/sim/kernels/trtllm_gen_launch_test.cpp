// TRTLLM-gen launch geometry. The reference below re-implements the published upstream code
// (flashinfer include/flashinfer/trtllm/fused_moe/runner.h getMaxNumCtasInBatchDim and
// csrc/trtllm_fused_moe_kernel_launcher.cu computeSelectedTileN, v0.6.11.post2) independently
// of sim/kernels, and brute-force scans token counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/threshold.hpp"
#include "sim/kernels/trtllm_gen_launch.hpp"

using namespace moesim;
using namespace moesim::kernels;

namespace ref {
// runner.h: distribute one token per expert, then pour the rest into tile-sized buckets.
std::int64_t ctas(std::int64_t T, std::int64_t K, std::int64_t E, std::int64_t tile) {
  std::int64_t rem = T * K, n = 0;
  std::int64_t filled = rem < E ? rem : E;
  n += filled;
  rem -= filled;
  if (rem > 0) n += rem / tile;
  return n;
}
int npow2(float v) {
  int n = static_cast<int>(std::ceil(v));
  if (n <= 1) return 1;
  int p = 1;
  while (p < n) p *= 2;
  return p;
}
// computeSelectedTileN's smallest candidate (the default tile).
int default_tile(const std::vector<int>& tiles, std::int64_t T, std::int64_t K, std::int64_t L) {
  float avg = static_cast<float>(T * K) / static_cast<float>(L);
  int c = std::min(std::max(npow2(avg), tiles.front()), tiles.back());
  auto it = std::find(tiles.begin(), tiles.end(), c);
  return it == tiles.begin() ? c : *std::prev(it);
}
}  // namespace ref

class TrtllmGen : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    devs = new models::DeviceTable(models::DeviceTable::load(models_dir()));
    fis = new models::FlashInferProfiles(models::FlashInferProfiles::load(models_dir()));
  }
  static models::DeviceTable* devs;
  static models::FlashInferProfiles* fis;
  LaunchEnv env(const std::string& dev, const std::string& v) {
    LaunchEnv e;
    e.device = &devs->find(dev);
    e.flashinfer = &fis->find(v);
    return e;
  }
  static LaunchProblem nemotron_super(std::int64_t T) {
    LaunchProblem p;
    p.tokens = T;
    p.num_experts = p.local_experts = 512;
    p.top_k = 22;
    p.hidden = 1024;
    p.intermediate = 2688;
    p.gated = false;
    p.activation = "relu2";
    p.quant = "nvfp4";
    p.routing = "deepseek";
    return p;
  }
  static bool has(const std::vector<Finding>& v, const std::string& id) {
    return std::any_of(v.begin(), v.end(), [&](const Finding& f) { return f.id == id; });
  }
  static const Finding* get(const std::vector<Finding>& v, const std::string& id) {
    for (const auto& f : v)
      if (f.id == id) return &f;
    return nullptr;
  }
};
models::DeviceTable* TrtllmGen::devs = nullptr;
models::FlashInferProfiles* TrtllmGen::fis = nullptr;

TEST_F(TrtllmGen, CtaFormulaMatchesReferenceOnAGrid) {
  for (std::int64_t E : {1, 8, 64, 256, 512, 2048})
    for (std::int64_t K : {1, 2, 8, 22, 32})
      for (std::int64_t tile : {8, 16, 64, 128, 256})
        for (std::int64_t T : {1LL, 3LL, 7LL, 100LL, 4095LL, 65536LL, 378345LL, 1000003LL})
          EXPECT_EQ(trtllm_gen::max_num_ctas_in_batch_dim(T, K, E, tile), ref::ctas(T, K, E, tile)) << E << " " << K << " " << tile << " " << T;
}

TEST_F(TrtllmGen, FirstGridYOverflowE512K22Tile128IsBruteForced378345) {
  // Brute force over the published formula: first T with more than 65,535 CTAs.
  std::int64_t first = -1;
  for (std::int64_t T = 1; T <= 400000; ++T)
    if (ref::ctas(T, 22, 512, 128) > 65535) {
      first = T;
      break;
    }
  EXPECT_EQ(first, 378345);
  EXPECT_EQ(ref::ctas(378345, 22, 512, 128), 65536);
  EXPECT_EQ(ref::ctas(378344, 22, 512, 128), 65535);
}

TEST_F(TrtllmGen, SelectedTileSetsFromReferenceNotes) {
  auto e = env("b200", "0.6.11.post2");
  auto fp4 = trtllm_gen::supported_tiles(e.flashinfer->trtllm, "nvfp4", nullptr);
  EXPECT_EQ(fp4, (std::vector<int>{8, 16, 32, 64, 128, 256}));
  EXPECT_EQ(trtllm_gen::supported_tiles(e.flashinfer->trtllm, "mxfp4_bf16", nullptr), (std::vector<int>{8, 16, 32, 64}));
  auto bf16 = trtllm_gen::supported_tiles(e.flashinfer->trtllm, "bf16", nullptr);
  // 1 token, E=256, K=8: avg 0.03125 -> center 8 -> {8,16,32}, default 8.
  EXPECT_EQ(trtllm_gen::compute_selected_tile_n(bf16, 1, 8, 256), (std::set<int>{8, 16, 32}));
  // NVFP4 at large T: {128, 256}, default 128; BF16 at large T: default 64.
  EXPECT_EQ(trtllm_gen::compute_selected_tile_n(fp4, 400000, 22, 512), (std::set<int>{128, 256}));
  EXPECT_EQ(trtllm_gen::default_tile(bf16, 400000, 22, 512), 64);
  // Agreement with the reference over a scan.
  for (std::int64_t T = 1; T < 20000; T += 7) {
    EXPECT_EQ(trtllm_gen::default_tile(fp4, T, 22, 512), ref::default_tile(fp4, T, 22, 512)) << T;
    EXPECT_EQ(trtllm_gen::default_tile(bf16, T, 8, 256), ref::default_tile(bf16, T, 8, 256)) << T;
  }
}

TEST_F(TrtllmGen, GridYBothSidesOfThreshold) {
  auto e = env("b200", "0.6.11.post2");
  EXPECT_FALSE(has(trtllm_gen::check(nemotron_super(378344), e), "GRID_Y_OVERFLOW"));
  auto f = trtllm_gen::check(nemotron_super(378345), e);
  const Finding* g = get(f, "GRID_Y_OVERFLOW");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(*g->value, 65536);
  EXPECT_EQ(*g->limit_value, 65535);
  EXPECT_EQ(g->severity, Severity::error);
  EXPECT_NE(g->upstream.find("getMaxNumCtasInBatchDim"), std::string::npos);
  EXPECT_NE(g->formula.find("65,536"), std::string::npos);
  // 400k tokens (the seed case).
  EXPECT_TRUE(has(trtllm_gen::check(nemotron_super(400000), e), "GRID_Y_OVERFLOW"));
}

TEST_F(TrtllmGen, SegmentedThresholdEqualsBruteForceForSeveralShapes) {
  // For each shape, brute-force the first T whose default-tile grid exceeds 65535, using only
  // the reference, then compare with first_failing over the check's own segments.
  struct Case { const char* quant; std::int64_t E, K; };
  for (Case c : {Case{"nvfp4", 512, 22}, Case{"bf16", 512, 22}, Case{"bf16", 256, 8}, Case{"fp8_per_tensor", 128, 32}}) {
    auto e = env("b200", "0.6.11.post2");
    auto tiles = trtllm_gen::supported_tiles(e.flashinfer->trtllm, c.quant, nullptr);
    std::int64_t brute = -1;
    for (std::int64_t T = 1; T <= 3000000; ++T) {
      if (ref::ctas(T, c.K, c.E, ref::default_tile(tiles, T, c.K, c.E)) > 65535) {
        brute = T;
        break;
      }
    }
    ASSERT_GT(brute, 0) << c.quant;
    LaunchProblem p = nemotron_super(1);
    p.quant = c.quant;
    p.num_experts = p.local_experts = c.E;
    p.top_k = c.K;
    p.gated = true;
    p.activation = "silu";
    p.routing = "renormalize";
    auto fires = [&](std::int64_t t) {
      p.tokens = t;
      return has(trtllm_gen::check(p, e), "GRID_Y_OVERFLOW");
    };
    auto got = first_failing(fires, trtllm_gen::segment_starts(p, e, 1, 3000000), 1, 3000000);
    ASSERT_TRUE(got.has_value()) << c.quant;
    EXPECT_EQ(*got, brute) << c.quant << " E=" << c.E << " K=" << c.K;
  }
}

TEST_F(TrtllmGen, Int32ExpandedTokensBothSides) {
  auto e = env("b200", "0.6.11.post2");
  // 22 * 97,612,893 = 2,147,483,646 <= INT32_MAX < 22 * 97,612,894
  EXPECT_FALSE(has(trtllm_gen::check(nemotron_super(97612893), e), "INT32_OFFSET_OVERFLOW"));
  EXPECT_TRUE(has(trtllm_gen::check(nemotron_super(97612894), e), "INT32_OFFSET_OVERFLOW"));
}

TEST_F(TrtllmGen, ArchGatePerVersion) {
  auto p = nemotron_super(100);
  EXPECT_TRUE(has(trtllm_gen::check(p, env("h100", "0.6.11.post2")), "EMPTY_TACTIC_SET"));
  EXPECT_TRUE(has(trtllm_gen::check(p, env("thor", "0.6.12")), "EMPTY_TACTIC_SET"));
  EXPECT_TRUE(has(trtllm_gen::check(p, env("rtx-pro-6000", "0.6.6")), "EMPTY_TACTIC_SET"));
  EXPECT_FALSE(has(trtllm_gen::check(p, env("rtx-pro-6000", "0.6.7")), "EMPTY_TACTIC_SET"));
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b300", "0.6.6")), "EMPTY_TACTIC_SET"));
}

TEST_F(TrtllmGen, RoutingLimitsBothSides) {
  auto p = nemotron_super(100);
  p.routing = "renormalize";
  p.top_k = 10;
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "EMPTY_TACTIC_SET"));
  p.top_k = 11;  // v0.6.6 renormalize: MaxNumTopExperts = 10
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "EMPTY_TACTIC_SET"));
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.7")), "EMPTY_TACTIC_SET"));
  p.top_k = 33;  // v0.6.7+: MaxSupportedTopExperts = 32
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.7")), "EMPTY_TACTIC_SET"));
  p.top_k = 8;
  p.num_experts = p.local_experts = 2049;
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.11")), "EMPTY_TACTIC_SET"));
}

TEST_F(TrtllmGen, ActivationSupportPerVersion) {
  auto p = nemotron_super(100);
  p.quant = "bf16";  // relu2 (non-gated) through the BF16 launcher
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "ACTIVATION_UNSUPPORTED"));
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.7")), "ACTIVATION_UNSUPPORTED"));
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.8.post1")), "ACTIVATION_UNSUPPORTED"));
  p.quant = "fp8_block128";  // DeepSeek FP8 is Swiglu-only in every version
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.12")), "ACTIVATION_UNSUPPORTED"));
  p.gated = true;
  p.activation = "silu";
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.12")), "ACTIVATION_UNSUPPORTED"));
}

TEST_F(TrtllmGen, StaleTacticTileOnlyFailsWhereLaunchersAreNotBuiltForAllTiles) {
  auto p = nemotron_super(10);  // avg 0.43 -> center 8 -> set {8, 16, 32}
  p.tactic = "tile=256";
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "TILE_UNREGISTERED"));
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.7")), "TILE_UNREGISTERED"));
  p.tactic = "tile=16";
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "TILE_UNREGISTERED"));
  p.tactic = "tile=192";  // not a tile of any launcher before the 0.6.16 nightlies
  EXPECT_TRUE(has(trtllm_gen::check(p, env("b200", "0.6.12")), "TILE_UNREGISTERED"));
}

TEST_F(TrtllmGen, GlobalScaleContractPerVersion) {
  auto p = nemotron_super(1000);
  p.act_global_scale_numel = 512;  // per-expert [num_experts]
  auto f11 = trtllm_gen::check(p, env("b200", "0.6.11"));
  const Finding* s = get(f11, "SCALE_SHAPE_CONTRACT");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->severity, Severity::error);
  EXPECT_NE(s->message.find("globalScale should have shape [1] or [num_tokens]"), std::string::npos);
  EXPECT_NE(s->upstream.find("fp4Quantize.cpp:64"), std::string::npos);
  auto f10 = trtllm_gen::check(p, env("b200", "0.6.10"));
  ASSERT_NE(get(f10, "SCALE_SHAPE_CONTRACT"), nullptr);
  EXPECT_EQ(get(f10, "SCALE_SHAPE_CONTRACT")->severity, Severity::warning);
  p.act_global_scale_numel = 1;
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.11")), "SCALE_SHAPE_CONTRACT"));
  // numel == num_tokens == num_experts: accepted as row-wise -> wrong result.
  p.act_global_scale_numel = 512;
  p.tokens = 512;
  auto fr = trtllm_gen::check(p, env("b200", "0.6.11"));
  ASSERT_NE(get(fr, "SCALE_SHAPE_CONTRACT"), nullptr);
  EXPECT_NE(get(fr, "SCALE_SHAPE_CONTRACT")->message.find("row-wise"), std::string::npos);
}

TEST_F(TrtllmGen, ExpertIdsAndScaleFactsBothSides) {
  auto e = env("b200", "0.6.11.post2");
  auto p = nemotron_super(100);
  p.max_expert_id = 511;
  p.min_expert_id = 0;
  EXPECT_FALSE(has(trtllm_gen::check(p, e), "EXPERT_ID_RANGE"));
  p.max_expert_id = 512;
  EXPECT_TRUE(has(trtllm_gen::check(p, e), "EXPERT_ID_RANGE"));
  p.max_expert_id = 511;
  p.weight_scale_dtype = "ue4m3";
  p.weight_scale_layout = "linear";  // checkpoint layout; shuffle_matrix_sf_a runs at load
  EXPECT_FALSE(has(trtllm_gen::check(p, e), "SCALE_DTYPE_CONTRACT"));
  EXPECT_FALSE(has(trtllm_gen::check(p, e), "LAYOUT_MISMATCH"));
  p.weight_scale_dtype = "ue8m0";
  p.weight_scale_layout = "swizzled_8x4";
  EXPECT_TRUE(has(trtllm_gen::check(p, e), "SCALE_DTYPE_CONTRACT"));
  EXPECT_TRUE(has(trtllm_gen::check(p, e), "LAYOUT_MISMATCH"));
}

TEST_F(TrtllmGen, AutotuneBuckets) {
  // utils.py: pow2-down (<= v0.6.8.post1) and hybrid (v0.6.10+) mappings, tune_max 8192.
  EXPECT_EQ(trtllm_gen::autotune_bucket("pow2_down", 3000, 8192), 2048);
  EXPECT_EQ(trtllm_gen::autotune_bucket("pow2_down", 400000, 8192), 8192);
  EXPECT_EQ(trtllm_gen::autotune_bucket("pow2_down", 1, 8192), 1);
  EXPECT_EQ(trtllm_gen::autotune_bucket("hybrid", 3000, 8192), 3072);
  EXPECT_EQ(trtllm_gen::autotune_bucket("hybrid", 300, 8192), 512);
  EXPECT_EQ(trtllm_gen::autotune_bucket("hybrid", 200, 8192), 256);
  EXPECT_EQ(trtllm_gen::autotune_bucket("hybrid", 5000, 8192), 8192);
  EXPECT_EQ(trtllm_gen::autotune_bucket("hybrid", 0, 8192), 1);
}

TEST_F(TrtllmGen, StaleAutotunedTileAcrossBucketOnlyWithoutAllTileLaunchers) {
  // BF16, E=256, K=8: bucket(3000) = 2048 -> avg 64 -> tuned set {32,64,128}; at T=3000 avg
  // 93.75 -> center 128 -> launchers {64,128}: tile 32 has none in v0.6.6.
  LaunchProblem p = nemotron_super(3000);
  p.quant = "bf16";
  p.num_experts = p.local_experts = 256;
  p.top_k = 8;
  p.gated = true;
  p.activation = "silu";
  p.routing = "renormalize";
  auto f = trtllm_gen::check(p, env("b200", "0.6.6"));
  const Finding* t = get(f, "TILE_UNREGISTERED");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->severity, Severity::warning);
  EXPECT_NE(t->formula.find("bucket(3,000) = 2,048"), std::string::npos) << t->formula;
  // Both sides: at T = 2048 the bucket is T itself.
  p.tokens = 2048;
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.6")), "TILE_UNREGISTERED"));
  // v0.6.7+ builds launchers for all tiles.
  p.tokens = 3000;
  EXPECT_FALSE(has(trtllm_gen::check(p, env("b200", "0.6.7")), "TILE_UNREGISTERED"));
}

// trtllm_fp4_block_scale_moe's int32 num_tokens * hidden_size (hidden_states_scale_vec_size)
// up to v0.6.7.post3, int64 from v0.6.8rc1 (PR #2853). DeepSeek-R1 NVFP4, H = 7168, 8 local
// experts: 299,593 * 7168 = 2,147,482,624 fits, 299,594 * 7168 = 2,147,489,792 wraps (the
// PR's EP32 table: 9,360 x 32 tokens pass, 9,370 x 32 crash). BF16 activations pass no scale.
TEST_F(TrtllmGen, Fp4ScaleVecSizeInt32ProductBothSides) {
  auto api = [](const std::vector<Finding>& v) {
    for (const auto& f : v)
      if (f.id == std::string("INT32_OFFSET_OVERFLOW") && f.stage == "api") return &f;
    return static_cast<const Finding*>(nullptr);
  };
  LaunchProblem p;
  p.num_experts = 256;
  p.local_experts = 8;
  p.top_k = 8;
  p.hidden = 7168;
  p.intermediate = 2048;
  p.gated = true;
  p.activation = "silu";
  p.quant = "nvfp4";
  p.routing = "deepseek";
  for (const char* v : {"0.6.6", "0.6.7", "0.6.7.post3"}) {
    auto e = env("b200", v);
    p.tokens = 299593;
    EXPECT_EQ(api(trtllm_gen::check(p, e)), nullptr) << v;
    p.tokens = 299594;
    const auto findings = trtllm_gen::check(p, e);  // f points into it: keep it alive
    const Finding* f = api(findings);
    ASSERT_NE(f, nullptr) << v;
    EXPECT_EQ(f->value.value_or(0), 2147489792);
    p.tokens = 327680;
    EXPECT_EQ(api(trtllm_gen::check(p, e))->value.value_or(0), 2348810240);
  }
  p.tokens = 327680;
  EXPECT_EQ(api(trtllm_gen::check(p, env("b200", "0.6.8rc1"))), nullptr);
  p.quant = "mxfp4_bf16";
  EXPECT_EQ(api(trtllm_gen::check(p, env("b200", "0.6.7"))), nullptr);
  // The exact threshold search finds the same boundary.
  p.quant = "nvfp4";
  auto e = env("b200", "0.6.7");
  auto first = first_failing([&](std::int64_t t) {
    LaunchProblem q = p;
    q.tokens = t;
    return api(trtllm_gen::check(q, e)) != nullptr;
  }, trtllm_gen::segment_starts(p, e, 1, 400000), 1, 400000);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, 299594);
}
