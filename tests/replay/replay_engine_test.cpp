// Replay engine on in-memory problems: plan order, determinism across thread counts, the
// Triton bf16 variant against the fp64 reference, emulated-memory findings from deliberately
// broken implementations, and first-divergence localisation.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "replay/stage_graph.hpp"
#include "sim/core/error.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::replay {
namespace {

kernels::MoeProblem small_problem(std::int64_t T = 29, std::int64_t K = 3, std::int64_t E = 6, std::int64_t H = 72,
                                  std::int64_t I = 40) {
  kernels::MoeProblem p;
  p.num_tokens = T;
  p.top_k = K;
  p.num_experts = E;
  p.hidden = H;
  p.intermediate = I;
  return p;
}

kernels::VariantSpec triton(int bm = 16, int bn = 32, int bk = 32) {
  kernels::VariantSpec v = kernels::find_variant("triton_bf16");
  v.params["block_m"] = bm;
  v.params["block_n"] = bn;
  v.params["block_k"] = bk;
  return v;
}

TEST(ReplayPlan, TopologicalOrderFollowsBuffers) {
  const auto v = kernels::find_variant("triton_bf16");
  const ReplayPlan plan = build_plan(v);
  std::vector<std::string> ids;
  for (auto i : plan.order) ids.push_back(v.stages[i].id);
  EXPECT_EQ(ids, (std::vector<std::string>{"align", "gemm1", "activation", "gemm2", "finalize"}));
  EXPECT_EQ(plan.external_inputs, (std::vector<std::string>{"hidden_states", "topk_ids", "topk_weights"}));
  EXPECT_NE(plan_to_dot(v, plan).find("s1 -> s2"), std::string::npos);
}

TEST(ReplayPlan, CycleAndBadDescriptionsAreInputErrors) {
  kernels::VariantSpec v = kernels::find_variant("reference_fp64");
  v.stages[0].inputs.push_back("output");  // gemm1 now depends on finalize
  EXPECT_THROW(build_plan(v), InputError);
  const auto dir = std::filesystem::temp_directory_path() / "moesim_replay_test";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad.json";
  std::ofstream(bad) << R"({"id":"bad","family":"triton_fused_moe","quant":"bf16","fidelity":"exact",)"
                        R"("stages":[{"id":"a","kind":"gemm1","inputs":[],"outputs":["x"]}]})";
  try {
    kernels::load_variant(bad.string());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/fidelity"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::find_variant("no_such_variant"), InputError);
}

TEST(ReplayEngine, TritonTracksReferenceAndIsDeterministicAcrossThreads) {
  const auto p = small_problem();
  const CallInputs call = synth_call(p, 42);
  const SyntheticWeights w(p, 7, 1.0);
  const auto spec = triton();
  ReplayOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const ReplayResult a = run_replay(spec, call, w, one);
  const ReplayResult b = run_replay(spec, call, w, two);
  EXPECT_TRUE(a.findings.empty()) << a.findings.front().id << ": " << a.findings.front().formula;
  for (const auto& [name, buf] : a.buffers) EXPECT_EQ(buf.bytes(), b.buffers.at(name).bytes()) << name;

  const ReplayResult r = run_replay(kernels::find_variant("reference_fp64"), call, w, two);
  const ReplayResult r1 = run_replay(kernels::find_variant("reference_fp64"), call, w, one);
  EXPECT_EQ(r.output().bytes(), r1.output().bytes());
  const ReplayDiff d = diff_replays(a, r, call);
  ASSERT_TRUE(d.output_compared);
  // bf16 storage of every intermediate: a few bf16 ulps of relative error, never more.
  EXPECT_LT(d.output.rel_l2, 2e-2);
  EXPECT_GT(d.output.rel_l2, 0.0);
  EXPECT_EQ(d.output.nan_a, 0);
  EXPECT_EQ(d.output.count, p.num_tokens * p.hidden);
  // Stages without a counterpart (align) are listed but not compared.
  EXPECT_FALSE(d.stages.front().compared);
  EXPECT_EQ(d.first_divergence, std::optional<std::string>("gemm1"));
  // Per-expert breakdown covers every routed slot of gemm1_out.
  std::int64_t slots = 0;
  for (const auto& g : d.stages[1].diff.per_expert) slots += g.count;
  EXPECT_EQ(slots, p.slots() * p.n1());
}

TEST(ReplayEngine, DotChainHypothesesDivergeAtGemm1) {
  // Crafted so the K order is visible in bf16: tile 0 (k < 32) sums to exactly 1 + 3*2^-8
  // (a bf16 tie, even neighbour above); tile 1 adds -2^-24 * 63/64.
  //  acc_chained: the k16 step truncates the small product to -2^-25 against C's exponent,
  //    RZ gives 1 + 3*2^-8 - 2^-23, below the tie -> bf16 0x3F81.
  //  tile_then_add: fp32 RNE add keeps 1 + 3*2^-8, the tie rounds to even -> 0x3F82.
  kernels::MoeProblem p = small_problem(1, 1, 1, 64, 16);
  CallInputs call;
  call.problem = p;
  call.hidden_states.assign(64, 0);
  call.hidden_states[0] = 0x3F80;   // 1
  call.hidden_states[1] = 0x3C40;   // 3 * 2^-8
  call.hidden_states[32] = 0xB380;  // -2^-24
  call.topk_ids = {0};
  call.topk_weights = {1.0f};
  std::vector<std::uint16_t> w13(32 * 64, 0), w2(64 * 16, 0);
  for (int n = 0; n < 32; ++n) {
    w13[n * 64 + 0] = 0x3F80;
    w13[n * 64 + 1] = 0x3F80;
    w13[n * 64 + 32] = 0x3F7C;  // 63/64
  }
  const MemoryWeights w(1, 32, 64, 16, w13, w2);
  auto chained = triton(16, 32, 32);
  auto tiled = chained;
  tiled.params["dot_chain"] = "tile_then_add";
  const ReplayResult a = run_replay(chained, call, w), b = run_replay(tiled, call, w);
  EXPECT_EQ(a.stage_buffer("gemm1")->data<std::uint16_t>()[0], 0x3F81);
  EXPECT_EQ(b.stage_buffer("gemm1")->data<std::uint16_t>()[0], 0x3F82);
  const ReplayDiff same = diff_replays(a, run_replay(chained, call, w), call);
  EXPECT_FALSE(same.first_divergence.has_value());
  EXPECT_DOUBLE_EQ(same.output.identical_pct(), 100.0);
  const ReplayDiff d = diff_replays(a, b, call);
  ASSERT_TRUE(d.first_divergence.has_value());
  EXPECT_EQ(*d.first_divergence, "gemm1");
  EXPECT_TRUE(d.stages[0].diff.bit_identical());  // align
  EXPECT_EQ(d.stages[1].diff.identical, 0);
}

TEST(ReplayEngine, TileConfigDoesNotChangeBitsWhenChained) {
  // With the accumulator chained through every k16 step, BLOCK_M/N/K change only which
  // program computes an element, never its value.
  const auto p = small_problem();
  const CallInputs call = synth_call(p, 5);
  const SyntheticWeights w(p, 5, 1.0);
  const ReplayResult a = run_replay(triton(16, 32, 32), call, w), b = run_replay(triton(64, 64, 128), call, w);
  EXPECT_EQ(a.output().bytes(), b.output().bytes());
}

// Wraps the real implementation and breaks one stage.
class Broken final : public kernels::VariantImpl {
 public:
  enum class Fault { SkipFinalizeRows, CorruptSortedIds };
  Broken(const kernels::VariantSpec& spec, Fault f) : inner_(kernels::make_variant_impl(spec)), fault_(f) {}
  void run_stage(kernels::StageContext& ctx) override {
    if (fault_ == Fault::SkipFinalizeRows && ctx.stage.kind == "finalize") {
      // A finalize that writes only even token rows (the CuteDSL `out` rebinding class).
      auto& in = ctx.in(ctx.stage.inputs.at(0));
      auto& out = ctx.create(ctx.stage.outputs.at(0), kernels::ElemType::BF16, {ctx.problem.num_tokens, ctx.problem.hidden});
      for (std::int64_t t = 0; t < ctx.problem.num_tokens; t += 2)
        for (std::int64_t h = 0; h < ctx.problem.hidden; ++h)
          out.set<std::uint16_t>(t * ctx.problem.hidden + h, in.get<std::uint16_t>(t * ctx.problem.top_k * ctx.problem.hidden + h, ctx.log, ctx.stage.id), ctx.log, ctx.stage.id);
      return;
    }
    inner_->run_stage(ctx);
    if (fault_ == Fault::CorruptSortedIds && ctx.stage.kind == "route_align") {
      // An index map that points one row past the valid slots' storage: slot id T*K-1+1000.
      auto& sorted = ctx.in(ctx.stage.outputs.at(0));
      sorted.set<std::int32_t>(0, -5, ctx.log, ctx.stage.id);  // negative id passes token_mask
    }
  }

 private:
  std::unique_ptr<kernels::VariantImpl> inner_;
  Fault fault_;
};

TEST(EmulatedMemory, UnwrittenOutputIsAFinding) {
  const auto p = small_problem(9, 2, 4, 32, 16);
  const CallInputs call = synth_call(p, 1);
  const SyntheticWeights w(p, 1, 1.0);
  const auto spec = triton();
  Broken impl(spec, Broken::Fault::SkipFinalizeRows);
  const ReplayResult r = run_replay(spec, impl, call, w);
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.id, "OUTPUT_NOT_WRITTEN");
  EXPECT_EQ(f.stage, "finalize");
  EXPECT_EQ(f.buffer, "output");
  EXPECT_EQ(f.count, 4 * p.hidden);        // tokens 1, 3, 5, 7
  EXPECT_EQ(f.index, 1 * p.hidden);        // first element of token 1
  EXPECT_EQ(f.limit_value, p.num_tokens * p.hidden);
  // Poison survives in the unwritten rows and shows up as NaN in a diff.
  const auto ok = run_replay(spec, call, w);
  const ReplayDiff d = diff_replays(r, ok, call);
  EXPECT_EQ(d.output.nan_a, 4 * p.hidden);
  EXPECT_EQ(*d.first_divergence, "finalize");
}

TEST(EmulatedMemory, OutOfBoundsIndexIsAFindingNotACrash) {
  const auto p = small_problem(9, 2, 4, 32, 16);
  const CallInputs call = synth_call(p, 1);
  const SyntheticWeights w(p, 1, 1.0);
  const auto spec = triton();
  Broken impl(spec, Broken::Fault::CorruptSortedIds);
  const ReplayResult r = run_replay(spec, impl, call, w);
  // Row id -5 passes token_mask (-5 < T*K). GEMM1 reads A row -5 // top_k (Triton integer
  // division truncates: -2) and stores C row -5; GEMM2 (top_k = 1) reads act_out row -5 and
  // stores gemm2_out row -5. Every access is a finding with its element index.
  auto has = [&](const char* stage, const char* buffer, std::int64_t index) {
    for (const auto& f : r.findings)
      if (f.id == "EMULATED_OOB_ACCESS" && f.stage == stage && f.buffer == buffer && f.index == index) return true;
    return false;
  };
  EXPECT_TRUE(has("gemm1", "hidden_states", -2 * p.hidden));
  EXPECT_TRUE(has("gemm1", "gemm1_out", -5 * p.n1()));
  EXPECT_TRUE(has("gemm2", "act_out", -5 * p.intermediate));
  EXPECT_TRUE(has("gemm2", "gemm2_out", -5 * p.hidden));
  // The slot that row 0 should have held is never written: poison stays there.
  bool unwritten = false;
  for (const auto& f : r.findings) unwritten |= f.id == "OUTPUT_NOT_WRITTEN" && f.stage == "gemm1";
  EXPECT_TRUE(unwritten);
}

TEST(EmulatedMemory, LogIsBoundedAndOrdered) {
  kernels::MemoryLog log(3);
  kernels::EmuBuffer b("x", kernels::ElemType::F32, {4});
  for (int i = 100; i > 0; --i) b.get<float>(3 + i, log, "s");
  const auto ev = log.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].index, 4);
  EXPECT_EQ(ev[2].index, 6);
  EXPECT_EQ(log.total(), 100);
  EXPECT_TRUE(std::isnan(b.get<float>(-1, log, "s")));
}

TEST(Diff, UlpHistogramAndCounts) {
  kernels::EmuBuffer a("a", kernels::ElemType::BF16, {1, 4}), b("b", kernels::ElemType::BF16, {1, 4});
  const std::uint16_t av[] = {0x3F80, 0x3F81, 0x3F84, 0x7FFF};
  const std::uint16_t bv[] = {0x3F80, 0x3F80, 0x3F80, 0x3F80};
  std::memcpy(a.mutable_data<std::uint16_t>(), av, 8);
  std::memcpy(b.mutable_data<std::uint16_t>(), bv, 8);
  const BufferDiff d = diff_buffers(a, b, RowMap{});
  EXPECT_EQ(d.identical, 1);
  EXPECT_EQ(d.ulp_hist[0], 1);
  EXPECT_EQ(d.ulp_hist[1], 1);  // 1 ulp
  EXPECT_EQ(d.ulp_hist[3], 1);  // 4 ulps -> (2,4]
  EXPECT_EQ(d.ulp_hist[kUlpBuckets - 1], 1);
  EXPECT_EQ(d.nan_a, 1);
  EXPECT_EQ(d.first_mismatch, 1);
  EXPECT_DOUBLE_EQ(d.max_abs, 4.0 / 128.0);
}

}  // namespace
}  // namespace moesim::replay
