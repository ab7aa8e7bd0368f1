// moesim oracle decisions. Every expected backend below comes from the upstream facts in
// /work/shared/reference/vllm_sglang.md (sections 4 and 7) and the PR texts cited per test,
// not from running this code. fm/ = vllm/model_executor/layers/fused_moe/.
#include "replay/oracle/oracle.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <memory>

#include "replay/oracle/formulas.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"

namespace moesim::oracle {
namespace {

OracleDecision ask(const std::string& fw, const std::string& dev, const std::string& quant,
                   std::map<std::string, std::string> traits = {}, std::map<std::string, std::string> env = {},
                   const std::string& fi = "") {
  OracleQuery q{fw, dev, quant, fi, std::move(env), std::move(traits)};
  return decide(q, moesim::models_dir());
}

std::string prop(const OracleDecision& d, const std::string& selector, const std::string& name) {
  for (const auto& r : d.results)
    if (r.selector == selector)
      for (const auto& [k, v] : r.properties)
        if (k == name) return v;
  return "(absent)";
}

const SelectorResult& result(const OracleDecision& d, const std::string& selector) {
  for (const auto& r : d.results)
    if (r.selector == selector) return r;
  throw std::runtime_error("no selector " + selector);
}

const std::map<std::string, std::string> kNemotronBf16{{"activation", "relu2_no_mul"}};

// --- vLLM unquantized ---------------------------------------------------------------------

// #40808 (Jetson Thor, Nemotron-3-Nano-30B-A3B-BF16): before it the oracle auto-picks
// FlashInfer CUTLASS on SM110 (and FlashInfer 0.6.8.post1 then fails with tile 256x256x128,
// which `moesim check` reports as TILE_UNREGISTERED); after it the oracle falls back to Triton.
TEST(VllmUnquantized, Sm110NemotronBf16Pr40808BothSides) {
  auto before = ask("vllm@pr39959", "sm110", "bf16", kNemotronBf16, {}, "0.6.8.post1");
  EXPECT_EQ(before.backend, "flashinfer_cutlass");
  auto after = ask("vllm@pr40808", "sm110", "bf16", kNemotronBf16, {}, "0.6.8.post1");
  EXPECT_EQ(after.backend, "triton");
  // the trail names the rejected device gate with its values and source
  bool found = false;
  for (const auto& t : after.trail)
    if (t.candidate == "FLASHINFER_CUTLASS" && t.predicate_id == "fi_cutlass.device") {
      found = true;
      EXPECT_FALSE(t.passed);
      EXPECT_NE(t.observed.find("sm=110"), std::string::npos) << t.observed;
      EXPECT_NE(t.source.find("#40808"), std::string::npos) << t.source;
    }
  EXPECT_TRUE(found);
}

// #36286: before it, unquantized CUDA MoE defaulted to TRITON and FlashInfer was opt-in by env;
// after it the priority list [FI_TRTLLM, FI_CUTLASS, TRITON, ...] is walked automatically, so
// SM100 gets FlashInfer TRTLLM bf16 and SM110 (then still whitelisted) gets FlashInfer CUTLASS.
TEST(VllmUnquantized, Pr36286OracleFlowBothSides) {
  EXPECT_EQ(ask("vllm@pr38169", "b200", "bf16").backend, "triton");
  EXPECT_EQ(ask("vllm@pr38169", "sm110", "bf16", kNemotronBf16).backend, "triton");
  // At #36286 TrtLlmBf16Experts still had Renormalize commented out of its routing list
  // (fm/experts/trtllm_bf16_moe.py:73-88@d9b90a07aced), so the default (Renormalize) routing
  // goes to FlashInfer CUTLASS; #38859 re-enabled it.
  EXPECT_EQ(ask("vllm@pr36286", "b200", "bf16").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr36286", "b200", "bf16", {{"routing_method", "deepseek_v3"}}).backend, "flashinfer_trtllm");
  EXPECT_EQ(ask("vllm@pr38859", "b200", "bf16").backend, "flashinfer_trtllm");
  EXPECT_EQ(ask("vllm@pr36286", "sm110", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
  // pre-#36286 opt-in: VLLM_USE_FLASHINFER_MOE_FP16=1 took CUTLASS with only has_device_capability(90),
  // the latent SM110 gap #40808 describes -- and, until #38423, only with expert parallelism
  // (use_ep, fm/oracle/unquantized.py:97-102@d816834c1aa6)
  EXPECT_EQ(ask("vllm@pr38169", "sm110", "bf16", kNemotronBf16, {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}}).backend,
            "triton");
  EXPECT_EQ(ask("vllm@pr38169", "sm110", "bf16", {{"activation", "relu2_no_mul"}, {"ep_size", "2"}},
                {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}}).backend,
            "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr38423", "sm110", "bf16", kNemotronBf16, {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}}).backend,
            "flashinfer_cutlass");
  // ... but not with data parallelism (not use_dp)
  EXPECT_EQ(ask("vllm@pr38169", "sm110", "bf16", {{"dp_size", "2"}}, {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}}).backend,
            "triton");
}

// #39825 dropped SM121 (DGX Spark) from FlashInferExperts (family(120) -> exact 120);
// #39959 (flashinfer 0.6.8) restored family(120).
TEST(VllmUnquantized, Sm121Pr39825AndPr39959) {
  EXPECT_EQ(ask("vllm@pr38251", "sm121", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr39825", "sm121", "bf16", kNemotronBf16).backend, "triton");
  EXPECT_EQ(ask("vllm@pr39825", "sm120", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr39959", "gb10", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@v0", "sm121", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
}

// #44220: on the SM90 family FlashInfer TRTLLM and CUTLASS move behind TRITON.
TEST(VllmUnquantized, HopperPr44220BothSides) {
  // #44220 (dcdfe66bfacf, 2026-06-02) merged after V0 and before #43853 (8b2b566ea710, 2026-06-17)
  EXPECT_EQ(ask("vllm@main-52a31cc", "h100", "bf16").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr43853", "h100", "bf16").backend, "triton");
  EXPECT_EQ(ask("vllm@pr44220", "h100", "bf16").backend, "triton");
  auto d = ask("vllm@pr44220", "h200", "bf16");
  std::vector<std::string> order{"TRITON", "BATCHED_TRITON", "FLASHINFER_TRTLLM", "FLASHINFER_CUTLASS"};
  EXPECT_EQ(result(d, "moe_backend.unquantized").walk_order, order);
  // SM100 is not affected
  EXPECT_EQ(ask("vllm@pr44220", "b200", "bf16").backend, "flashinfer_trtllm");
}

// dp_size > 1 moves FLASHINFER_CUTLASS to the back (#36286 Qwen3.5 DEP hack).
TEST(VllmUnquantized, DataParallelDemotesCutlass) {
  EXPECT_EQ(ask("vllm@pr40808", "h100", "bf16", {{"dp_size", "2"}}).backend, "triton");
  EXPECT_EQ(ask("vllm@pr40808", "sm120", "bf16", {{"dp_size", "4"}}).backend, "triton");
}

// #36146 made TRTLLM bf16 SILU-only; #43853 enabled non-gated bf16 on SM100 (Nemotron Nano BF16).
TEST(VllmUnquantized, NonGatedOnSm100Pr43853) {
  EXPECT_EQ(ask("vllm@v0", "b200", "bf16", kNemotronBf16).backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr43853", "b200", "bf16", kNemotronBf16).backend, "flashinfer_trtllm");
  // SM110 still cannot use TRTLLM (family(100) only) and has no CUTLASS after #40808
  EXPECT_EQ(ask("vllm@pr43853", "thor", "bf16", kNemotronBf16).backend, "triton");
}

TEST(VllmUnquantized, EnvOverrides) {
  // VLLM_USE_FLASHINFER_MOE_FP16=0 removes both FlashInfer backends
  EXPECT_EQ(ask("vllm@v0", "b200", "bf16", {}, {{"VLLM_USE_FLASHINFER_MOE_FP16", "0"}}).backend, "triton");
  // =1 with throughput selects CUTLASS even where TRTLLM would win
  EXPECT_EQ(ask("vllm@v0", "b200", "bf16", {}, {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}, {"VLLM_FLASHINFER_MOE_BACKEND", "throughput"}}).backend,
            "flashinfer_cutlass");
  // =1 where no FlashInfer backend fits raises (NotImplementedError), no Triton fallback
  auto d = ask("vllm@v0", "a100", "bf16", {}, {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}});
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.backend, "");
  EXPECT_NE(d.error_message.find("NotImplementedError"), std::string::npos);
  // an explicit --moe-backend that does not fit raises rather than falling back
  auto e = ask("vllm@v0", "sm110", "bf16", {{"moe_backend", "flashinfer_cutlass"}});
  EXPECT_TRUE(e.error);
  // LoRA forces Triton
  EXPECT_EQ(ask("vllm@v0", "b200", "bf16", {{"lora", "1"}}).backend, "triton");
}

TEST(VllmUnquantized, NoFlashinferInstalledFallsBackToTriton) {
  EXPECT_EQ(ask("vllm@v0", "b200", "bf16", {}, {}, "none").backend, "triton");
}

// --- vLLM NVFP4 -----------------------------------------------------------------------------

TEST(VllmNvfp4, TypicalPicksPerDevice) {
  // section 4.4: SM100 -> TRTLLM; SM120/121 -> FI CUTLASS; SM110 -> VLLM_CUTLASS; SM90 -> MARLIN
  EXPECT_EQ(ask("vllm@v0", "b200", "nvfp4").backend, "flashinfer_trtllm");
  EXPECT_EQ(ask("vllm@v0", "rtx_pro_6000", "nvfp4").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@v0", "sm121", "nvfp4").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@v0", "sm110", "nvfp4").backend, "vllm_cutlass");
  EXPECT_EQ(ask("vllm@v0", "h100", "nvfp4").backend, "marlin");
  // before #40808 SM110 still passed the FlashInferExperts gate (nvfp4 needs has_device_capability(100))
  EXPECT_EQ(ask("vllm@pr39959", "sm110", "nvfp4").backend, "flashinfer_cutlass");
}

TEST(VllmNvfp4, TrtllmKernelClassAndChunkingPr43599) {
  // Monolithic unless all2all kernels or EPLB are in use (TrtLlmNvFp4ExpertsMonolithic._supports_parallel_config)
  EXPECT_EQ(prop(ask("vllm@v0", "b200", "nvfp4"), "moe_backend.nvfp4", "kernel_class"), "TrtLlmNvFp4ExpertsMonolithic");
  std::map<std::string, std::string> ep{{"all2all", "1"}, {"num_experts", "512"}, {"top_k", "22"}};
  auto before = ask("vllm@v0", "b200", "nvfp4", ep);
  EXPECT_EQ(prop(before, "moe_backend.nvfp4", "kernel_class"), "TrtLlmNvFp4ExpertsModular");
  EXPECT_EQ(prop(before, "moe_backend.nvfp4", "token_chunk_size").rfind("none", 0), 0u);
  // #43599: chunk = min(300000, (E + (65535-E+1)*128 - 1)//top_k); PR examples E=512,k=22 -> 378344 -> 300000
  auto after = ask("vllm@pr43599", "b200", "nvfp4", ep);
  EXPECT_EQ(prop(after, "moe_backend.nvfp4", "token_chunk_size").rfind("300000 ", 0), 0u)
      << prop(after, "moe_backend.nvfp4", "token_chunk_size");
  // the monolithic class never chunks
  EXPECT_EQ(prop(ask("vllm@pr43599", "b200", "nvfp4"), "moe_backend.nvfp4", "token_chunk_size").rfind("none", 0), 0u);
}

TEST(VllmNvfp4, ChunkFormulaMatchesPrExamples) {
  // worked examples in vllm_sglang.md section 4.6 (computed by hand from the PR formula)
  EXPECT_EQ(trtllm_nvfp4_chunk_size(512, 22), 300000);   // 378,344 capped
  EXPECT_EQ(trtllm_nvfp4_chunk_size(256, 8), 300000);    // 1,044,511 capped
  EXPECT_EQ(trtllm_nvfp4_chunk_size(512, 28), 297270);   // below the cap
  // hand check: (512 + 65024*128 - 1) // 28 = 8323583 // 28 = 297270
  EXPECT_EQ((512LL + (65535LL - 512 + 1) * 128 - 1) / 28, 297270);
}

// #38050 added FLASHINFER_CUTEDSL_BATCHED (and made FLASHINFER_CUTEDSL the standard-format
// cute_dsl_fused_moe_nvfp4 path with non-swizzled scales); #38169 reverted; #38251 re-landed.
TEST(VllmNvfp4, CuteDslBatchedPr38050Pr38169Pr38251) {
  std::map<std::string, std::string> batched{{"batched_format", "1"}};
  EXPECT_EQ(ask("vllm@pr38050", "b200", "nvfp4", batched).backend, "flashinfer_cutedsl_batched");
  EXPECT_EQ(ask("vllm@pr38169", "b200", "nvfp4", batched).backend, "flashinfer_cutedsl");  // old masked class
  EXPECT_EQ(ask("vllm@pr38251", "b200", "nvfp4", batched).backend, "flashinfer_cutedsl_batched");
  std::map<std::string, std::string> explicit_cutedsl{{"moe_backend", "flashinfer_cutedsl"}};
  auto a = ask("vllm@pr38050", "b200", "nvfp4", explicit_cutedsl);
  EXPECT_EQ(a.backend, "flashinfer_cutedsl");
  EXPECT_EQ(prop(a, "moe_backend.nvfp4", "input_scale_layout").rfind("linear", 0), 0u);
  EXPECT_TRUE(ask("vllm@pr38169", "b200", "nvfp4", explicit_cutedsl).error);  // standard format unsupported after the revert
  EXPECT_EQ(prop(ask("vllm@pr38251", "b200", "nvfp4", explicit_cutedsl), "moe_backend.nvfp4", "input_scale_layout").rfind("linear", 0), 0u);
  // cute_dsl_fused_moe_nvfp4 first shipped in flashinfer 0.6.4
  EXPECT_TRUE(ask("vllm@pr38251", "b200", "nvfp4", explicit_cutedsl, {}, "0.6.3").error);
  // (TRTLLM NVFP4 reads hidden_dim % 512 at pr38251: fm/experts/trtllm_nvfp4_moe.py _supports_shape)
  EXPECT_EQ(prop(ask("vllm@pr38251", "b200", "nvfp4", {{"hidden_dim", "7168"}}), "moe_backend.nvfp4", "input_scale_layout"),
            "swizzled_128x4");
}

// #35737 appended EMULATION: a configuration no real kernel supports now emulates instead of raising.
TEST(VllmNvfp4, EmulationFallbackPr35737) {
  std::map<std::string, std::string> batched_hopper{{"batched_format", "1"}};
  EXPECT_TRUE(ask("vllm@pr39959", "h100", "nvfp4", batched_hopper).error);
  EXPECT_EQ(ask("vllm@pr35737", "h100", "nvfp4", batched_hopper).backend, "emulation");
}

// #40082: FLASHINFER_B12X is opt-in only (SM12x, flashinfer >= 0.6.9 for b12x_fused_moe).
TEST(VllmNvfp4, B12xOptInOnly) {
  EXPECT_EQ(ask("vllm@pr40082", "sm120", "nvfp4").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr40082", "sm120", "nvfp4", {{"moe_backend", "flashinfer_b12x"}}).backend, "flashinfer_b12x");
  EXPECT_TRUE(ask("vllm@pr40082", "sm120", "nvfp4", {{"moe_backend", "flashinfer_b12x"}}, {}, "0.6.8.post1").error);
  EXPECT_TRUE(ask("vllm@pr40808", "sm120", "nvfp4", {{"moe_backend", "flashinfer_b12x"}}).error);  // not yet there
}

TEST(VllmNvfp4, EnvFp4Zero) {
  // VLLM_USE_FLASHINFER_MOE_FP4=0 removes all FlashInfer backends: SM100 then gets vLLM CUTLASS
  EXPECT_EQ(ask("vllm@v0", "b200", "nvfp4", {}, {{"VLLM_USE_FLASHINFER_MOE_FP4", "0"}}).backend, "vllm_cutlass");
}

// --- vLLM FP8 -------------------------------------------------------------------------------

// #34260 added: SM90 with 128-block fp8 -> FLASHINFER_CUTLASS first if ep_size > 1, else TRITON first.
TEST(VllmFp8, Sm90BlockRulePr34260) {
  EXPECT_EQ(ask("vllm@pr33417", "h100", "fp8_block").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr34260", "h100", "fp8_block").backend, "triton");
  EXPECT_EQ(ask("vllm@pr34260", "h100", "fp8_block", {{"ep_size", "8"}}).backend, "flashinfer_cutlass");
}

TEST(VllmFp8, Blackwell) {
  // per-tensor fp8 has only the Monolithic TRTLLM class: its routing list decides. Before #38859
  // {DeepSeekV3, Llama4} (trtllm_fp8_moe.py:298-303@d9b90a07aced): Renormalize falls to FI CUTLASS;
  // #38859 adds Renormalize (trtllm_fp8_moe.py:295-302@a5a623d96163), so V0 takes TRTLLM.
  EXPECT_EQ(ask("vllm@pr36286", "b200", "fp8").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@v0", "b200", "fp8").backend, "flashinfer_trtllm");
  EXPECT_EQ(prop(ask("vllm@v0", "b200", "fp8"), "moe_backend.fp8", "kernel_class"), "TrtLlmFp8ExpertsMonolithic");
  EXPECT_EQ(ask("vllm@pr36286", "b200", "fp8", {{"routing_method", "deepseek_v3"}}).backend, "flashinfer_trtllm");
  // float32 router logits: Monolithic only with DeepSeekV3 until #39141
  EXPECT_EQ(ask("vllm@pr38859", "b200", "fp8", {{"router_logits_dtype", "float32"}}).backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@pr39141", "b200", "fp8", {{"router_logits_dtype", "float32"}}).backend, "flashinfer_trtllm");
  // block fp8, Llama4 routing: not in the Monolithic block list -> the Modular class
  EXPECT_EQ(prop(ask("vllm@v0", "b200", "fp8_block", {{"routing_method", "llama4"}}), "moe_backend.fp8", "kernel_class"), "TrtLlmFp8ExpertsModular");
  // block fp8 on SM100: TRTLLM (modular class)
  EXPECT_EQ(ask("vllm@v0", "b200", "fp8_block").backend, "flashinfer_trtllm");
  // block fp8 on SM120: FI CUTLASS block needs SM90 exactly; no DeepGEMM; Triton
  EXPECT_EQ(ask("vllm@v0", "sm120", "fp8_block").backend, "triton");
}

// --- vLLM MXFP4 (gpt-oss) -------------------------------------------------------------------

TEST(VllmMxfp4, GptOssPicks) {
  EXPECT_EQ(ask("vllm@v0", "b200", "mxfp4").backend, "flashinfer_trtllm");
  EXPECT_EQ(prop(ask("vllm@v0", "b200", "mxfp4"), "moe_backend.mxfp4", "activation_dtype"), "bf16");
  EXPECT_EQ(ask("vllm@v0", "h100", "mxfp4", {{"activation", "swigluoai"}}).backend, "oai_triton");  // 9.0 <= cap < 11.0
  // OAI triton_kernels take SWIGLUOAI only (gpt_oss_triton_kernels_moe.py:667-668@52a31ccecca2):
  // a SILU MXFP4 model on SM90 goes to FlashInfer CUTLASS (mxfp4, None) on SM90
  EXPECT_EQ(ask("vllm@v0", "h100", "mxfp4").backend, "flashinfer_cutlass");
  EXPECT_EQ(ask("vllm@v0", "sm120", "mxfp4").backend, "marlin");           // no OAI triton, FI CUTLASS bf16-act only SM90
  EXPECT_EQ(ask("vllm@v0", "h100", "mxfp4", {}, {{"VLLM_USE_FLASHINFER_MOE_MXFP4_BF16", "1"}}).backend, "flashinfer_cutlass");
  EXPECT_THROW(ask("vllm@pr40808", "b200", "mxfp4"), InputError);          // history not modelled
}

// --- SGLang ---------------------------------------------------------------------------------

// section 7.2/7.3: modelopt_fp4 on SM120 -> MoE flashinfer_cutlass ("trtllm-gen MoE kernels are
// SM100-only") and FP4 GEMM flashinfer_cutlass (after #26496 removed the SM120 -> cudnn rule).
TEST(Sglang, Sm120ModeloptFp4) {
  auto d = ask("sglang@s0", "sm120", "modelopt_fp4");
  EXPECT_EQ(d.backend, "flashinfer_cutlass");
  EXPECT_EQ(result(d, "fp4_gemm_backend").value, "flashinfer_cutlass");
  EXPECT_EQ(result(d, "deep_gemm").value, "disabled");        // #24692: sm == 120
  EXPECT_EQ(result(d, "flashinfer_autotune").value, "run");   // moe backend flashinfer_cutlass needs tuning
  // is_sm120_supported is major == 12: SM121 too
  EXPECT_EQ(ask("sglang@s0", "sm121", "modelopt_fp4").backend, "flashinfer_cutlass");
}

TEST(Sglang, Fp4GemmHistoryPr20047Pr23590Pr26496) {
  EXPECT_EQ(result(ask("sglang@pr24692", "sm120", "modelopt_fp4"), "fp4_gemm_backend").value, "flashinfer_cudnn");
  EXPECT_EQ(result(ask("sglang@pr26496", "sm120", "modelopt_fp4"), "fp4_gemm_backend").value, "flashinfer_cutlass");
  EXPECT_EQ(result(ask("sglang@pr20047", "b200", "modelopt_fp4"), "fp4_gemm_backend").value, "flashinfer_cutlass");
  EXPECT_EQ(result(ask("sglang@pr23590", "b200", "modelopt_fp4"), "fp4_gemm_backend").value, "flashinfer_cutedsl");
  EXPECT_EQ(result(ask("sglang@s0", "h100", "modelopt_fp4"), "fp4_gemm_backend").value, "marlin");
  EXPECT_EQ(result(ask("sglang@s0", "sm110", "modelopt_fp4"), "fp4_gemm_backend").value, "flashinfer_cutlass");
}

TEST(Sglang, MoeRunnerAuto) {
  // runtime auto in ModelOpt NVFP4: (8,0) <= cap < (10,0) -> MARLIN, else FLASHINFER_TRTLLM
  EXPECT_EQ(ask("sglang@s0", "b200", "modelopt_fp4").backend, "flashinfer_trtllm");
  EXPECT_EQ(ask("sglang@s0", "h100", "modelopt_fp4").backend, "marlin");
  EXPECT_EQ(ask("sglang@s0", "sm110", "modelopt_fp4").backend, "flashinfer_trtllm");
  // DeepSeek on SM100 with fp8 and no a2a -> flashinfer_trtllm; generic fp8 -> triton
  EXPECT_EQ(ask("sglang@s0", "b200", "fp8", {{"model_arch", "deepseek"}}).backend, "flashinfer_trtllm");
  EXPECT_EQ(ask("sglang@s0", "b200", "fp8").backend, "triton");
  // fp8 with DeepEP uses DeepGEMM when the JIT gate is on
  EXPECT_EQ(ask("sglang@s0", "h100", "fp8", {{"moe_a2a_backend", "deepep"}}).backend, "deep_gemm");
  EXPECT_EQ(ask("sglang@s0", "h100", "fp8", {{"moe_a2a_backend", "deepep"}}, {{"SGLANG_ENABLE_JIT_DEEPGEMM", "0"}}).backend, "triton");
  // gpt-oss mxfp4 on SM100 and SM120 -> flashinfer_mxfp4
  EXPECT_EQ(ask("sglang@s0", "sm120", "mxfp4", {{"model_arch", "gpt_oss"}}).backend, "flashinfer_mxfp4");
  // nvfp4_online needs SM100
  EXPECT_TRUE(ask("sglang@s0", "sm120", "nvfp4_online").error);
  EXPECT_EQ(ask("sglang@s0", "b200", "nvfp4_online").backend, "flashinfer_trtllm");
  // explicit flashinfer_cutlass with plain fp8 violates the assert
  EXPECT_TRUE(ask("sglang@s0", "b200", "fp8", {{"moe_runner_backend", "flashinfer_cutlass"}}).error);
}

// #24692 excluded exactly SM120 from DeepGEMM; SM121 and SM110 pass the gate.
TEST(Sglang, DeepGemmGatePr24692) {
  EXPECT_EQ(result(ask("sglang@pr23590", "sm120", "bf16"), "deep_gemm").value, "enabled");
  EXPECT_EQ(result(ask("sglang@pr24692", "sm120", "bf16"), "deep_gemm").value, "disabled");
  EXPECT_EQ(result(ask("sglang@s0", "sm121", "bf16"), "deep_gemm").value, "enabled");
  EXPECT_EQ(result(ask("sglang@s0", "sm110", "bf16"), "deep_gemm").value, "enabled");
  EXPECT_EQ(result(ask("sglang@s0", "a100", "bf16"), "deep_gemm").value, "disabled");
}

TEST(Sglang, FlashinferAutotune) {
  EXPECT_EQ(result(ask("sglang@s0", "h100", "bf16"), "flashinfer_autotune").value, "skip");  // triton, nothing to tune
  EXPECT_EQ(result(ask("sglang@s0", "sm120", "modelopt_fp4", {{"deterministic", "1"}}), "flashinfer_autotune").value, "skip");
  // modelopt FP8 on SM100: no FP8 reason at pr26496 (model_runner.py:2409-2435@e76d36214b0f);
  // #28333 adds modelopt FP8 and is_sm100_supported(); #34042 makes flashinfer_per_tensor_fp8_supported() decide
  EXPECT_EQ(result(ask("sglang@pr26496", "b200", "modelopt_fp8"), "flashinfer_autotune").value, "skip");
  EXPECT_EQ(result(ask("sglang@pr28739", "b200", "modelopt_fp8"), "flashinfer_autotune").value, "run");
  EXPECT_EQ(result(ask("sglang@s0", "b200", "modelopt_fp8"), "flashinfer_autotune").value, "skip");
  EXPECT_EQ(result(ask("sglang@s0", "b200", "modelopt_fp8", {{"flashinfer_per_tensor_fp8_supported", "1"}}), "flashinfer_autotune").value, "run");
  // the backend autotune reads is server_args' (still auto for a generic NVFP4 model on SM100), not the
  // FLASHINFER_TRTLLM the quant method resolves at layer init (flashinfer_autotune.py:73-79@d55f1c28e223)
  auto nv = ask("sglang@s0", "b200", "modelopt_fp4", {{"fp4_gemm_runner_backend", "flashinfer_trtllm"}});
  EXPECT_EQ(result(nv, "moe_runner_backend").value, "flashinfer_trtllm");
  EXPECT_EQ(result(nv, "flashinfer_autotune").value, "skip");
  // deterministic inference skips autotune from #33417 on
  EXPECT_EQ(result(ask("sglang@pr32668", "b200", "mxfp4", {{"model_arch", "gpt_oss"}, {"deterministic", "1"}}), "flashinfer_autotune").value, "run");
  EXPECT_EQ(result(ask("sglang@pr33417", "b200", "mxfp4", {{"model_arch", "gpt_oss"}, {"deterministic", "1"}}), "flashinfer_autotune").value, "skip");
  // before #26496 the autotune selector is not modelled: reported, not guessed
  EXPECT_FALSE(result(ask("sglang@pr24692", "sm120", "modelopt_fp4"), "flashinfer_autotune").applicable);
}

// --- errors ---------------------------------------------------------------------------------

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(OracleErrors, UnknownRevisionDeviceQuantTraitFramework) {
  std::string e = error_of([] { ask("vllm@v0.99.0", "sm110", "bf16"); });
  EXPECT_NE(e.find("unknown vllm revision 'v0.99.0'"), std::string::npos) << e;
  EXPECT_NE(e.find("pr40808"), std::string::npos) << e;  // lists the known ones
  e = error_of([] { ask("vllm@pr40808", "sm999", "bf16"); });
  EXPECT_NE(e.find("unknown device"), std::string::npos) << e;
  e = error_of([] { ask("vllm@pr40808", "sm110", "int3"); });
  EXPECT_NE(e.find("unknown quant scheme"), std::string::npos) << e;
  EXPECT_NE(e.find("nvfp4"), std::string::npos) << e;
  e = error_of([] { ask("vllm@pr40808", "sm110", "bf16", {{"colour", "red"}}); });
  EXPECT_NE(e.find("unknown trait"), std::string::npos) << e;
  e = error_of([] { ask("vllm@pr40808", "sm110", "bf16", {{"activation", "swish"}}); });
  EXPECT_NE(e.find("not allowed"), std::string::npos) << e;
  e = error_of([] { ask("vllm@pr40808", "sm110", "bf16", {{"dp_size", "two"}}); });
  EXPECT_NE(e.find("not an integer"), std::string::npos) << e;
  e = error_of([] { ask("trtllm@main", "sm110", "bf16"); });
  EXPECT_NE(e.find("unknown framework"), std::string::npos) << e;
  e = error_of([] { ask("vllm", "sm110", "bf16"); });
  EXPECT_NE(e.find("NAME@REVISION"), std::string::npos) << e;
  e = error_of([] { ask("vllm@pr40808", "sm110", "bf16", {}, {}, "zero.six"); });
  EXPECT_NE(e.find("not a version"), std::string::npos) << e;
  e = error_of([] { parse_assignment("VLLM_X", "--env"); });
  EXPECT_NE(e.find("NAME=VALUE"), std::string::npos) << e;
  EXPECT_THROW(parse_assignment("=1", "--env"), InputError);
  EXPECT_EQ(parse_assignment("A=b=c", "--env").second, "b=c");
}

// --- rendering and CLI ------------------------------------------------------------------------

TEST(OracleOutput, Dot) {
  auto d = ask("vllm@pr40808", "sm110", "bf16", kNemotronBf16);
  // The JSON and text renderings are tested in tests/reports/oracle_report_test.cpp.
  EXPECT_EQ(d.backend, "triton");
  OracleQuery q{"vllm@pr40808", "sm110", "bf16", "", {}, kNemotronBf16};
  std::string dot = decision_graph_dot(q, moesim::models_dir());
  EXPECT_EQ(dot.rfind("digraph", 0), 0u);
  EXPECT_NE(dot.find("FLASHINFER_CUTLASS"), std::string::npos);
  EXPECT_NE(dot.find("fi_cutlass.device"), std::string::npos);
}

struct Run {
  int rc;
  std::string out;
};
Run run_cli(const std::string& args) {
  std::string cmd = std::string(MOESIM_BINARY) + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  int st = pclose(p.release());
  return {WEXITSTATUS(st), out};
}

// decided_by lists exactly the inputs the evaluated rules read: a given input that no rule
// consulted (top_k on the bf16 path) is absent, so a user sees it did not matter.
TEST(OracleOutput, DecidedByNamesTheInputsRead) {
  auto d = ask("vllm@pr40808", "sm90", "bf16", {{"top_k", "8"}},
               {{"VLLM_USE_FLASHINFER_MOE_FP16", "1"}, {"VLLM_FLASHINFER_MOE_BACKEND", "latency"}});
  EXPECT_EQ(d.backend, "flashinfer_cutlass");  // latency maps to CUTLASS off the SM10x family
  auto has = [&](const std::string& x) { return std::find(d.decided_by.begin(), d.decided_by.end(), x) != d.decided_by.end(); };
  EXPECT_TRUE(has("device"));
  EXPECT_TRUE(has("env:VLLM_USE_FLASHINFER_MOE_FP16"));
  EXPECT_TRUE(has("env:VLLM_FLASHINFER_MOE_BACKEND"));
  EXPECT_FALSE(has("trait:top_k"));
  EXPECT_EQ(d.revision_spec, "pr40808");
  EXPECT_TRUE(d.revision_note.empty());
  auto t = ask("vllm@v0.19.0", "sm100", "bf16");
  EXPECT_EQ(t.revision, "pr38169");
  EXPECT_NE(t.revision_note.find("release tag v0.19.0"), std::string::npos) << t.revision_note;
}

TEST(OracleCli, ExitCodesAndOneLineErrors) {
  auto ok = run_cli("oracle --framework vllm@pr40808 --device sm110 --quant bf16 --trait activation=relu2_no_mul --json");
  EXPECT_EQ(ok.rc, 0) << ok.out;
  EXPECT_EQ(boost::json::parse(ok.out).at("backend").as_string(), "triton");
  auto bad_dev = run_cli("oracle --framework vllm@pr40808 --device sm999 --quant bf16");
  EXPECT_EQ(bad_dev.rc, 2);
  EXPECT_EQ(std::count(bad_dev.out.begin(), bad_dev.out.end(), '\n'), 1) << bad_dev.out;
  auto bad_env = run_cli("oracle --framework vllm@pr40808 --device sm110 --quant bf16 --env NOEQUALS");
  EXPECT_EQ(bad_env.rc, 2) << bad_env.out;
  auto bad_rev = run_cli("oracle --framework vllm@nope --device sm110 --quant bf16");
  EXPECT_EQ(bad_rev.rc, 2) << bad_rev.out;
  // the framework itself raising is a finding (exit 1), not bad input
  auto raises = run_cli("oracle --framework vllm@v0 --device a100 --quant bf16 --env VLLM_USE_FLASHINFER_MOE_FP16=1");
  EXPECT_EQ(raises.rc, 1) << raises.out;
}

}  // namespace
}  // namespace moesim::oracle
