// bench_replay_qwen3: a Qwen3-30B-A3B-shaped bf16 MoE layer (E=128, K=8, H=2048, I=768,
// 4096 tokens by default, random weights) replayed through the vLLM Triton bf16 variant
// (bit-accurate Hopper FDPA emulation), next to PyTorch CPU peers on the same trace in the
// same run (bench/torch_peers.py: a sorted one-matmul-per-expert MoE in fp32 and in bf16, on
// Debian's OpenBLAS with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE cleared; 1 and N threads; the
// BLAS library and kernel it ran are printed). The peers run before and after the replay and
// the best time of each counts. Also prints the fp32 FMA peak (registers) so that the replay's
// CPU-ns per MAC can be read against the machine's limit.
// Usage: bench_replay_qwen3 [tokens] [threads] [also_1_thread: 0|1]
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "bench/common.hpp"
#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"

using namespace moesim;

namespace {
template <class T>
void dump(const std::filesystem::path& p, const T* data, std::size_t n) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(T)));
}

double best_peer(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b, const std::string& k) {
  double x = bench::kv_seconds(a, k), y = bench::kv_seconds(b, k);
  if (x < 0 || (y > 0 && y < x)) x = y;
  return x;
}
}  // namespace

int main(int argc, char** argv) {
  kernels::MoeProblem p;
  p.num_tokens = argc > 1 ? std::atoll(argv[1]) : 4096;
  p.top_k = 8;
  p.num_experts = 128;
  p.hidden = 2048;
  p.intermediate = 768;
  const int threads = argc > 2 ? std::atoi(argv[2]) : omp_get_max_threads();
  const bool also1 = argc > 3 && std::atoi(argv[3]) != 0 && threads > 1;
  const replay::CallInputs call = replay::synth_call(p, 2026);
  const replay::SyntheticWeights weights(p, 30, 1.0);

  const auto dir = std::filesystem::temp_directory_path() / ("moesim_bench_qwen3_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  dump(dir / "hidden.u16", call.hidden_states.data(), call.hidden_states.size());
  dump(dir / "ids.i32", call.topk_ids.data(), call.topk_ids.size());
  dump(dir / "weights.f32", call.topk_weights.data(), call.topk_weights.size());
  {
    std::ofstream w13(dir / "w13.u16", std::ios::binary), w2(dir / "w2.u16", std::ios::binary);
    for (std::int64_t e = 0; e < p.num_experts; ++e) {
      const auto a = weights.read("w13", e), b = weights.read("w2", e);
      w13.write(reinterpret_cast<const char*>(a.bytes.data()), static_cast<std::streamsize>(a.bytes.size()));
      w2.write(reinterpret_cast<const char*>(b.bytes.data()), static_cast<std::streamsize>(b.bytes.size()));
    }
  }
  std::ofstream(dir / "meta.json") << "{\"T\":" << p.num_tokens << ",\"K\":" << p.top_k << ",\"E\":" << p.num_experts
                                   << ",\"H\":" << p.hidden << ",\"I\":" << p.intermediate << "}";

  std::printf("Qwen3-30B-A3B-shaped bf16 layer: T=%lld K=%lld E=%lld H=%lld I=%lld, %d threads\n",
              static_cast<long long>(p.num_tokens), static_cast<long long>(p.top_k), static_cast<long long>(p.num_experts),
              static_cast<long long>(p.hidden), static_cast<long long>(p.intermediate), threads);
  bench::print_load("at start");
  const double macs = double(p.slots()) * double(p.n1() * p.hidden + p.hidden * p.intermediate);
  const bench::FmaPeak peak1 = bench::fma_peak(__builtin_cpu_supports("avx512f") ? "avx512" : "avx2", 1);
  const bench::FmaPeak peakn = bench::fma_peak(peak1.isa, threads);
  std::printf("fp32 FMA peak (%s, register accumulators): %.1f GFLOP/s on 1 thread, %.1f on %d: limit %.4f CPU-ns per MAC\n",
              peak1.isa, peak1.gflops, peakn.gflops, threads, peak1.ns_per_mac_cpu());
  const std::string targs = "moe " + dir.string() + " " + std::to_string(threads) + " 3";

  std::printf("PyTorch peers (pass 1):\n");
  const auto kv1 = bench::torch_peers(targs);

  struct Run {
    int threads;
    double wall, cpu;
    replay::ReplayResult r;
  };
  std::vector<Run> runs;
  for (int t : also1 ? std::vector<int>{threads, 1} : std::vector<int>{threads}) {
    replay::ReplayOptions ro;
    ro.threads = t;
    const double c0 = bench::cpu_now(), w0 = bench::wall_now();
    replay::ReplayResult r = replay::run_replay(kernels::find_variant("triton_bf16"), call, weights, ro);
    runs.push_back({t, bench::wall_now() - w0, bench::cpu_now() - c0, std::move(r)});
    const Run& x = runs.back();
    for (const auto& st : x.r.timings) std::printf("  triton_bf16 %d thread(s) %-10s %9.3f s\n", t, st.stage.c_str(), st.seconds);
    std::printf("triton_bf16 replay, %d thread(s): %.3f s wall, %.1f CPU-s = %.4f CPU-ns per MAC = %.1fx the fp32 FMA limit\n",
                t, x.r.seconds, x.cpu, x.cpu / macs * 1e9, x.cpu / macs * 1e9 / peak1.ns_per_mac_cpu());
  }
  if (runs.size() == 2 && runs[0].r.output().bytes() != runs[1].r.output().bytes())
    std::printf("OUTPUT DIFFERS BETWEEN %d AND 1 THREADS\n", threads);
  if (runs.size() == 2) std::printf("threads 1 -> %d speed-up: %.2fx\n", threads, runs[1].r.seconds / runs[0].r.seconds);

  std::printf("PyTorch peers (pass 2):\n");
  const auto kv2 = bench::torch_peers(targs);
  bench::print_load("at end");
  if (kv1.empty() && kv2.empty()) {
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::printf("peers ran on: %s, kernel %s\n", (kv1.count("blas_libs") ? kv1 : kv2).at("blas_libs").c_str(),
              (kv1.count("blas_kernel") ? kv1 : kv2).at("blas_kernel").c_str());
  const double replay_s = runs[0].r.seconds, replay_cpu = runs[0].cpu;
  double best_fp32 = 1e30, best_fp32_cpu = 1e30;
  for (const char* dt : {"fp32", "bf16"})
    for (int t : {1, threads}) {
      const std::string key = std::string("moe_") + dt + "_t" + std::to_string(t);
      const double s = best_peer(kv1, kv2, key), c = best_peer(kv1, kv2, key + "_cpu");
      if (s <= 0) continue;
      if (std::string(dt) == "fp32") {
        best_fp32 = std::min(best_fp32, s);
        if (c > 0) best_fp32_cpu = std::min(best_fp32_cpu, c);
      }
      std::printf("  torch %s MoE, %d thread(s): %8.3f s wall, %7.2f CPU-s = %.4f CPU-ns per MAC = %.1fx the FMA limit; "
                  "replay (%d threads) / this: %.2fx wall, %.2fx CPU\n",
                  dt, t, s, c, c / macs * 1e9, c / macs * 1e9 / peak1.ns_per_mac_cpu(), threads, replay_s / s,
                  c > 0 ? replay_cpu / c : 0.0);
      if (threads == 1) break;
    }
  std::printf("RESULT triton_bf16 replay / best torch fp32 MoE = %.2fx wall, %.2fx CPU time (target <= 2.0x, stretch <= 1.0x)\n",
              replay_s / best_fp32, replay_cpu / best_fp32_cpu);

  std::ifstream tin(dir / "torch_out.f32", std::ios::binary);
  std::vector<float> tout(static_cast<std::size_t>(p.num_tokens * p.hidden));
  tin.read(reinterpret_cast<char*>(tout.data()), static_cast<std::streamsize>(tout.size() * 4));
  kernels::EmuBuffer tb("torch", kernels::ElemType::F32, {p.num_tokens, p.hidden});
  std::memcpy(tb.mutable_data<float>(), tout.data(), tout.size() * 4);
  const auto d = replay::diff_buffers(runs[0].r.output(), tb, replay::RowMap{p.num_tokens, p.top_k, &call.topk_ids});
  std::printf("replay vs torch fp32: rel_l2 %.3g, max_abs %.3g\n", d.rel_l2, d.max_abs);
  std::filesystem::remove_all(dir);
  return 0;
}
