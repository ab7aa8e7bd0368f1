// bench_replay_qwen3: a Qwen3-30B-A3B-shaped bf16 MoE layer (E=128, K=8, H=2048, I=768,
// 4096 tokens by default, random weights) replayed through the vLLM Triton bf16 variant
// (bit-accurate Hopper FDPA emulation), timed next to a PyTorch CPU fp32 reference MoE on the
// same trace in the same run (bench/replay_torch_reference.py with Debian's python3-torch).
// Usage: bench_replay_qwen3 [tokens] [threads] [python]
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"

using namespace moesim;

namespace {
// Process CPU time (all threads): per-MAC cost that stays meaningful on a shared machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class T>
void dump(const std::filesystem::path& p, const T* data, std::size_t n) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(T)));
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
  const std::string python = argc > 3 ? argv[3] : "/usr/bin/python3";
  const replay::CallInputs call = replay::synth_call(p, 2026);
  const replay::SyntheticWeights weights(p, 30, 1.0);

  // The same trace for PyTorch: raw dumps in a scratch directory.
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
  replay::ReplayOptions ro;
  ro.threads = threads;
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) std::printf("load average before the replay: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  const double cpu0 = cpu_seconds();
  const replay::ReplayResult r = replay::run_replay(kernels::find_variant("triton_bf16"), call, weights, ro);
  const double cpu = cpu_seconds() - cpu0;
  for (const auto& t : r.timings) std::printf("  triton_bf16 %-10s %9.3f s\n", t.stage.c_str(), t.seconds);
  const double products = double(p.slots()) * double(p.n1() * p.hidden + p.hidden * p.intermediate);
  std::printf("triton_bf16 replay (bit-accurate): %.3f s  (%.2f ns per emulated MAC per thread from wall time; "
              "%.2f CPU-ns per MAC from process CPU time, %.1f CPU-s)\n",
              r.seconds, r.seconds * threads / products * 1e9, cpu / products * 1e9, cpu);

  const std::string cmd = python + " " + std::string(MOESIM_SOURCE_DIR) + "/bench/replay_torch_reference.py " +
                          dir.string() + " " + std::to_string(threads);
  FILE* pp = popen(cmd.c_str(), "r");
  double torch_s = -1;
  char line[256];
  while (pp && std::fgets(line, sizeof line, pp)) {
    std::sscanf(line, "torch_fp32_seconds=%lf", &torch_s);
    std::fputs(("  python: " + std::string(line)).c_str(), stdout);
  }
  const int rc = pp ? pclose(pp) : -1;
  if (torch_s < 0 || rc != 0) {
    std::printf("PyTorch reference failed (rc %d): is python3-torch installed for %s?\n", rc, python.c_str());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::printf("PyTorch CPU fp32 reference:       %.3f s\n", torch_s);
  std::printf("ratio replay / torch fp32:        %.1fx\n", r.seconds / torch_s);

  // Sanity: the two agree to bf16 accuracy.
  std::ifstream tin(dir / "torch_out.f32", std::ios::binary);
  std::vector<float> tout(static_cast<std::size_t>(p.num_tokens * p.hidden));
  tin.read(reinterpret_cast<char*>(tout.data()), static_cast<std::streamsize>(tout.size() * 4));
  kernels::EmuBuffer tb("torch", kernels::ElemType::F32, {p.num_tokens, p.hidden});
  std::memcpy(tb.mutable_data<float>(), tout.data(), tout.size() * 4);
  const auto d = replay::diff_buffers(r.output(), tb, replay::RowMap{p.num_tokens, p.top_k, &call.topk_ids});
  std::printf("replay vs torch fp32: rel_l2 %.3g, max_abs %.3g\n", d.rel_l2, d.max_abs);
  std::filesystem::remove_all(dir);
  return 0;
}
