// bench_replay_dsv3: a DeepSeek-V3-shaped bf16 MoE layer (E=256, K=8, H=7168, I=2048;
// ~22 GB of bf16 weights) replayed through the Triton bf16 variant with weights synthesised
// one expert at a time (what streaming per expert from HDF5 does for a real trace), and the
// peak RSS (getrusage) checked against 4 GB. Usage: bench_replay_dsv3 [tokens] [threads]
#include <omp.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

#include "replay/executor.hpp"
#include "replay/inputs.hpp"

using namespace moesim;

int main(int argc, char** argv) {
  kernels::MoeProblem p;
  p.num_tokens = argc > 1 ? std::atoll(argv[1]) : 64;
  p.top_k = 8;
  p.num_experts = 256;
  p.hidden = 7168;
  p.intermediate = 2048;
  const int threads = argc > 2 ? std::atoi(argv[2]) : omp_get_max_threads();
  const replay::CallInputs call = replay::synth_call(p, 3);
  const replay::SyntheticWeights weights(p, 3, 1.0);
  replay::ReplayOptions ro;
  ro.threads = threads;
  const double weight_gb = double(p.num_experts) * double(p.n1() * p.hidden + p.hidden * p.intermediate) * 2 / 1e9;
  std::printf("DeepSeek-V3-shaped bf16 layer: T=%lld E=256 K=8 H=7168 I=2048 (%.1f GB of weights), %d threads\n",
              static_cast<long long>(p.num_tokens), weight_gb, threads);
  const replay::ReplayResult r = replay::run_replay(kernels::find_variant("triton_bf16"), call, weights, ro);
  for (const auto& t : r.timings) std::printf("  %-10s %9.3f s\n", t.stage.c_str(), t.seconds);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double peak_gb = double(ru.ru_maxrss) * 1024.0 / 1e9;  // ru_maxrss is KiB on Linux
  std::printf("replay %.1f s, findings %zu, peak RSS %.3f GB (limit 4 GB): %s\n", r.seconds, r.findings.size(), peak_gb,
              peak_gb < 4.0 ? "OK" : "OVER");
  std::printf("peak RSS / weight bytes: %.3f\n", peak_gb / weight_gb);
  return peak_gb < 4.0 ? 0 : 1;
}
