// Hardware truth: the committed golden traces under tests/data/golden were recorded on an
// H100 by scripts/gpu/capture_triton_moe.py running vLLM's real Triton fused_moe_kernel.
// Every variant labelled hw-verified must replay them 100.000% bit-identically, at every
// stage that has a golden intermediate; stages labelled hw-verified must match too.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "sim/kernels/triton_moe_numerics.hpp"
#include "traces/trace_io.hpp"
#include "traces/h5.hpp"

namespace moesim::replay {
namespace {

std::filesystem::path golden_dir() { return std::filesystem::path(MOESIM_TEST_DATA_DIR) / "golden"; }

std::vector<std::string> golden_traces() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(golden_dir(), ec))
    if (e.path().extension() == ".h5" && e.path().filename().string().rfind("triton_bf16_", 0) == 0)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GoldenReplay, TracesArePresent) { EXPECT_GE(golden_traces().size(), 4u); }

TEST(GoldenReplay, TritonBf16IsBitIdenticalToH100) {
  const kernels::VariantSpec base = kernels::find_variant("triton_bf16");
  for (const auto& path : golden_traces()) {
    SCOPED_TRACE(path);
    const traces::Trace t = traces::read_trace(path);
    ASSERT_EQ(t.context.backend, "triton_bf16");
    kernels::VariantSpec spec = base;
    ASSERT_TRUE(apply_triton_tactic(spec, t.context.tactic, path));
    const CallInputs call = call_inputs_from_trace(t, 0);
    const auto golden = golden_from_trace(t, 0);
    const auto weights = open_trace_weights(path);
    const ReplayResult r = run_replay(spec, call, *weights);
    EXPECT_TRUE(r.findings.empty());
    const ReplayDiff d = diff_against_golden(r, golden, call, "golden");
    ASSERT_TRUE(d.output_compared);
    std::size_t compared = 0;
    for (const auto& s : d.stages) {
      if (!s.compared) continue;
      ++compared;
      const kernels::StageSpec* st = spec.stage(s.stage);
      ASSERT_NE(st, nullptr);
      if (spec.fidelity == "hw-verified" || st->fidelity == "hw-verified") {
        EXPECT_TRUE(s.diff.bit_identical()) << "stage " << s.stage << ": " << s.diff.identical << "/" << s.diff.count
                                            << " identical, max_abs " << s.diff.max_abs;
      }
    }
    EXPECT_EQ(compared, 4u);  // gemm1_out, act_out, gemm2_out, output
    if (spec.fidelity == "hw-verified") {
      EXPECT_TRUE(d.output.bit_identical()) << d.output.identical << "/" << d.output.count;
      EXPECT_FALSE(d.first_divergence.has_value()) << *d.first_divergence;
    }
    // The torch fp32 reference recorded beside it is close to, not equal to, the kernel.
    const auto ref = golden.find("torch_fp32_output");
    ASSERT_NE(ref, golden.end());
    const BufferDiff rd = diff_buffers(r.output(), ref->second, RowMap{call.problem.num_tokens, call.problem.top_k, &call.topk_ids});
    EXPECT_LT(rd.rel_l2, 3e-2);
  }
}

// silu's first rounding over every bf16 input against torch's CUDA silu on the H100
// (x / (1 + expf(-x)) in fp32, non-fast-math expf, rounded to bf16).
TEST(GoldenReplay, SiluTableAgainstH100) {
  const auto path = (golden_dir() / "silu_bf16_table.h5").string();
  const h5::File f = h5::File::open_read(path);
  const std::vector<std::uint16_t> table = f.read<std::uint16_t>("/silu", h5::Scalar::U16);
  ASSERT_EQ(table.size(), 65536u);
  std::int64_t mismatches = 0, nan_inputs = 0;
  for (std::uint32_t x = 0; x < 65536; ++x) {
    if (((x >> 7) & 0xFF) == 0xFF && (x & 0x7F)) {
      ++nan_inputs;
      continue;  // NaN payloads: any NaN is fine
    }
    mismatches += kernels::triton::silu_bf16(static_cast<std::uint16_t>(x)) != table[x];
  }
  const kernels::VariantSpec spec = kernels::find_variant("triton_bf16");
  if (spec.stage("activation")->fidelity == "hw-verified") {
    EXPECT_EQ(mismatches, 0);
  }
  RecordProperty("silu_mismatches", std::to_string(mismatches));
  std::cout << "silu_bf16 vs H100: " << mismatches << " mismatches over " << 65536 - nan_inputs << " inputs\n";
}

}  // namespace
}  // namespace moesim::replay
