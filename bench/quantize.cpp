// Quantize throughput (GB/s of input read) for the NVFP4 rules (single-scale and the 4-over-6
// defaults), MXFP4/MXFP8 and FP8 on the 4096x7168 anchor tensor, next to a plain memcpy of the
// same bytes, in one run; then the NVFP4 roundtrip of that tensor under every rule.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "sim/formats/fast.hpp"
#include "sim/quant/anchor_tensor.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/mx.hpp"
#include "sim/quant/nvfp4.hpp"
#include "sim/quant/sfu.hpp"

using namespace moesim::quant;

static double best_seconds(const std::function<void()>& fn, int reps = 3) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int main() {
  const std::int64_t rows = kAnchorRows, cols = kAnchorCols, n = rows * cols;
  const auto bf = anchor_tensor();
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x[i] = moesim::fmt::fast::bf16_to_f32(bf[i]);
  load_sfu_tables();
  const double bytes = static_cast<double>(n) * sizeof(float);
  std::vector<float> dst(x.size());
  const double t_copy = best_seconds([&] { std::memcpy(dst.data(), x.data(), static_cast<std::size_t>(bytes)); });
  const double copy_gbs = bytes / t_copy / 1e9;
  std::printf("tensor %lldx%lld fp32 input (%.1f MB), omp max threads %d\n", static_cast<long long>(rows),
              static_cast<long long>(cols), bytes / 1e6, omp_get_max_threads());
  std::printf("%-34s %10s %10s %12s\n", "operation", "seconds", "GB/s", "vs memcpy");
  std::printf("%-34s %10.4f %10.2f %12.3f\n", "memcpy (same bytes)", t_copy, copy_gbs, 1.0);
  const float amax = amax_abs(x.data(), n);
  auto row = [&](const char* name, const std::function<void()>& fn) {
    const double t = best_seconds(fn);
    std::printf("%-34s %10.4f %10.2f %12.3f\n", name, t, bytes / t / 1e9, (bytes / t / 1e9) / copy_gbs);
  };
  for (Nvfp4Rule r : {Nvfp4Rule::VllmKernel, Nvfp4Rule::VllmTeExact, Nvfp4Rule::TransformerEngine, Nvfp4Rule::Torchao,
                      Nvfp4Rule::ModelOpt, parse_nvfp4_rule("te-4over6"), parse_nvfp4_rule("flashinfer-4over6"),
                      parse_nvfp4_rule("flashinfer-4over6-exact")}) {
    const GlobalScale g{GlobalScale::Shape::PerTensor, {global_scale_from_amax(r, amax)}, {}};
    std::string name = "nvfp4 " + std::string(nvfp4_rule_name(r));
    row(name.c_str(), [&] { (void)quantize_nvfp4(x.data(), rows, cols, g, r); });
  }
  row("mxfp4 ocp-floor", [&] { (void)quantize_mx(x.data(), rows, cols, MxElem::E2M1, MxScaleRule::OcpFloor); });
  row("mxfp4 flashinfer-roundup", [&] { (void)quantize_mx(x.data(), rows, cols, MxElem::E2M1, MxScaleRule::FlashinferRoundUp); });
  row("mxfp8 e4m3 rceil", [&] { (void)quantize_mx(x.data(), rows, cols, MxElem::E4M3, MxScaleRule::Rceil); });
  row("fp8 per-token", [&] { (void)quantize_fp8(x.data(), rows, cols, Fp8Granularity::PerToken); });
  row("fp8 block-128x128", [&] { (void)quantize_fp8(x.data(), rows, cols, Fp8Granularity::Block128x128); });
  // NVFP4 roundtrip (quantize + dequantize) of the whole tensor under each rule.
  std::printf("\nroundtrip %lldx%lld bf16 anchor tensor (error relative to each 16-block amax):\n", static_cast<long long>(rows),
              static_cast<long long>(cols));
  Nvfp4Result ref, te448, fi_exact;
  for (Nvfp4Rule r : all_nvfp4_rules()) {  // the six single-scale rules, then every 4-over-6 variant
    const GlobalScale g{GlobalScale::Shape::PerTensor, {global_scale_from_amax(r, amax)}, {}};
    const auto q = quantize_nvfp4(x.data(), rows, cols, g, r);
    if (r == Nvfp4Rule::VllmKernel) ref = q;
    if (nvfp4_rule_name(r) == "te-4over6-e448") te448 = q;
    if (nvfp4_rule_name(r) == "flashinfer-4over6-exact") fi_exact = q;
    std::int64_t dsf = 0, dpk = 0;
    for (std::size_t i = 0; i < q.scales.size(); ++i) dsf += q.scales[i] != ref.scales[i];
    for (std::size_t i = 0; i < q.packed.size(); ++i) dpk += q.packed[i] != ref.packed[i];
    const auto d = dequantize_nvfp4(q, rows, cols, g, r);
    double worst = 0, sum = 0, sq = 0, ref_sq = 0;
    std::int64_t blocks = 0;
    for (std::int64_t b = 0; b < n / 16; ++b) {
      double bmax = 0, berr = 0;
      for (int j = 0; j < 16; ++j) {
        bmax = std::max(bmax, std::fabs(double(x[b * 16 + j])));
        const double e = double(d[b * 16 + j]) - x[b * 16 + j];
        berr = std::max(berr, std::fabs(e));
        sq += e * e;
        ref_sq += double(x[b * 16 + j]) * x[b * 16 + j];
      }
      if (bmax == 0) continue;
      worst = std::max(worst, berr / bmax);
      sum += berr / bmax;
      ++blocks;
    }
    std::printf("  %-40s max %.4f  mean %.4f  rel.MSE %.3e | vs vllm-kernel: %7lld scale bytes, %8lld data bytes differ\n",
                std::string(nvfp4_rule_name(r)).c_str(), worst, sum / blocks, sq / ref_sq, static_cast<long long>(dsf),
                static_cast<long long>(dpk));
  }
  // TE and FlashInfer 4-over-6 with the same global scale (E = 448) and exact reciprocals differ
  // only through their error domains.
  std::int64_t dsf = 0, dpk = 0;
  for (std::size_t i = 0; i < te448.scales.size(); ++i) dsf += te448.scales[i] != fi_exact.scales[i];
  for (std::size_t i = 0; i < te448.packed.size(); ++i) dpk += te448.packed[i] != fi_exact.packed[i];
  std::printf("te-4over6-e448 vs flashinfer-4over6-exact: %lld scale bytes, %lld data bytes differ\n",
              static_cast<long long>(dsf), static_cast<long long>(dpk));
  return 0;
}
