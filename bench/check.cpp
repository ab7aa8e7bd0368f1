// Benchmark of `moesim check` after load, against a 100 ms budget: a 400k-token Nemotron-3-Super
// trace (synthesised routing, E=512, top_k=22, NVFP4) and the same shape without routing,
// checked over every kernel family x device x FlashInfer release (`--backend all --device all
// --flashinfer all`). Prints times and ratios measured in this run; asserts nothing.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "replay/check/engine.hpp"
#include "replay/check/workload.hpp"
#include "sim/core/paths.hpp"
#include "traces/synth.hpp"

int main() {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
  const auto t_load0 = clock::now();
  moesim::check::CheckEngine engine(moesim::models_dir());
  const double load_ms = ms_since(t_load0);

  // The trace: moesim synth -p nemotron-3-super -t 400000 --mode routing (in memory).
  const auto t_synth0 = clock::now();
  moesim::traces::SynthOptions so;
  so.preset = "nemotron-3-super";
  so.tokens = {400000};
  so.mode = "routing";
  const auto trace = moesim::traces::synthesize(so, moesim::models_dir());
  const auto trace_workload = moesim::check::workload_from_trace(trace);
  const double synth_ms = ms_since(t_synth0);
  const auto shape_workload = moesim::check::shape_only_workload(trace.model, 400000);

  moesim::check::CheckOptions opt;
  opt.devices = {"all"};
  opt.flashinfer = {"all"};
  opt.backends = {"all"};

  // CPU time of the process during engine.run (median of 7), beside wall time: on a shared
  // machine the wall time includes waiting for a core.
  double last_cpu_ms = 0;
  auto time_runs = [&](const moesim::check::Workload& w, bool threshold, std::size_t* targets, std::size_t* findings) {
    opt.threshold = threshold;
    std::vector<double> ms, cpu;
    auto cpu_ms = [] {
      timespec ts{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    for (int i = 0; i < 7; ++i) {
      const auto t0 = clock::now();
      const double c0 = cpu_ms();
      auto rep = engine.run(w, opt);
      ms.push_back(ms_since(t0));
      cpu.push_back(cpu_ms() - c0);
      *targets = rep.targets.size();
      *findings = rep.findings.size();
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    last_cpu_ms = cpu[cpu.size() / 2];
    return ms[ms.size() / 2];
  };
  std::size_t targets = 0, findings = 0, t2 = 0, f2 = 0, t3 = 0, f3 = 0;
  const double trace_ms = time_runs(trace_workload, false, &targets, &findings);
  const double trace_cpu = last_cpu_ms;
  const double shape_ms = time_runs(shape_workload, false, &t2, &f2);
  const double shape_cpu = last_cpu_ms;
  const double thr_ms = time_runs(trace_workload, true, &t3, &f3);
  const double thr_cpu = last_cpu_ms;
  const double budget = 100.0;
  std::printf("bench_check: Nemotron-3-Super trace, E=512 top_k=22 T=400000 nvfp4; %zu targets (family x device x "
              "FlashInfer release, %zu releases)\n",
              targets, engine.flashinfer().all().size());
  std::printf("  load (models/ JSON)                 %8.2f ms\n", load_ms);
  std::printf("  synthesise the 400k-token trace     %8.2f ms (not part of check)\n", synth_ms);
  std::printf("  check trace, all targets (med/7)    %8.2f ms  ratio to 100 ms budget: %.3f  (%zu findings)\n", trace_ms,
              trace_ms / budget, findings);
  std::printf("    same, CPU time                    %8.2f ms  ratio to 100 ms budget: %.3f\n", trace_cpu, trace_cpu / budget);
  std::printf("  check shape only, all targets       %8.2f ms  ratio to 100 ms budget: %.3f  (%zu findings)\n", shape_ms,
              shape_ms / budget, f2);
  std::printf("    same, CPU time                    %8.2f ms  ratio to 100 ms budget: %.3f\n", shape_cpu, shape_cpu / budget);
  std::printf("  check trace + exact thresholds      %8.2f ms  ratio to 100 ms budget: %.3f  (%zu findings)\n", thr_ms,
              thr_ms / budget, f3);
  std::printf("    same, CPU time                    %8.2f ms  ratio to 100 ms budget: %.3f\n", thr_cpu, thr_cpu / budget);
  return 0;
}
