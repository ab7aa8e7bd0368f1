// Engine-side launch families (models/launch/*.json through sim/kernels/launch_family.*):
// revision selection and inheritance, every family evaluable at every revision, and each
// hazard's exact first failing token count against a brute-force scan of the upstream
// formula written out independently here (not read from the data file).
#include <gtest/gtest.h>

#include <climits>

#include "models/lib/device.hpp"
#include "models/lib/launch_family.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/cutlass_experts_launch.hpp"
#include "sim/kernels/deepgemm_moe_launch.hpp"
#include "sim/kernels/gguf_moe_launch.hpp"
#include "sim/kernels/launch_family.hpp"
#include "sim/kernels/marlin_moe_launch.hpp"
#include "sim/kernels/moe_align_launch.hpp"
#include "sim/kernels/moe_fused_mul_sum_launch.hpp"
#include "sim/kernels/moe_wna16_launch.hpp"
#include "sim/kernels/threshold.hpp"

namespace moesim::kernels {
namespace {

struct Fixture {
  launch::FamilyTable table = models::load_launch_families(models_dir());
  models::DeviceTable devices = models::DeviceTable::load(models_dir());
  LaunchEnv env(const std::string& dev, const std::string& release) const {
    LaunchEnv e;
    e.device = &devices.find(dev);
    e.launch_families = &table;
    if (!release.empty()) e.releases["vllm"] = release;
    return e;
  }
};

LaunchProblem shape(std::int64_t e, std::int64_t el, std::int64_t k, std::int64_t h, const std::string& quant) {
  LaunchProblem p;
  p.num_experts = e;
  p.local_experts = el;
  p.top_k = k;
  p.hidden = h;
  p.intermediate = 1024;
  p.quant = quant;
  return p;
}

bool fires(const std::vector<Finding>& fs, const std::string& stage) {
  for (const auto& f : fs)
    if (f.stage == stage && f.severity == Severity::error) return true;
  return false;
}

// Smallest T in [1, hi] with pred(T) by a linear scan from `from` (pred is false below from).
std::int64_t scan(const std::function<bool(std::int64_t)>& pred, std::int64_t from, std::int64_t hi) {
  for (std::int64_t t = from; t <= hi; ++t)
    if (pred(t)) return t;
  return -1;
}

TEST(LaunchFamily, EveryFamilyEvaluatesAtEveryRevision) {
  Fixture fx;
  ASSERT_GE(fx.table.families.size(), 3u);
  for (const auto& f : fx.table.families) {
    for (const auto& r : f.revisions) {
      EXPECT_FALSE(r.source.empty()) << f.id << "@" << r.id;
      for (const auto& h : r.hazards)
        if (!h.removed) {
          EXPECT_FALSE(h.upstream.empty()) << f.id << "/" << h.id;
        }
      LaunchEnv env = fx.env("h100", r.id);
      LaunchProblem p = shape(256, 32, 8, 7168, f.quants.empty() ? "bf16" : f.quants[0]);
      for (std::int64_t t : {1, 4096, 1 << 20}) {
        p.tokens = t;
        auto vars = launch::base_vars(f, p, env);
        vars["numel"] = t * p.top_k;
        EXPECT_NO_THROW(launch::evaluate(f, vars, p, env)) << f.id << "@" << r.id << " T=" << t;
      }
    }
  }
}

TEST(LaunchFamily, RevisionSelection) {
  Fixture fx;
  const auto& f = *fx.table.find(moe_align::kVllm);
  EXPECT_EQ(f.revisions[launch::select_revision(f, "")].id, "pr12239");
  EXPECT_EQ(f.revisions[launch::select_revision(f, "pr12222")].id, "pr12222");
  EXPECT_EQ(f.revisions[launch::select_revision(f, "0.7.0")].id, "pr12239");
  EXPECT_EQ(f.revisions[launch::select_revision(f, "v0.8.5.post1")].id, "pr12239");
  EXPECT_THROW(launch::select_revision(f, "0.6.6"), InputError);   // before the first modelled revision
  EXPECT_THROW(launch::select_revision(f, "pr99999"), InputError);
  const auto& d = *fx.table.find(deepgemm_moe::kVllm);
  EXPECT_EQ(launch::hazards_at(d, 0).size(), 4u);
  EXPECT_EQ(launch::hazards_at(d, 1).size(), 3u);  // scatter output widened
  EXPECT_EQ(launch::hazards_at(d, 2).size(), 2u);  // gather input widened
}

TEST(LaunchFamily, UnknownTraitValueAndQuantAreRefusedOrUnavailable) {
  Fixture fx;
  LaunchEnv env = fx.env("h100", "");
  env.traits["fused_shared"] = "one";
  LaunchProblem p = shape(256, 256, 8, 7168, "bf16");
  p.tokens = 16;
  EXPECT_THROW(moe_align::check_vllm(p, env), InputError);
  env.traits.clear();
  p.quant = "nvfp4";
  auto fs = deepgemm_moe::check_vllm(p, env);  // DeepGEMM runs fp8 block-128 only
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, finding_id::kEmptyTacticSet);
  p.quant = "fp8_block128";
  env.device = &fx.devices.find("a100");  // below SM90
  fs = deepgemm_moe::check_vllm(p, env);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, finding_id::kEmptyTacticSet);
}

// moe_align_block_size at PR #12222: the int32 shared-memory kernel is launched when
// smem_i32 > opt-in limit >= smem_i16 and numel = T * top_k > 65535.
TEST(LaunchFamily, MoeAlignPr12222ThresholdMatchesScan) {
  Fixture fx;
  for (const char* dev : {"h100", "a100", "l40s"}) {
    for (std::int64_t e : {128, 160, 256, 384}) {
      const LaunchEnv env = fx.env(dev, "pr12222");
      const std::int64_t limit = env.device->smem_per_block_optin;
      const std::int64_t thr = std::max<std::int64_t>(e, 32);
      const std::int64_t i32 = ((thr + 1) * e + (e + 1)) * 4, i16 = (thr + 1) * e * 2 + (e + 1) * 4;
      auto ref = [&](std::int64_t t) { return i16 <= limit && i32 > limit && t * 8 > 65535; };
      LaunchProblem p = shape(e, e, 8, 7168, "bf16");
      auto model = [&](std::int64_t t) {
        p.tokens = t;
        return fires(moe_align::check_vllm(p, env), "align");
      };
      const std::int64_t want = scan(ref, 1, 20000);
      const auto got = first_failing(model, {1}, 1, 20000);
      EXPECT_EQ(got.value_or(-1), want) << dev << " E=" << e;
      const LaunchEnv fixed = fx.env(dev, "0.7.0");
      p.tokens = 20000;
      EXPECT_FALSE(fires(moe_align::check_vllm(p, fixed), "align"));
    }
  }
  // DeepSeek-R1 on H100: 264,196 B > 232,448 B and uint16 fits (132,612 B): fails from T = 8192.
  const LaunchEnv env = fx.env("h100", "pr12222");
  LaunchProblem p = shape(256, 256, 8, 7168, "bf16");
  EXPECT_EQ(first_failing([&](std::int64_t t) { p.tokens = t; return fires(moe_align::check_vllm(p, env), "align"); }, {1}, 1, 1 << 20),
            8192);
}

TEST(LaunchFamily, DeepGemmGatherThresholdMatchesScan) {
  Fixture fx;
  for (std::int64_t h : {2048, 4096, 6144, 7168}) {
    for (std::int64_t k : {6, 8, 10}) {
      for (std::int64_t el : {8, 32, 64}) {
        const LaunchEnv env = fx.env("h200", "pr39213");
        auto ref = [&](std::int64_t t) {
          const std::int64_t rows = (t * k + el * 127 + 127) / 128 * 128;
          return (rows - 1) * h > INT32_MAX;
        };
        LaunchProblem p = shape(el * 8, el, k, h, "fp8_block128");
        auto model = [&](std::int64_t t) {
          p.tokens = t;
          return fires(deepgemm_moe::check_vllm(p, env), "ep_gather");
        };
        const std::int64_t lo = (INT32_MAX / h - el * 128) / k - 200;  // scan a window that holds the threshold
        ASSERT_FALSE(ref(std::max<std::int64_t>(lo, 1)));
        EXPECT_EQ(first_failing(model, {1}, 1, 1 << 22).value_or(-1), scan(ref, std::max<std::int64_t>(lo, 1), 1 << 22))
            << "H=" << h << " K=" << k << " El=" << el;
        // Scatter output is already widened at pr39213; at the earlier revision it fires at the same T.
        p.tokens = scan(ref, std::max<std::int64_t>(lo, 1), 1 << 22);
        EXPECT_FALSE(fires(deepgemm_moe::check_vllm(p, env), "ep_scatter"));
        EXPECT_TRUE(fires(deepgemm_moe::check_vllm(p, fx.env("h200", "pre-39213")), "ep_scatter"));
        EXPECT_FALSE(fires(deepgemm_moe::check_vllm(p, fx.env("h200", "pr48398")), "ep_gather"));
      }
    }
  }
}

TEST(LaunchFamily, FusedMulSumThresholdMatchesScan) {
  Fixture fx;
  const LaunchEnv env = fx.env("h100", "pre-50220");
  for (std::int64_t h : {2048, 4096, 7168}) {
    for (std::int64_t k : {6, 8, 10}) {
      auto ref = [&](std::int64_t t) { return (t - 1) * k * h > INT32_MAX; };
      LaunchProblem p = shape(512, 512, k, h, "bf16");
      auto model = [&](std::int64_t t) {
        p.tokens = t;
        return fires(moe_fused_mul_sum::check(p, env), "moe_sum");
      };
      const std::int64_t lo = INT32_MAX / (k * h) - 10;
      EXPECT_EQ(first_failing(model, {1}, 1, 1 << 22).value_or(-1), scan(ref, lo, 1 << 22)) << h << " " << k;
    }
  }
  // PR #50220's numbers: Qwen3.5-397B-A17B (top_k 10, H 4096): overflow starts at row 52,429.
  LaunchProblem p = shape(512, 512, 10, 4096, "bf16");
  EXPECT_EQ(first_failing([&](std::int64_t t) { p.tokens = t; return fires(moe_fused_mul_sum::check(p, env), "moe_sum"); }, {1}, 1, 1 << 20),
            52430);
}

// Marlin MoE: a GEMM is refused exactly when no compiled {thread_k, thread_n} divides its K
// and N. Reference: the config lists of generate_kernels.py before / after PR #32360.
TEST(LaunchFamily, MarlinThreadConfigsMatchTheCompiledLists) {
  Fixture fx;
  const std::vector<std::pair<int, int>> before = {{128, 128}, {64, 256}, {64, 128}};
  std::vector<std::pair<int, int>> after = before;
  after.push_back({128, 64});
  auto valid = [](const std::vector<std::pair<int, int>>& cfgs, std::int64_t k, std::int64_t n) {
    for (auto [tk, tn] : cfgs)
      if (k % tk == 0 && n % tn == 0) return true;
    return false;
  };
  int refused = 0;
  for (const char* rev : {"pre-32360", "pr32360"}) {
    const auto& cfgs = std::string(rev) == "pr32360" ? after : before;
    const LaunchEnv env = fx.env("h100", rev);
    for (std::int64_t h = 256; h <= 3072; h += 64) {
      for (std::int64_t i = 64; i <= 3072; i += 32) {
        for (bool gated : {false, true}) {
          LaunchProblem p = shape(64, 64, 8, h, "int4_w4a16");
          p.intermediate = i;
          p.gated = gated;
          p.tokens = 16;
          const auto fs = marlin_moe::check(p, env);
          const bool g1 = !valid(cfgs, h, gated ? 2 * i : i), g2 = !valid(cfgs, i, h);
          ASSERT_EQ(fires(fs, "gemm1"), g1) << rev << " H=" << h << " I=" << i << " gated=" << gated;
          ASSERT_EQ(fires(fs, "gemm2"), g2) << rev << " H=" << h << " I=" << i << " gated=" << gated;
          refused += g1 + g2;
        }
      }
    }
  }
  EXPECT_GT(refused, 100);
  // FP8 Marlin fallback at TP 4 for Nemotron-3-Nano (relu2, I = 1856 / 4 = 464): repack needs
  // N % 64 (464 % 64 = 16); PR #45703 pads the rank-local intermediate (to 512 here).
  LaunchProblem p = shape(128, 128, 6, 2688, "fp8_per_tensor");
  p.intermediate = 464;
  p.gated = false;
  p.tokens = 16;
  bool repack = false;
  for (const auto& f : marlin_moe::check(p, fx.env("a100", "pr32360")))
    repack = repack || (f.stage == "weight_prep" && f.value.value_or(0) == 464 && f.limit_value.value_or(0) == 64);
  EXPECT_TRUE(repack);
  EXPECT_TRUE(marlin_moe::check(p, fx.env("a100", "pr45703")).empty());
}

// moe_wna16 CUDA: hazards hold only on the CUDA path (T*top_k <= 6E); the 48 KiB dynamic
// shared memory limit at BLOCK_SIZE_M * BLOCK_SIZE_K * 2.
TEST(LaunchFamily, MoeWna16CudaPathAndSharedMemory) {
  Fixture fx;
  LaunchEnv env = fx.env("a100", "");
  LaunchProblem p = shape(64, 64, 8, 4096, "int4_w4a16");
  p.tokens = 48;  // 48 * 8 = 384 <= 6 * 64: CUDA path
  EXPECT_TRUE(moe_wna16::check(p, env).empty());
  env.traits["block_k"] = "512";  // 64 * 512 * 2 = 65,536 > 49,152
  auto fs = moe_wna16::check(p, env);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, finding_id::kSmemExceeded);
  EXPECT_EQ(fs[0].value.value_or(0), 65536);
  p.tokens = 49;  // 392 > 384: the Triton WNA16 kernel runs instead
  EXPECT_TRUE(moe_wna16::check(p, env).empty());
  env.traits["block_k"] = "96";  // 4096 % 96 != 0
  p.tokens = 8;
  fs = moe_wna16::check(p, env);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, finding_id::kTileUnregistered);
}

// vLLM batched CUTLASS FP8 workspace, with PR #55579's own numbers: DeepSeek-V3 (H 7168,
// I 2048) at DP 32 with 16 local experts, M = 512 tokens per rank * 32 dispatchers = 16,384:
// the shared workspace13 is 112 GiB before the fix and 3.5 GiB after; workspace2 has the
// same shape (max(N // 2, K) = K) and the output is (16, M, K).
TEST(LaunchFamily, CutlassBatchedWorkspace) {
  Fixture fx;
  const std::int64_t gib = std::int64_t(1) << 30;
  LaunchProblem p = shape(256, 16, 1, 7168, "fp8_per_tensor");
  p.intermediate = 2048;
  p.tokens = 16384;
  for (const char* dev : {"b200", "h200"}) {
    LaunchEnv env = fx.env(dev, "pre-55579");
    env.dp = 32;
    env.ep = 16;
    env.batched_layout = true;
    auto fs = cutlass_experts::check(p, env);
    ASSERT_EQ(fs.size(), 1u) << dev;
    EXPECT_EQ(fs[0].id, finding_id::kWorkspaceExceedsMemory);
    EXPECT_EQ(fs[0].value.value_or(0), 112 * gib + 112 * gib + 7 * gib / 2);
    env.releases["vllm"] = "pr55579";
    EXPECT_TRUE(cutlass_experts::check(p, env).empty()) << dev;  // 3 x 3.5 GiB
  }
  // Standard layout (no batching): workspace1 (M*topk, max(N, K)) etc., far below memory.
  LaunchEnv env = fx.env("h100", "pre-55579");
  p.top_k = 8;
  p.tokens = 8192;
  EXPECT_TRUE(cutlass_experts::check(p, env).empty());
}

// GGUF MoE: the MMVQ kernel's grid.z = T * top_k (any batch for IQ types), the MMQ kernel's
// grid.y = (T * top_k + E * 3) / 4 (T > 64, legacy and K-quant types). Reference values
// written out from the launchers' arithmetic.
TEST(LaunchFamily, GgufMoeGrids) {
  Fixture fx;
  auto first = [&](LaunchProblem p, const LaunchEnv& env, const std::string& id) {
    return first_failing([&](std::int64_t t) {
      p.tokens = t;
      for (const auto& f : gguf_moe::check(p, env))
        if (f.id == id) return true;
      return false;
    }, {1}, 1, 1 << 22);
  };
  LaunchEnv env = fx.env("a100", "");
  // DeepSeek-R1 UD-IQ1_S (IQ1_S = 19, IQ2_XXS = 16): top_k 8 -> 8191 tokens fit, 8192 do not.
  env.traits["gguf_type"] = "19";
  env.traits["gguf_type2"] = "16";
  LaunchProblem ds = shape(256, 256, 8, 7168, "bf16");
  EXPECT_EQ(first(ds, env, finding_id::kGridZOverflow), 8192);
  // Qwen3-30B-A3B Q4_K (12): MMQ above 64 tokens; grid.y = (8T + 384) / 4 > 65535 from T = 32720.
  env.traits["gguf_type"] = "12";
  env.traits.erase("gguf_type2");
  LaunchProblem qw = shape(128, 128, 8, 2048, "bf16");
  EXPECT_EQ(first(qw, env, finding_id::kGridYOverflow), 32720);
  qw.tokens = 32719;
  EXPECT_TRUE(gguf_moe::check(qw, env).empty());
  // A type without a fused kernel (F16 = 1): the slow fallback is reported as info.
  env.traits["gguf_type"] = "1";
  qw.tokens = 16;
  auto fs = gguf_moe::check(qw, env);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::info);
}

}  // namespace
}  // namespace moesim::kernels
