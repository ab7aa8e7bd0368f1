// moesim import hf-checkpoint on tiny sharded checkpoints written by tests/traces/import/py/
// hf_fixture.py (plain Python + numpy, real names, dtypes and index JSON). Two independent
// checks per format:
//  1. the imported /weights, decoded by numpy from the trace-format definition
//     (check_weights.py), equal exactly the values the checkpoint stands for, as numpy
//     computes them from the checkpoint format's definition (E2M1/E4M3/E8M0 LUTs, DeepSeek
//     scale_inv blocks, gpt-oss row interleave, vLLM's gate weight_scale_2 for w13);
//  2. with calls from `moesim synth`, the trace replays through a kernel variant and stays
//     within the bound its format allows against the fp64 reference (which reads the same
//     weights exactly, so the distance is the variant's own rounding):
//     - bf16 (Triton): GEMM1 is fp32-accumulated exact bf16 products rounded once to bf16
//       (<= 2^-9 relative per element): rel L2 < 2^-8; the layer output passes four bf16
//       roundings (gemm1, activation, gemm2, finalize): < 2^-6;
//     - fp8 128x128 (Triton w8a8): activations rounded to e4m3 (<= 2^-4 relative per normal
//       element) once before GEMM1: < 2^-4; requantized again before GEMM2: output < 2^-3;
//     - NVFP4 (TRTLLM-gen): e2m1 activations with e4m3 block scales put rel L2 near 0.15; a
//       lost, doubled or swapped global scale puts it near or above 1: output < 0.5;
//     - gpt-oss MXFP4 with biases (triton_kernels_mxfp4_sm90, the fp32-accumulating Hopper
//       wgmma path): the e2m1 x ue8m0 weights upcast to bf16 exactly (scales 2^-6..2^-3 keep
//       every product normal) and bf16 x bf16 products are exact in fp32, so GEMM1 differs
//       from fp64 only by the fp32 chain of 16 k16 steps (H 256) and the bias add, each
//       <= 2^-23 relative to the running sum's magnitude; with random signs the sum of |terms|
//       is ~sqrt(H) = 16 times |sum|: rel L2 << 16 * 16 * 2^-23 = 2^-15 < 2^-12 (measured
//       2.7e-8; a lost or mis-ordered bias, ~N(0, 0.5) against O(1) sums, gives ~0.3);
//       the swiglu output is rounded once to bf16 (<= 2^-9 relative per element; the
//       ex2.approx / rcp error ~2^-22 is far below): activation < 2^-8 (measured 1.6e-3);
//       the output adds the bf16 router weight (2^-9), the bf16 GEMM2 store (2^-9) and the
//       bf16 top-k sum (2^-9) to that, four bf16 roundings like the bf16 case: < 2^-6
//       (measured 3.4e-3).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "tests/traces/import/import_test_util.hpp"

namespace {

using namespace moesim::testing;
namespace fs = std::filesystem;

double stage_rel_l2(const std::string& json, const std::string& stage) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON: " << json.substr(0, 400);
    return 1e9;
  }
  const auto& d = v.as_object().at("calls").as_array().at(0).as_object().at("diff").as_object();
  for (const auto& s : d.at("stages").as_array())
    if (s.as_object().at("stage").as_string() == stage && s.as_object().at("compared").as_bool())
      return s.as_object().at("diff").as_object().at("rel_l2").as_double();
  ADD_FAILURE() << "stage " << stage << " not compared in " << json.substr(0, 400);
  return 1e9;
}

struct Imported {
  fs::path dir, trace;
};

Imported import_format(const std::string& fmt, const std::string& extra = "", const std::string& fixture_opts = "") {
  Imported r;
  r.dir = fresh_dir("hf_" + fmt + (fixture_opts.empty() ? "" : "_x"));
  const fs::path ck = r.dir / "ckpt";
  auto w = run_sh(import_py("hf_fixture.py") + " " + fmt + " " + ck.string() + " " + fixture_opts);
  EXPECT_EQ(w.rc, 0) << w.out;
  const std::string calls = (r.dir / "calls.h5").string();
  auto s = run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 256 --intermediate 128 -t 16 --activations --seed 1 -o " + calls);
  EXPECT_EQ(s.rc, 0) << s.out;
  r.trace = r.dir / "out.h5";
  auto i = run_moesim("import hf-checkpoint " + ck.string() + " --layer 1 --calls " + calls + " -o " + r.trace.string() + " " + extra);
  EXPECT_EQ(i.rc, 0) << i.out;
  auto c = run_sh(import_py("check_weights.py") + " " + r.trace.string() + " " + (ck / "expected").string());
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("ok 8"), std::string::npos) << c.out;  // 4 experts x (w13, w2)
  return r;
}

struct Refusal {
  int rc;
  std::string out;
};

Refusal import_expect_fail(const fs::path& ck, const std::string& dir, const std::string& extra) {
  const std::string calls = (fs::path(dir) / "calls.h5").string();
  if (!fs::exists(calls))
    run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 256 --intermediate 128 -t 4 --activations -o " + calls);
  auto r = run_moesim("import hf-checkpoint " + ck.string() + " --calls " + calls + " -o " + dir + "/bad.h5 " + extra);
  EXPECT_FALSE(fs::exists(dir + "/bad.h5")) << "a failed import left an output";
  return {r.rc, r.out};
}

std::string replay(const Imported& r, const std::string& variant) {
  auto x = run_moesim("replay " + r.trace.string() + " --variant " + variant + " --against reference --json", false);
  EXPECT_LE(x.rc, 1) << x.out;
  return x.out;
}

TEST(ImportHfCheckpoint, Bf16Qwen3ShardedWeightsExactAndReplayWithinBf16Bounds) {
  const auto r = import_format("bf16");
  const auto j = replay(r, "triton_bf16");
  EXPECT_LT(stage_rel_l2(j, "gemm1"), 1.0 / 256);
  EXPECT_LT(stage_rel_l2(j, "finalize"), 1.0 / 64);
}

TEST(ImportHfCheckpoint, Bf16MixtralNamingW1W3W2) {
  const auto r = import_format("bf16-mixtral");
  const auto j = replay(r, "triton_bf16");
  EXPECT_LT(stage_rel_l2(j, "gemm1"), 1.0 / 256);
}

TEST(ImportHfCheckpoint, Fp8BlockDeepSeekScaleInvExactAndReplayWithinE4m3Bounds) {
  const auto r = import_format("fp8");
  const auto j = replay(r, "triton_fp8_block128");
  const double g1 = stage_rel_l2(j, "gemm1");
  EXPECT_LT(g1, 1.0 / 16);
  EXPECT_GT(g1, 0.0);
  EXPECT_LT(stage_rel_l2(j, "finalize"), 1.0 / 8);
}

TEST(ImportHfCheckpoint, Nvfp4ModelOptExactWithGateScale2AndReplayWithinNvfp4Bound) {
  const auto r = import_format("nvfp4");
  const auto j = replay(r, "flashinfer_trtllm_nvfp4");
  EXPECT_LT(stage_rel_l2(j, "finalize"), 0.5);
}

TEST(ImportHfCheckpoint, Nvfp4MixedPrecisionMapIsRead) {
  import_format("nvfp4-mixed");
}

TEST(ImportHfCheckpoint, Mxfp4GptOssWithBiasesExactAndTritonKernelsReplayWithinBounds) {
  const auto r = import_format("mxfp4");
  // The biases (BF16 gate_up interleaved like the rows, F32 down) equal numpy's decoding.
  auto c = run_sh(import_py("check_weights.py") + " " + r.trace.string() + " " + (r.dir / "ckpt" / "expected").string());
  EXPECT_NE(c.out.find("ok 8 biases 8"), std::string::npos) << c.out;
  auto ins = run_moesim("inspect " + r.trace.string());
  EXPECT_NE(ins.out.find("biases f32 w13_bias[4,256] w2_bias[4,256]"), std::string::npos) << ins.out;
  const auto j = replay(r, "triton_kernels_mxfp4_sm90");
  EXPECT_LT(stage_rel_l2(j, "gemm1"), 1.0 / 4096);
  EXPECT_LT(stage_rel_l2(j, "activation"), 1.0 / 256);
  EXPECT_LT(stage_rel_l2(j, "finalize"), 1.0 / 64);
}

// Biases are never dropped silently: a variant that does not model them refuses the trace,
// naming the variants that do.
TEST(ImportHfCheckpoint, Mxfp4BiasedTraceIsRefusedByAVariantWithoutBiases) {
  const auto r = import_format("mxfp4");
  auto x = run_moesim("replay " + r.trace.string() + " --variant flashinfer_cutlass_mxfp4_bf16_sm90 --against reference");
  EXPECT_EQ(x.rc, 2) << x.out;
  EXPECT_TRUE(one_line(x.out)) << x.out;
  EXPECT_NE(x.out.find("biases"), std::string::npos) << x.out;
  EXPECT_NE(x.out.find("flashinfer_cutlass_mxfp4_bf16_sm90"), std::string::npos) << x.out;
  EXPECT_NE(x.out.find("triton_kernels_mxfp4_sm90"), std::string::npos) << x.out;
  EXPECT_NE(x.out.find("reference_fp64"), std::string::npos) << x.out;
}

// All-zero biases are not imported (a replay without them is the same), with a note.
TEST(ImportHfCheckpoint, Mxfp4ZeroBiasesAreNotImported) {
  const auto r = import_format("mxfp4", "", "--hostile zero-bias");
  auto c = run_sh(import_py("check_weights.py") + " " + r.trace.string() + " " + (r.dir / "ckpt" / "expected").string());
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_EQ(c.out.find("biases"), std::string::npos) << c.out;
  auto x = run_moesim("replay " + r.trace.string() + " --variant triton_kernels_mxfp4_sm90 --against reference", false);
  EXPECT_LE(x.rc, 1) << x.out;
}

// Several gpt-oss layers: each layer's biases are its own; layers disagreeing on having
// biases are refused naming them.
TEST(ImportHfCheckpoint, Mxfp4MultiLayerBiasesPerLayerAndLayersMustAgree) {
  const auto d = fresh_dir("hf_mx_multi");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " mxfp4 " + (d / "ck").string() + " --moe-layers 2").rc, 0);
  const std::string calls = (d / "calls.h5").string(), out = (d / "two.h5").string();
  ASSERT_EQ(run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 256 --intermediate 128 -t 4 --activations -o " + calls).rc, 0);
  auto i = run_moesim("import hf-checkpoint " + (d / "ck").string() + " --layers 1,2 --calls " + calls + " -o " + out);
  ASSERT_EQ(i.rc, 0) << i.out;
  for (int l = 1; l <= 2; ++l) {
    char g[32];
    std::snprintf(g, sizeof g, "layers/%04d/weights", l);
    auto c = run_sh(import_py("check_weights.py") + " " + out + " " + (d / "ck" / "expected" / std::to_string(l)).string() + " " + g);
    EXPECT_NE(c.out.find("ok 8 biases 8"), std::string::npos) << l << ": " << c.out;
  }
  auto x = run_moesim("replay " + out + " --variant triton_kernels_mxfp4_sm90 --against reference --layer 2", false);
  EXPECT_LE(x.rc, 1) << x.out;
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " mxfp4 " + (d / "ck2").string() + " --moe-layers 2 --hostile layer2-no-bias").rc, 0);
  auto bad = import_expect_fail(d / "ck2", d.string(), "--layers 1,2");
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_TRUE(one_line(bad.out)) << bad.out;
  EXPECT_NE(bad.out.find("layer(s) 1 have expert biases, layer(s) 2 have none"), std::string::npos) << bad.out;
}

// Several MoE layers (--layers all / a list) into one multi-layer trace: each layer's
// /layers/LLLL/weights equal exactly what numpy computes from that layer's checkpoint tensors,
// the --calls are replayed in every layer, and replay reports per layer.
TEST(ImportHfCheckpoint, MultiLayerFp8AllLayersExactPerLayerAndReplayed) {
  const auto d = fresh_dir("hf_multi");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " fp8 " + (d / "ck").string() + " --moe-layers 3").rc, 0);
  const std::string calls = (d / "calls.h5").string(), out = (d / "all.h5").string(), two = (d / "two.h5").string();
  ASSERT_EQ(run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 256 --intermediate 128 -t 4 --activations -o " + calls).rc, 0);
  auto i = run_moesim("import hf-checkpoint " + (d / "ck").string() + " --layers all --calls " + calls + " -o " + out);
  ASSERT_EQ(i.rc, 0) << i.out;
  for (int l = 1; l <= 3; ++l) {
    char g[32];
    std::snprintf(g, sizeof g, "layers/%04d/weights", l);
    auto c = run_sh(import_py("check_weights.py") + " " + out + " " + (d / "ck" / "expected" / std::to_string(l)).string() + " " + g);
    EXPECT_EQ(c.rc, 0) << l << ": " << c.out;
    EXPECT_NE(c.out.find("ok 8"), std::string::npos) << c.out;
  }
  auto ins = run_moesim("inspect " + out);
  EXPECT_NE(ins.out.find("layers   3 (1..3)"), std::string::npos) << ins.out;
  auto x = run_moesim("replay " + out + " --variant triton_fp8_block128 --against reference --layer 3", false);
  EXPECT_LE(x.rc, 1) << x.out;
  EXPECT_NE(x.out.find("call 2 (layer 3)"), std::string::npos) << x.out;
  EXPECT_NE(x.out.find("per layer:\n  layer 3: 1 calls"), std::string::npos) << x.out;
  // A list picks layers; a layer's weights differ from another's.
  ASSERT_EQ(run_moesim("import hf-checkpoint " + (d / "ck").string() + " --layers 2,3 --calls " + calls + " -o " + two).rc, 0);
  auto c2 = run_sh(import_py("check_weights.py") + " " + two + " " + (d / "ck" / "expected" / "2").string() + " layers/0002/weights");
  EXPECT_EQ(c2.rc, 0) << c2.out;
  auto wrong = run_sh(import_py("check_weights.py") + " " + two + " " + (d / "ck" / "expected" / "2").string() + " layers/0003/weights");
  EXPECT_NE(wrong.rc, 0) << wrong.out;
}

// ---------------------------------------------------------------- refusals (exit 2, one line)

TEST(ImportHfCheckpoint, RefusesDenseLayerAndAllLayers) {
  const auto d = fresh_dir("hf_refuse");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " bf16 " + (d / "ck").string()).rc, 0);
  auto a = import_expect_fail(d / "ck", d.string(), "--layer 0");
  EXPECT_EQ(a.rc, 2);
  EXPECT_NE(a.out.find("dense"), std::string::npos) << a.out;
  EXPECT_TRUE(one_line(a.out)) << a.out;
  auto b = import_expect_fail(d / "ck", d.string(), "--layer all");
  EXPECT_EQ(b.rc, 2);
  EXPECT_NE(b.out.find("--layers"), std::string::npos) << b.out;  // several layers: --layers
  auto b2 = import_expect_fail(d / "ck", d.string(), "--layers 1,0");
  EXPECT_EQ(b2.rc, 2);
  EXPECT_NE(b2.out.find("dense"), std::string::npos) << b2.out;
  auto b3 = import_expect_fail(d / "ck", d.string(), "--layer 1 --layers all");
  EXPECT_EQ(b3.rc, 2);
  EXPECT_TRUE(one_line(b3.out)) << b3.out;
}

// --drop-biases imports without the (non-zero) biases, naming each dropped tensor; the trace
// then has none, so every MXFP4 variant replays it.
TEST(ImportHfCheckpoint, DropBiasesImportsWithoutThemLoudly) {
  const auto d = fresh_dir("hf_dropb");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " mxfp4 " + (d / "gb").string() + " --hostile nonzero-bias").rc, 0);
  ASSERT_EQ(run_moesim("synth -p qwen3-30b-a3b --experts 4 --top-k 2 --hidden 256 --intermediate 128 -t 4 --activations -o " +
                       (d / "calls.h5").string()).rc, 0);
  auto ok = run_moesim("import hf-checkpoint " + (d / "gb").string() + " --layer 1 --calls " + (d / "calls.h5").string() + " -o " +
                       (d / "gb.h5").string() + " --drop-biases");
  EXPECT_EQ(ok.rc, 0) << ok.out;
  EXPECT_NE(ok.out.find("dropped (--drop-biases): "), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("gate_up_proj_bias is non-zero"), std::string::npos) << ok.out;
  auto ins = run_moesim("inspect " + (d / "gb.h5").string());
  EXPECT_EQ(ins.out.find("biases"), std::string::npos) << ins.out;
  // Without --drop-biases the one non-zero entry is imported.
  auto kept = run_moesim("import hf-checkpoint " + (d / "gb").string() + " --layer 1 --calls " + (d / "calls.h5").string() + " -o " +
                         (d / "kept.h5").string());
  EXPECT_EQ(kept.rc, 0) << kept.out;
  auto c = run_sh(import_py("check_weights.py") + " " + (d / "kept.h5").string() + " " + (d / "gb" / "expected").string());
  EXPECT_NE(c.out.find("ok 8 biases 8"), std::string::npos) << c.out;
}

TEST(ImportHfCheckpoint, TruncatedShardNamesShard) {
  const auto d = fresh_dir("hf_trunc");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " fp8 " + (d / "ck").string()).rc, 0);
  const auto shard = d / "ck" / "model-00002-of-00002.safetensors";
  fs::resize_file(shard, fs::file_size(shard) - 100);
  auto r = import_expect_fail(d / "ck", d.string(), "--layer 1");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("model-00002-of-00002.safetensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out;
  EXPECT_TRUE(one_line(r.out)) << r.out;
}

TEST(ImportHfCheckpoint, IndexShardEscapingTheDirectoryIsRefused) {
  const auto d = fresh_dir("hf_escape");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " bf16 " + (d / "ck").string()).rc, 0);
  std::ofstream(d / "ck" / "model.safetensors.index.json") << R"({"weight_map": {"model.layers.1.mlp.experts.0.down_proj.weight": "../../etc/passwd"}})";
  auto r = import_expect_fail(d / "ck", d.string(), "--layer 1");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("not a file name"), std::string::npos) << r.out;
}

TEST(ImportHfCheckpoint, RoutingForAnotherModelIsRefused) {
  const auto d = fresh_dir("hf_mismatch");
  ASSERT_EQ(run_sh(import_py("hf_fixture.py") + " bf16 " + (d / "ck").string()).rc, 0);
  run_moesim("synth -p qwen3-30b-a3b --experts 8 --top-k 2 --hidden 256 -t 4 -o " + (d / "calls.h5").string());
  auto r = import_expect_fail(d / "ck", d.string(), "--layer 1");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("E=8"), std::string::npos) << r.out;
}

}  // namespace
