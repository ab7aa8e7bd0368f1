// bench_replay_triton_fp8: a Qwen3-30B-A3B-shaped MoE layer (E=128, K=8, H=2048, I=768, 512
// tokens by default) replayed through the vLLM Triton fp8 w8a8 variants (per tensor, 128x128
// blocks) and the bf16 variant on the same routing and the same master weights (fp8 weights
// quantized from the bf16 ones with sim/quant), in one run: times, the fp8/bf16 time ratios
// and how far the fp8 outputs are from the bf16 one.
// Usage: bench_replay_triton_fp8 [tokens] [threads]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/quant/fp8.hpp"

using namespace moesim;

namespace {
// The bf16 synthetic weights, quantized to e4m3fn per expert matrix (one scale) or per
// 128x128 block, as a checkpoint would store them.
class Fp8Weights final : public kernels::WeightProvider {
 public:
  Fp8Weights(const replay::SyntheticWeights& bf16, quant::Fp8Granularity g) : bf16_(bf16), g_(g) {}
  kernels::ExpertMatrix read(const std::string& which, std::int64_t expert) const override {
    const kernels::ExpertMatrix b = bf16_.read(which, expert);
    std::vector<float> x(static_cast<std::size_t>(b.rows * b.cols));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = kernels::bf16_to_f32(b.bf16()[i]);
    quant::Fp8Result q = quant::quantize_fp8(x.data(), b.rows, b.cols, g_);
    kernels::ExpertMatrix m;
    m.dtype = "fp8_e4m3fn";
    m.rows = b.rows;
    m.cols = b.cols;
    m.bytes = std::move(q.data);
    m.scale = std::move(q.scales);
    m.scale_shape = {q.scale_rows, q.scale_cols};
    return m;
  }

 private:
  const replay::SyntheticWeights& bf16_;
  quant::Fp8Granularity g_;
};
}  // namespace

int main(int argc, char** argv) {
  kernels::MoeProblem p;
  p.num_tokens = argc > 1 ? std::atoll(argv[1]) : 512;
  p.top_k = 8;
  p.num_experts = 128;
  p.hidden = 2048;
  p.intermediate = 768;
  const int threads = argc > 2 ? std::atoi(argv[2]) : omp_get_max_threads();
  const replay::CallInputs call = replay::synth_call(p, 2026);
  const replay::SyntheticWeights bf16(p, 30, 1.0);
  const Fp8Weights per_tensor(bf16, quant::Fp8Granularity::PerTensor);
  const Fp8Weights block(bf16, quant::Fp8Granularity::Block128x128);
  std::printf("Qwen3-30B-A3B-shaped layer: T=%lld K=8 E=128 H=2048 I=768, %d threads\n",
              static_cast<long long>(p.num_tokens), threads);
  replay::ReplayOptions ro;
  ro.threads = threads;
  auto run = [&](const std::string& id, const kernels::WeightProvider& w) {
    const replay::ReplayResult r = replay::run_replay(kernels::find_variant(id), call, w, ro);
    std::printf("%-22s %8.3f s  (", id.c_str(), r.seconds);
    for (const auto& t : r.timings) std::printf(" %s %.3f", t.stage.c_str(), t.seconds);
    std::printf(" )\n");
    return r;
  };
  // The weight providers synthesise (and quantize) an expert on every read; that cost sits
  // inside the GEMM stage times, so it is measured alone first.
  auto read_all = [&](const kernels::WeightProvider& w) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t bytes = 0;
    for (std::int64_t e = 0; e < p.num_experts; ++e) bytes += w.read("w13", e).bytes.size() + w.read("w2", e).bytes.size();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() + 0.0 * static_cast<double>(bytes);
  };
  const double rd_b = read_all(bf16), rd_p = read_all(per_tensor), rd_k = read_all(block);
  std::printf("weight provider, all experts once: bf16 %.3f s, fp8 per tensor %.3f s, fp8 block %.3f s\n", rd_b, rd_p, rd_k);
  const replay::ReplayResult rb = run("triton_bf16", bf16);
  const replay::ReplayResult rp = run("triton_fp8_per_tensor", per_tensor);
  const replay::ReplayResult rk = run("triton_fp8_block128", block);
  const replay::RowMap rows{p.num_tokens, 1, nullptr};
  const replay::BufferDiff dp = replay::diff_buffers(rp.output(), rb.output(), rows);
  const replay::BufferDiff dk = replay::diff_buffers(rk.output(), rb.output(), rows);
  std::printf("time ratio fp8_per_tensor / bf16 = %.2f, fp8_block128 / bf16 = %.2f\n", rp.seconds / rb.seconds,
              rk.seconds / rb.seconds);
  std::printf("time ratio without weight provider: fp8_per_tensor / bf16 = %.2f, fp8_block128 / bf16 = %.2f\n",
              (rp.seconds - rd_p) / (rb.seconds - rd_b), (rk.seconds - rd_k) / (rb.seconds - rd_b));
  std::printf("output vs bf16 variant: per tensor rel_l2 %.4f, block128 rel_l2 %.4f\n", dp.rel_l2, dk.rel_l2);
  return 0;
}
