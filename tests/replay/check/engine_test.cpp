// `moesim check` engine: the seed cases of issue 5 and each finding id on both sides of its
// threshold at workload level.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "replay/check/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

using namespace moesim;
using namespace moesim::check;
using kernels::Finding;
using kernels::Severity;

namespace {
const CheckEngine& engine() {
  static CheckEngine e(models_dir());
  return e;
}
traces::ModelShape nemotron_super() {
  traces::ModelShape m;
  m.name = "nemotron-3-super";
  m.num_experts = 512;
  m.top_k = 22;
  m.hidden = 1024;
  m.intermediate = 2688;
  m.activation = "relu2";
  m.gated = false;
  m.quant = "nvfp4";
  return m;
}
traces::ModelShape deepseek() {
  traces::ModelShape m;
  m.num_experts = 256;
  m.top_k = 8;
  m.hidden = 7168;
  m.intermediate = 2048;
  m.quant = "bf16";
  return m;
}
CheckOptions opts(const std::string& dev, const std::string& fi, const std::string& backend) {
  CheckOptions o;
  o.devices = {dev};
  if (!fi.empty()) o.flashinfer = {fi};
  o.backends = {backend};
  return o;
}
std::vector<const Finding*> find(const CheckReport& r, const std::string& id) {
  std::vector<const Finding*> v;
  for (const auto& f : r.findings)
    if (f.id == id) v.push_back(&f);
  return v;
}
// Independent brute force over the published TRTLLM-gen formula with the NVFP4 default tile.
std::int64_t brute_grid_threshold_nvfp4(std::int64_t E, std::int64_t K) {
  const std::vector<int> tiles = {8, 16, 32, 64, 128, 256};
  for (std::int64_t T = 1;; ++T) {
    float avg = static_cast<float>(T * K) / static_cast<float>(E);
    int n = static_cast<int>(std::ceil(avg)), c = 1;
    while (c < n) c *= 2;
    c = std::min(std::max(c, tiles.front()), tiles.back());
    auto it = std::find(tiles.begin(), tiles.end(), c);
    const int tile = it == tiles.begin() ? c : *std::prev(it);
    std::int64_t rem = T * K, ctas = std::min(E, rem);
    rem -= ctas;
    if (rem > 0) ctas += rem / tile;
    if (ctas > 65535) return T;
  }
}
}  // namespace

TEST(CheckEngine, SeedGridYAt400kForNemotron3SuperWithExactThreshold) {
  auto w = shape_only_workload(nemotron_super(), 400000);
  auto o = opts("b200", "0.6.11.post2", "flashinfer_trtllm");
  o.threshold = true;
  auto r = engine().run(w, o);
  auto g = find(r, "GRID_Y_OVERFLOW");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0]->severity, Severity::error);
  EXPECT_EQ(*g[0]->value, 69258);  // 512 + (8,800,000 - 512) / 128
  ASSERT_TRUE(g[0]->first_failing_tokens.has_value());
  EXPECT_EQ(*g[0]->first_failing_tokens, 378345);
  EXPECT_EQ(*g[0]->first_failing_tokens, brute_grid_threshold_nvfp4(512, 22));
  // The empirical IMA region (vLLM #43599) is reported too, labelled empirical.
  auto emp = find(r, "EMPIRICAL_CRASH_REGION");
  ASSERT_EQ(emp.size(), 1u);
  EXPECT_EQ(emp[0]->basis, "empirical");
  EXPECT_EQ(*emp[0]->first_failing_tokens, 305000);
  EXPECT_TRUE(r.has_error());
}

TEST(CheckEngine, GridYNotBelowThreshold) {
  auto r = engine().run(shape_only_workload(nemotron_super(), 378344), opts("b200", "0.6.11.post2", "flashinfer_trtllm"));
  EXPECT_TRUE(find(r, "GRID_Y_OVERFLOW").empty());
}

TEST(CheckEngine, EmpiricalRegionBothSides) {
  auto o = opts("b200", "0.6.11.post2", "flashinfer_trtllm");
  EXPECT_TRUE(find(engine().run(shape_only_workload(nemotron_super(), 304999), o), "EMPIRICAL_CRASH_REGION").empty());
  EXPECT_FALSE(find(engine().run(shape_only_workload(nemotron_super(), 305000), o), "EMPIRICAL_CRASH_REGION").empty());
}

TEST(CheckEngine, SeedSm110Bf16Flashinfer0_6_8post1TileUnregistered256256128) {
  auto m = deepseek();
  m.quant = "bf16";
  auto r = engine().run(shape_only_workload(m, 4096), opts("thor", "0.6.8.post1", "flashinfer_cutlass"));
  bool saw = false;
  for (const Finding* f : find(r, "TILE_UNREGISTERED"))
    saw = saw || f->message.find("Unsupported tile shape config 256256128 for MoE gemm.") != std::string::npos;
  EXPECT_TRUE(saw);
  auto kb = find(r, "KNOWN_BAD_VERSION");
  ASSERT_FALSE(kb.empty());
  EXPECT_NE(kb[0]->upstream.find("#3134"), std::string::npos);
  // Known-bad both sides: SM100 has no such entry.
  EXPECT_TRUE(find(engine().run(shape_only_workload(m, 4096), opts("b200", "0.6.8.post1", "flashinfer_cutlass")), "KNOWN_BAD_VERSION").empty());
}

TEST(CheckEngine, SeedGlobalScaleNumExpertsUnder0_6_11) {
  traces::Trace t;
  t.model = nemotron_super();
  t.context.device = "b200";
  traces::MoeCall c;
  c.num_tokens = 1000;
  traces::Tensor gs;
  gs.dtype = "f32";
  gs.shape = {512};
  traces::QTensor h;
  h.data.dtype = "e2m1x2";
  h.global_scale = gs;
  c.hidden_states = h;
  t.calls.push_back(c);
  auto w = workload_from_trace(t);
  ASSERT_EQ(*w.act_global_scale_numel, 512);
  auto r11 = engine().run(w, opts("b200", "0.6.11", "flashinfer_trtllm"));
  auto s11 = find(r11, "SCALE_SHAPE_CONTRACT");
  ASSERT_EQ(s11.size(), 1u);
  EXPECT_EQ(s11[0]->severity, Severity::error);
  auto r10 = engine().run(w, opts("b200", "0.6.10", "flashinfer_trtllm"));
  auto s10 = find(r10, "SCALE_SHAPE_CONTRACT");
  ASSERT_EQ(s10.size(), 1u);
  EXPECT_EQ(s10[0]->severity, Severity::warning);
  // A scalar global scale satisfies every version.
  t.calls[0].hidden_states->global_scale->shape = {1};
  EXPECT_TRUE(find(engine().run(workload_from_trace(t), opts("b200", "0.6.11", "flashinfer_trtllm")), "SCALE_SHAPE_CONTRACT").empty());
}

TEST(CheckEngine, SeedChunkedVsUnchunkedPerVllmRevision) {
  auto w = shape_only_workload(nemotron_super(), 400000);
  auto o = opts("b200", "0.6.11.post2", "flashinfer_trtllm");
  o.framework = "vllm";
  o.framework_explicit = true;
  o.parallel.mode = dispatch::Mode::deepep_ht;  // all2all -> TrtLlmNvFp4ExpertsModular
  // Before #43599 (V0): one call of 400k -> grid.y overflow + empirical IMA region.
  o.framework_revision = "v0";
  auto r0 = engine().run(w, o);
  EXPECT_FALSE(find(r0, "GRID_Y_OVERFLOW").empty());
  EXPECT_FALSE(find(r0, "EMPIRICAL_CRASH_REGION").empty());
  // #43599: chunks of min(300000, 378344) -> 300,000 + 100,000: neither hazard.
  o.framework_revision = "pr43599";
  auto r1 = engine().run(w, o);
  EXPECT_TRUE(find(r1, "GRID_Y_OVERFLOW").empty());
  EXPECT_TRUE(find(r1, "EMPIRICAL_CRASH_REGION").empty());
  bool noted = false;
  for (const auto& n : r1.notes) noted = noted || n.find("300,000") != std::string::npos;
  EXPECT_TRUE(noted);
  // The monolithic class (no all2all) never chunks, even at #43599.
  o.parallel.mode = dispatch::Mode::none;
  EXPECT_FALSE(find(engine().run(w, o), "GRID_Y_OVERFLOW").empty());
}

TEST(CheckEngine, TritonChunkingPerRevisionAndEnv) {
  auto m = deepseek();
  auto w = shape_only_workload(m, 100000);
  auto o = opts("h100", "", "triton");
  o.framework = "vllm";
  o.framework_explicit = true;
  o.framework_revision = "pre-34279";  // chunks of 16,384: offsets stay below 2^31
  EXPECT_TRUE(find(engine().run(w, o), "INT32_OFFSET_OVERFLOW").empty());
  w.context.env["VLLM_FUSED_MOE_CHUNK_SIZE"] = "65536";  // (65536*8-1)*7168 > 2^31
  EXPECT_FALSE(find(engine().run(w, o), "INT32_OFFSET_OVERFLOW").empty());
  w.context.env["VLLM_FUSED_MOE_CHUNK_SIZE"] = "37449";  // (37449*8-1)*7168 = 2,147,468,288
  EXPECT_TRUE(find(engine().run(w, o), "INT32_OFFSET_OVERFLOW").empty());
  w.context.env["VLLM_FUSED_MOE_CHUNK_SIZE"] = "banana";
  EXPECT_THROW(engine().run(w, o), InputError);
}

TEST(CheckEngine, ExpertIdRangeFromTraceBothSides) {
  traces::Trace t;
  t.model = deepseek();
  t.context.device = "h100";
  traces::MoeCall c;
  c.num_tokens = 2;
  c.topk_ids = {0, 1, 2, 3, 4, 5, 6, 255, 8, 9, 10, 11, 12, 13, 14, 15};
  t.calls.push_back(c);
  auto o = opts("h100", "0.6.11.post2", "flashinfer_cutlass");
  EXPECT_TRUE(find(engine().run(workload_from_trace(t), o), "EXPERT_ID_RANGE").empty());
  t.calls[0].topk_ids[7] = 256;
  EXPECT_FALSE(find(engine().run(workload_from_trace(t), o), "EXPERT_ID_RANGE").empty());
}

TEST(CheckEngine, LayoutAndScaleDtypeFromTraceWeightsBothSides) {
  traces::Trace t;
  t.model = nemotron_super();
  t.model.gated = true;
  t.model.activation = "silu";
  traces::MoeCall c;
  c.num_tokens = 64;
  t.calls.push_back(c);
  t.weights.present = true;
  t.weights.w13_shape = {512, 5376, 512};
  t.weights.has_scales = true;
  t.weights.scale_dtype = "ue4m3";
  t.weights.scale_layout = "swizzled_128x4";  // the tag synth/replay/quantize write
  auto o = opts("b200", "0.6.11.post2", "flashinfer_cutlass");
  auto r = engine().run(workload_from_trace(t), o);
  EXPECT_TRUE(find(r, "LAYOUT_MISMATCH").empty());
  EXPECT_TRUE(find(r, "SCALE_DTYPE_CONTRACT").empty());
  t.weights.scale_layout = "linear";  // checkpoint layout (interleaved at load): not a mismatch
  r = engine().run(workload_from_trace(t), o);
  EXPECT_TRUE(find(r, "LAYOUT_MISMATCH").empty());
  t.weights.scale_layout = "128x4";  // not a vocabulary tag: bad input, not a silent pass
  EXPECT_THROW(engine().run(workload_from_trace(t), o), InputError);
  t.weights.scale_layout = "swizzled_8x4";
  t.weights.scale_dtype = "ue8m0";
  r = engine().run(workload_from_trace(t), o);
  EXPECT_FALSE(find(r, "LAYOUT_MISMATCH").empty());
  EXPECT_FALSE(find(r, "SCALE_DTYPE_CONTRACT").empty());
}

TEST(CheckEngine, DispatchFeedsKernelTokensAndSyntheticWorstCases) {
  // 8 DP ranks x 50k tokens all-gathered: the kernel sees 400k on every EP rank with 64 local experts.
  traces::Trace t;
  t.model = nemotron_super();
  for (int i = 0; i < 1; ++i) {
    traces::MoeCall c;
    c.num_tokens = 50000;
    t.calls.push_back(c);
  }
  auto w = workload_from_trace(t);
  w.calls[0].per_rank_tokens = std::vector<std::int64_t>(8, 50000);
  auto o = opts("b200", "0.6.11.post2", "flashinfer_trtllm");
  o.parallel.mode = dispatch::Mode::allgather;
  o.parallel.ep = o.parallel.dp = 8;
  auto r = engine().run(w, o);
  auto g = find(r, "GRID_Y_OVERFLOW");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(*g[0]->tokens, 400000);
  // Synthetic autotune warm-up: 8 ranks at max_num_tokens 50k, even if the trace holds less.
  auto w2 = shape_only_workload(nemotron_super(), 100);
  w2.context.max_num_batched_tokens = 50000;
  auto r2 = engine().run(w2, o);
  ASSERT_EQ(find(r2, "GRID_Y_OVERFLOW").size(), 1u);
  bool synthetic = false;
  for (const auto& [k, v] : find(r2, "GRID_Y_OVERFLOW")[0]->details) synthetic = synthetic || v.find("profile run") != std::string::npos || v.find("warm-up") != std::string::npos;
  EXPECT_TRUE(synthetic);
}

TEST(CheckEngine, EveryVariantDeviceVersionRuns) {
  auto o = opts("all", "all", "all");
  auto r = engine().run(shape_only_workload(nemotron_super(), 400000), o);
  // 4 FlashInfer families x 11 devices x 56 modelled releases (v0.6.6 .. v0.6.18rc7 in `git tag`),
  // less CUTLASS on the 3 SM90 devices at the 19 releases whose SM90 tables are not read
  // (0.6.16rc1-rc5, 0.6.16, .post1, .post2, 0.6.17rc1-rc4, 0.6.18rc1-rc7), + triton x 11 devices
  // + the engine-side families (models/launch) x 11 devices.
  EXPECT_EQ(r.targets.size(), 4u * 11u * 56u - 3u * 19u + 11u + engine().launch_families().families.size() * 11u);
  // In a sweep, "no kernel for this device/quant" is info (Triton has no FP4 path); named
  // explicitly, the same variant is an error.
  for (const auto& f : r.findings) {
    if (f.kernel == "triton" && f.id == "EMPTY_TACTIC_SET") {
      EXPECT_EQ(f.severity, Severity::info);
    }
  }
  auto r2 = engine().run(shape_only_workload(nemotron_super(), 10), opts("b200", "0.6.11.post2", "triton"));
  ASSERT_EQ(find(r2, "EMPTY_TACTIC_SET").size(), 1u);
  EXPECT_EQ(find(r2, "EMPTY_TACTIC_SET")[0]->severity, Severity::error);
}

TEST(CheckEngine, BadOptionsAreInputErrors) {
  auto w = shape_only_workload(nemotron_super(), 10);
  EXPECT_THROW(engine().run(w, opts("mi300x", "0.6.11", "all")), InputError);
  EXPECT_THROW(engine().run(w, opts("b200", "0.2.5", "all")), InputError);  // before the first fused-MoE release
  EXPECT_THROW(engine().run(w, opts("b200", "0.6.11", "marlin")), InputError);
  CheckOptions o = opts("b200", "0.6.11", "all");
  o.framework_revision = "nope";
  EXPECT_THROW(engine().run(w, o), InputError);
  CheckOptions nodev;
  EXPECT_THROW(engine().run(w, nodev), InputError);
  auto bad = nemotron_super();
  bad.top_k = 0;
  EXPECT_THROW(engine().run(shape_only_workload(bad, 10), opts("b200", "0.6.11", "all")), InputError);
  bad = nemotron_super();
  bad.quant = "int3";
  EXPECT_THROW(engine().run(shape_only_workload(bad, 10), opts("b200", "0.6.11", "all")), InputError);
}

TEST(CheckEngine, FindingCarriesAllFields) {
  auto o = opts("b200", "0.6.11.post2", "flashinfer_trtllm");
  o.threshold = true;
  auto r = engine().run(shape_only_workload(nemotron_super(), 400000), o);
  auto g = find(r, "GRID_Y_OVERFLOW");
  ASSERT_EQ(g.size(), 1u);
  // Every field a report renders is filled (rendering: tests/reports/finding_report_test.cpp).
  const auto& f = *g[0];
  for (const std::string* v : {&f.id, &f.kernel, &f.stage, &f.formula, &f.limit, &f.upstream, &f.device, &f.library_version})
    EXPECT_FALSE(v->empty());
  EXPECT_EQ(f.severity, kernels::Severity::error);
  ASSERT_TRUE(f.first_failing_tokens.has_value());
  EXPECT_EQ(*f.first_failing_tokens, 378345);
}

TEST(CheckEngine, SglangInt32OffsetsBeforePr4727BothSides) {
  // SGLang's fused_moe has no MoE-level chunking; before #4727 offs_token was int32:
  // (M*8 - 1) * 7168 > 2^31 - 1 first at M = 37,450 for DeepSeek-V3 (the "~37k" report).
  auto o = opts("h100", "", "triton");
  o.framework = "sglang";
  o.framework_explicit = true;
  o.framework_revision = "pre-4727";
  EXPECT_TRUE(find(engine().run(shape_only_workload(deepseek(), 37449), o), "INT32_OFFSET_OVERFLOW").empty());
  auto r = engine().run(shape_only_workload(deepseek(), 37450), o);
  ASSERT_FALSE(find(r, "INT32_OFFSET_OVERFLOW").empty());
  EXPECT_EQ(find(r, "INT32_OFFSET_OVERFLOW")[0]->stage, "gemm2");
  o.framework_revision = "s0";
  EXPECT_TRUE(find(engine().run(shape_only_workload(deepseek(), 100000), o), "INT32_OFFSET_OVERFLOW").empty());
  // Threshold search finds the same boundary.
  o.framework_revision = "pre-4727";
  o.threshold = true;
  auto rt = engine().run(shape_only_workload(deepseek(), 50000), o);
  ASSERT_FALSE(find(rt, "INT32_OFFSET_OVERFLOW").empty());
  EXPECT_EQ(*find(rt, "INT32_OFFSET_OVERFLOW")[0]->first_failing_tokens, 37450);
}

// Known-bad rows are scoped: no TRTLLM-gen row on a device whose arch gate rejects the kernel
// (H100: major 9; the route-map row covers 0.6.6 .. 0.6.16rc5 on every device), both sides.
TEST(CheckEngine, KnownBadNotOnDevicesWithoutTheKernel) {
  auto w = shape_only_workload(nemotron_super(), 1024);
  auto on = engine().run(w, opts("b200", "0.6.12", "flashinfer_trtllm"));
  auto off = engine().run(w, opts("h100", "0.6.12", "flashinfer_trtllm"));
  EXPECT_FALSE(find(on, "KNOWN_BAD_VERSION").empty());
  EXPECT_TRUE(find(off, "KNOWN_BAD_VERSION").empty());
  // The arch gate itself is still reported on H100 (error when named).
  EXPECT_FALSE(find(off, "EMPTY_TACTIC_SET").empty());
}

// Conditions: the per-token tile-192 row (flashinfer#4486) needs --trait per_token_scale=1 and
// T*K/local_E > 32 (tile 192 in computeSelectedTileN's set), v0.6.16rc5 <= v < v0.6.18rc4, SM100/103.
TEST(CheckEngine, KnownBadConditionsTraitAndAvgTokens) {
  auto entry = [](const CheckReport& r, const std::string& id) {
    for (const Finding* f : find(r, "KNOWN_BAD_VERSION"))
      for (const auto& d : f->details)
        if (d.first == "entry" && d.second == id) return true;
    return false;
  };
  const std::string id = "fi-4486-trtllm-nvfp4-tile192-per-token";
  auto o = opts("b200", "0.6.17", "flashinfer_trtllm");
  // E=512, K=22: T*K/E > 32 <=> T > 744.7; T = 745 -> 32.01, T = 744 -> 31.97.
  EXPECT_FALSE(entry(engine().run(shape_only_workload(nemotron_super(), 745), o), id));  // no trait
  o.traits["per_token_scale"] = "1";
  EXPECT_TRUE(entry(engine().run(shape_only_workload(nemotron_super(), 745), o), id));
  EXPECT_FALSE(entry(engine().run(shape_only_workload(nemotron_super(), 744), o), id));
  o.flashinfer = {"0.6.18rc4"};
  EXPECT_FALSE(entry(engine().run(shape_only_workload(nemotron_super(), 745), o), id));
  o.flashinfer = {"0.6.16rc4"};
  EXPECT_FALSE(entry(engine().run(shape_only_workload(nemotron_super(), 745), o), id));
}

// Releases whose tables are not read are refused loudly, never checked with borrowed tables.
TEST(CheckEngine, UnmodelledReleasesAreNotedNotChecked) {
  auto r = engine().run(shape_only_workload(nemotron_super(), 400000), opts("b200", "0.5.0", "flashinfer_trtllm"));
  EXPECT_TRUE(r.findings.empty());
  bool noted = false;
  for (const auto& n : r.notes) noted = noted || (n.find("not modelled") != std::string::npos && n.find("0.5.0") != std::string::npos);
  EXPECT_TRUE(noted);
  auto r2 = engine().run(shape_only_workload(nemotron_super(), 400000), opts("b200", "0.2.7", "flashinfer_trtllm"));
  bool absent = false;
  for (const auto& n : r2.notes) absent = absent || n.find("not in these FlashInfer releases") != std::string::npos;
  EXPECT_TRUE(absent);
}
