// CUTLASS fused-MoE candidate tactics vs dispatcher. The SM110 candidate list is re-derived
// here from the loop structure of get_candidate_configs_sm110 (flashinfer
// cutlass_heuristic.cpp, identical v0.6.6..HEAD) and compared with the data table.
#include <gtest/gtest.h>

#include <algorithm>

#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/cutlass_moe_launch.hpp"

using namespace moesim;
using namespace moesim::kernels;

namespace {
models::DeviceTable& devs() {
  static auto t = models::DeviceTable::load(models_dir());
  return t;
}
models::FlashInferProfiles& fis() {
  static auto p = models::FlashInferProfiles::load(models_dir());
  return p;
}
LaunchEnv env(const std::string& d, const std::string& v) {
  LaunchEnv e;
  e.device = &devs().find(d);
  e.flashinfer = &fis().find(v);
  return e;
}
LaunchProblem nano(std::int64_t T, const std::string& quant) {  // Nemotron-3-Nano-like BF16 shape
  LaunchProblem p;
  p.tokens = T;
  p.num_experts = p.local_experts = 128;
  p.top_k = 6;
  p.hidden = 2688;
  p.intermediate = 1856;
  p.gated = false;
  p.activation = "relu2";
  p.quant = quant;
  return p;
}
std::vector<const Finding*> all(const std::vector<Finding>& v, const std::string& id) {
  std::vector<const Finding*> o;
  for (const auto& f : v)
    if (f.id == id) o.push_back(&f);
  return o;
}
}  // namespace

TEST(CutlassMoe, Sm110TableMatchesGeneratorLoop) {
  // for cluster_m in {1,2}: for cluster_n in {1,2}: base {128x128,128x256};
  //   2SM: n==1 adds 128x64, 256x64; always 256x128, 256x256
  //   1SM: n==1 adds 128x32 (+128x16 FP8); always 64x64, 64x128, 64x256, 128x64
  std::vector<std::string> expect;
  for (int cm = 1; cm <= 2; ++cm)
    for (int cn = 1; cn <= 2; ++cn) {
      std::vector<std::string> base = {"128x128x128B", "128x256x128B"};
      if (cm == 2) {
        if (cn == 1) base.insert(base.end(), {"128x64x128B", "256x64x128B"});
        base.insert(base.end(), {"256x128x128B", "256x256x128B"});
      } else {
        if (cn == 1) base.push_back("128x32x128B");
        base.insert(base.end(), {"64x64x128B", "64x128x128B", "64x256x128B", "128x64x128B"});
      }
      for (const auto& t : base) expect.push_back(t + "/" + std::to_string(cm) + "x" + std::to_string(cn) + "x1");
    }
  for (const char* v : {"0.6.6", "0.6.8.post1", "0.6.12"}) {
    auto ts = cutlass_moe::candidate_tactics(fis().find(v), 110, "bf16");
    std::vector<std::string> got;
    for (const auto& t : ts.tactics) got.push_back(t.tile.name + "/" + t.cluster.name());
    EXPECT_EQ(got, expect) << v;
    EXPECT_EQ(ts.module, "fused_moe_100");
    EXPECT_EQ(ts.generator, "sm110");
  }
}

TEST(CutlassMoe, Sm110Bf16With0_6_8post1Has256256128Unregistered) {
  auto f = cutlass_moe::check(nano(1000, "bf16"), env("thor", "0.6.8.post1"));
  bool saw_enum = false, saw_cluster = false;
  for (const Finding* t : all(f, "TILE_UNREGISTERED")) {
    if (t->message.find("Unsupported tile shape config 256256128 for MoE gemm.") != std::string::npos) {
      saw_enum = true;
      EXPECT_NE(t->upstream.find("DEFAULT_CASE line 486"), std::string::npos) << t->upstream;
      EXPECT_NE(t->formula.find("256256128"), std::string::npos);
    }
    if (t->message.find("Unsupported tile (64, 64, 64) and cluster (1, 2, 1) shape combination for arch 100.") != std::string::npos)
      saw_cluster = true;
  }
  EXPECT_TRUE(saw_enum);
  EXPECT_TRUE(saw_cluster);  // the sibling error reported in flashinfer#3134
  // The default (front) tactic 128x128x128B/1x1x1 dispatches, so the set is not empty.
  EXPECT_TRUE(all(f, "EMPTY_TACTIC_SET").empty());
}

TEST(CutlassMoe, Sm100Bf16AllCandidatesDispatch) {
  for (const char* v : {"0.6.6", "0.6.8.post1", "0.6.11.post2", "0.6.12"}) {
    auto ts = cutlass_moe::candidate_tactics(fis().find(v), 100, "bf16");
    ASSERT_FALSE(ts.tactics.empty());
    for (const auto& t : ts.tactics) EXPECT_TRUE(t.registered) << v << " " << t.tile.name << "/" << t.cluster.name() << ": " << t.message;
    auto f = cutlass_moe::check(nano(1000, "bf16"), env("b200", v));
    EXPECT_TRUE(all(f, "TILE_UNREGISTERED").empty()) << v;
  }
}

TEST(CutlassMoe, EmptyTacticSetBothSides) {
  // NVFP4 activations on Hopper: no TMA-WS specialisation and no Ampere FP4 path.
  EXPECT_FALSE(all(cutlass_moe::check(nano(100, "nvfp4"), env("h100", "0.6.11.post2")), "EMPTY_TACTIC_SET").empty());
  EXPECT_TRUE(all(cutlass_moe::check(nano(100, "nvfp4"), env("b200", "0.6.11.post2")), "EMPTY_TACTIC_SET").empty());
  // No JIT module for SM80/SM86.
  EXPECT_FALSE(all(cutlass_moe::check(nano(100, "bf16"), env("a100", "0.6.11.post2")), "EMPTY_TACTIC_SET").empty());
  EXPECT_TRUE(all(cutlass_moe::check(nano(100, "bf16"), env("l40s", "0.6.11.post2")), "EMPTY_TACTIC_SET").empty());
}

TEST(CutlassMoe, Sm120Fp4CandidatesWithoutDispatchCase) {
  // v0.6.8.post1 all_tiles has 128x128x256B and 256x128x128B with no SM120 SHAPE_CASE.
  auto f = cutlass_moe::check(nano(100, "nvfp4"), env("rtx-pro-6000", "0.6.8.post1"));
  std::string msgs;
  for (const Finding* t : all(f, "TILE_UNREGISTERED")) msgs += t->message + "\n";
  EXPECT_NE(msgs.find("128128256"), std::string::npos) << msgs;
  EXPECT_NE(msgs.find("256128128"), std::string::npos) << msgs;
  // v0.6.6's four grouped FP4 tiles all dispatch.
  EXPECT_TRUE(all(cutlass_moe::check(nano(100, "nvfp4"), env("rtx-pro-6000", "0.6.6")), "TILE_UNREGISTERED").empty());
}

TEST(CutlassMoe, Relu2OnAmperePathNeeds0_6_8) {
  // SM12x BF16 runs Ampere-style kernels whose fused epilogue lacked Relu2 before PR #2926.
  EXPECT_FALSE(all(cutlass_moe::check(nano(100, "bf16"), env("gb10", "0.6.7")), "ACTIVATION_UNSUPPORTED").empty());
  EXPECT_TRUE(all(cutlass_moe::check(nano(100, "bf16"), env("gb10", "0.6.8.post1")), "ACTIVATION_UNSUPPORTED").empty());
  // Hopper BF16 uses TMA-WS and a separate activation kernel with Relu2.
  EXPECT_TRUE(all(cutlass_moe::check(nano(100, "bf16"), env("h100", "0.6.7")), "ACTIVATION_UNSUPPORTED").empty());
}

TEST(CutlassMoe, RowsTimesExpertsBothSides) {
  auto p = nano(0, "bf16");
  p.num_experts = p.local_experts = 512;
  p.tokens = 4194303;  // * 512 = 2,147,483,136
  EXPECT_TRUE(all(cutlass_moe::check(p, env("h100", "0.6.11.post2")), "INT32_OFFSET_OVERFLOW").empty());
  p.tokens = 4194304;  // * 512 = 2,147,483,648
  EXPECT_FALSE(all(cutlass_moe::check(p, env("h100", "0.6.11.post2")), "INT32_OFFSET_OVERFLOW").empty());
}

TEST(CutlassMoe, ActGlobalScaleContractBothSides) {
  auto p = nano(100, "nvfp4");
  p.gated = true;
  p.activation = "silu";
  p.act_global_scale_numel = 128;  // == local experts: allowed
  EXPECT_TRUE(all(cutlass_moe::check(p, env("b200", "0.6.11.post2")), "SCALE_SHAPE_CONTRACT").empty());
  p.act_global_scale_numel = 100;  // == tokens: not allowed for the CUTLASS binding
  EXPECT_FALSE(all(cutlass_moe::check(p, env("b200", "0.6.11.post2")), "SCALE_SHAPE_CONTRACT").empty());
  p.act_global_scale_numel = 1;
  p.act_global_scale_dtype = "bf16";
  EXPECT_FALSE(all(cutlass_moe::check(p, env("b200", "0.6.11.post2")), "SCALE_DTYPE_CONTRACT").empty());
  p.act_global_scale_dtype = "f32";
  EXPECT_TRUE(all(cutlass_moe::check(p, env("b200", "0.6.11.post2")), "SCALE_DTYPE_CONTRACT").empty());
}

TEST(CutlassMoe, PredicateSpotChecksFromSource) {
  const auto& c = fis().find("0.6.11.post2").cutlass;
  using models::ClusterShape;
  auto tile = [](const char* s) { return models::parse_cutlass_tile(s, "t"); };
  // SM100: cluster y must be 1.
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x128x128B"), 64, {1, 2, 1}, "bf16", "bf16", false));
  EXPECT_TRUE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x128x128B"), 64, {2, 1, 1}, "bf16", "bf16", false));
  // FP4 needs TileM 128 and TileN in {64,128,256}.
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 100, tile("64x128x128B"), 256, {1, 1, 1}, "fp4", "fp4", false));
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x32x128B"), 256, {1, 1, 1}, "fp4", "fp4", false));
  // FP8 small N only with a 1x1 cluster.
  EXPECT_TRUE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x16x128B"), 128, {1, 1, 1}, "fp8", "fp8", false));
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x16x128B"), 128, {2, 1, 1}, "fp8", "fp8", false));
  // Even cluster x needs N % 64 == 0.
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 100, tile("128x32x128B"), 64, {2, 1, 1}, "bf16", "bf16", false));
  // SM90: 1x2 needs N >= 128.
  EXPECT_FALSE(cutlass_moe::tile_shapes_supported(c, 90, tile("128x64x128B"), 64, {1, 2, 1}, "bf16", "bf16", false));
  EXPECT_TRUE(cutlass_moe::tile_shapes_supported(c, 90, tile("128x128x128B"), 64, {1, 2, 1}, "bf16", "bf16", false));
}
