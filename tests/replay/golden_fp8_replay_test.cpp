// Hardware truth for the fp8 w8a8 Triton variants: the golden traces tests/data/golden/
// triton_fp8_*.h5 were recorded on an H100 by scripts/gpu/capture_triton_moe.py running vLLM's
// real Triton fused_moe_kernel (use_fp8_w8a8), with the activation quantizers run as torch ops
// doing the arithmetic of vLLM's CUDA ops. Every stage, and the quantization scales, must
// replay bit-identically for a variant labelled hw-verified.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "sim/core/error.hpp"
#include "traces/h5.hpp"
#include "traces/trace_io.hpp"

namespace moesim::replay {
namespace {

std::filesystem::path golden_dir() { return std::filesystem::path(MOESIM_TEST_DATA_DIR) / "golden"; }

std::vector<std::string> fp8_traces() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(golden_dir(), ec))
    if (e.path().extension() == ".h5" && e.path().filename().string().rfind("triton_fp8_", 0) == 0)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

struct Replayed {
  traces::Trace trace;
  kernels::VariantSpec spec;
  CallInputs call;
  std::map<std::string, kernels::EmuBuffer> golden;
  ReplayResult result;
};

Replayed replay(const std::string& path, const std::map<std::string, boost::json::value>& overrides = {}, int threads = 2) {
  Replayed r;
  r.trace = traces::read_trace(path);
  r.spec = kernels::find_variant(r.trace.context.backend);
  EXPECT_TRUE(apply_triton_tactic(r.spec, r.trace.context.tactic, path));
  for (const auto& [k, v] : overrides) r.spec.params[k] = v;
  r.call = call_inputs_from_trace(r.trace, 0);
  r.golden = golden_from_trace(r.trace, 0);
  const auto weights = open_trace_weights(path);
  ReplayOptions opt;
  opt.threads = threads;
  r.result = run_replay(r.spec, r.call, *weights, opt);
  return r;
}

// Golden f32 dataset read directly (the trace reader keeps *_scale siblings out of the
// intermediates).
std::vector<float> golden_f32(const std::string& path, const std::string& name) {
  const h5::File f = h5::File::open_read(path);
  return f.read<float>("/calls/0000/golden/" + name, h5::Scalar::F32);
}

TEST(GoldenFp8Replay, TracesArePresent) { EXPECT_GE(fp8_traces().size(), 4u); }

TEST(GoldenFp8Replay, EveryStageIsBitIdenticalToH100) {
  std::set<std::string> variants;
  for (const auto& path : fp8_traces()) {
    SCOPED_TRACE(path);
    const Replayed r = replay(path);
    variants.insert(r.spec.id);
    EXPECT_TRUE(r.result.findings.empty());
    const ReplayDiff d = diff_against_golden(r.result, r.golden, r.call, "golden");
    ASSERT_TRUE(d.output_compared);
    std::size_t compared = 0;
    for (const auto& s : d.stages) {
      if (!s.compared) continue;
      ++compared;
      const kernels::StageSpec* st = r.spec.stage(s.stage);
      ASSERT_NE(st, nullptr);
      if (r.spec.fidelity == "hw-verified" || st->fidelity == "hw-verified") {
        EXPECT_TRUE(s.diff.bit_identical()) << "stage " << s.stage << ": " << s.diff.identical << "/" << s.diff.count
                                            << " identical, max_abs " << s.diff.max_abs;
      }
    }
    EXPECT_EQ(compared, 6u);  // a1q, gemm1_out, act_out, a2q, gemm2_out, output
    // The quantization scales (secondary outputs of the quantize stages).
    for (const char* name : {"a1q_scale", "a2q_scale"}) {
      const std::vector<float> want = golden_f32(path, name);
      const kernels::EmuBuffer& got = r.result.buffers.at(name);
      ASSERT_EQ(static_cast<std::size_t>(got.size()), want.size()) << name;
      EXPECT_EQ(std::memcmp(got.data<float>(), want.data(), want.size() * 4), 0) << name << " differs";
    }
    if (r.spec.fidelity == "hw-verified") {
      EXPECT_TRUE(d.output.bit_identical()) << d.output.identical << "/" << d.output.count;
      EXPECT_FALSE(d.first_divergence.has_value()) << *d.first_divergence;
    }
    // The torch fp32 reference (dequantized weights, unquantized activations) is close, not equal.
    const auto ref = r.golden.find("torch_fp32_output");
    ASSERT_NE(ref, r.golden.end());
    const BufferDiff rd = diff_buffers(r.result.output(), ref->second,
                                       RowMap{r.call.problem.num_tokens, r.call.problem.top_k, &r.call.topk_ids});
    EXPECT_LT(rd.rel_l2, 0.1);
    EXPECT_GT(rd.rel_l2, 0.0);
  }
  EXPECT_EQ(variants, (std::set<std::string>{"triton_fp8_block128", "triton_fp8_per_tensor"}));
}

// The capture recorded the PTX/SASS MMA instructions of every launch: BLOCK_SIZE_M >= 64 is
// wgmma e4m3 (QGMMA), below it Triton upcasts to fp16 and uses mma.sync m16n8k16 (HMMA). The
// variant's instruction rule (params wgmma_min_block_m, mma_wgmma, mma_sync) must agree.
TEST(GoldenFp8Replay, InstructionRuleMatchesRecordedKernels) {
  for (const auto& path : fp8_traces()) {
    SCOPED_TRACE(path);
    const traces::Trace t = traces::read_trace(path);
    kernels::VariantSpec spec = kernels::find_variant(t.context.backend);
    ASSERT_TRUE(apply_triton_tactic(spec, t.context.tactic, path));
    const bool wgmma = spec.param_int("block_m", 0) >= spec.param_int("wgmma_min_block_m", 64);
    const std::string inst = wgmma ? spec.param_string("mma_wgmma", "") : spec.param_string("mma_sync", "");
    const boost::json::value cap = boost::json::parse(t.calls.at(0).attrs.at("capture"));
    const auto& launches = cap.at("launches").as_array();
    ASSERT_EQ(launches.size(), 2u);  // GEMM1, GEMM2
    for (const auto& l : launches) {
      const auto& ptx = l.at("ptx").as_array();
      ASSERT_EQ(ptx.size(), 1u);
      const std::string p(ptx[0].as_string());
      if (wgmma) {
        EXPECT_EQ(inst, "hopper:wgmma.e4m3.f32");
        EXPECT_NE(p.find("wgmma.mma_async"), std::string::npos) << p;
        EXPECT_NE(p.find("k32.f32.e4m3.e4m3"), std::string::npos) << p;
      } else {
        EXPECT_EQ(inst, "hopper:mma.f16.f32");
        EXPECT_EQ(p, "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32");
      }
    }
  }
}

// The recorded outputs discriminate between the plausible alternatives: each one already
// differs from the H100 on the traces it applies to.
TEST(GoldenFp8Replay, AlternativesDifferFromHardware) {
  auto mismatches = [](const Replayed& r) {
    const ReplayDiff d = diff_against_golden(r.result, r.golden, r.call, "golden");
    std::int64_t n = 0;
    for (const auto& s : d.stages)
      if (s.compared) n += s.diff.count - s.diff.identical;
    return n;
  };
  std::int64_t fma_off = 0, e4m3_small = 0, f16_large = 0;
  for (const auto& path : fp8_traces()) {
    const traces::Trace t = traces::read_trace(path);
    const bool small_m = t.context.tactic.find("BLOCK_SIZE_M=16,") != std::string::npos;
    if (t.context.backend == "triton_fp8_block128")
      fma_off += mismatches(replay(path, {{"block_accumulate", boost::json::value("mul_then_add")}}));
    if (small_m) e4m3_small += mismatches(replay(path, {{"mma_sync", boost::json::value("hopper:wgmma.e4m3.f32")}}));
    else f16_large += mismatches(replay(path, {{"mma_wgmma", boost::json::value("hopper:mma.f16.f32")}}));
  }
  EXPECT_GT(fma_off, 0) << "acc + t * b_scale without FMA contraction";
  EXPECT_GT(e4m3_small, 0) << "e4m3 T-FDPA model for the mma.sync (fp16-upcast) kernels";
  EXPECT_GT(f16_large, 0) << "fp16 T-FDPA model for the wgmma e4m3 kernels";
  std::cout << "mismatching elements: mul_then_add " << fma_off << ", e4m3 model for BM16 " << e4m3_small
            << ", fp16 model for BM64 " << f16_large << "\n";
}

TEST(GoldenFp8Replay, ThreadCountDoesNotChangeBits) {
  for (const auto& path : fp8_traces()) {
    SCOPED_TRACE(path);
    const Replayed a = replay(path, {}, 1), b = replay(path, {}, 2);
    for (const auto& [name, buf] : a.result.buffers) {
      const auto& other = b.result.buffers.at(name);
      ASSERT_EQ(buf.bytes().size(), other.bytes().size()) << name;
      EXPECT_EQ(std::memcmp(buf.bytes().data(), other.bytes().data(), buf.bytes().size()), 0) << name;
    }
  }
}


// Wrong weights or shapes for the variant are input errors naming what is wrong, never a crash.
TEST(GoldenFp8Replay, MismatchedTracesAreInputErrors) {
  auto expect_error = [](const std::string& path, const std::string& variant, const std::string& needle) {
    SCOPED_TRACE(path + " with " + variant);
    const traces::Trace t = traces::read_trace(path);
    kernels::VariantSpec spec = kernels::find_variant(variant);
    apply_triton_tactic(spec, t.context.tactic, path);
    const CallInputs call = call_inputs_from_trace(t, 0);
    const auto weights = open_trace_weights(path);
    try {
      run_replay(spec, call, *weights);
      ADD_FAILURE() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string dir = golden_dir().string() + "/";
  expect_error(dir + "triton_bf16_e8k2.h5", "triton_fp8_per_tensor", "expected fp8_e4m3fn");
  expect_error(dir + "triton_fp8_pt_bm16_e4k2.h5", "triton_fp8_block128", "not a multiple of the group size 128");
  expect_error(dir + "triton_fp8_blk_bm64_e3k2.h5", "triton_fp8_per_tensor", "f32 weight scales per expert");
  expect_error(dir + "triton_fp8_pt_bm64_e10k8.h5", "triton_bf16", "expected bf16");
}

}  // namespace
}  // namespace moesim::replay
