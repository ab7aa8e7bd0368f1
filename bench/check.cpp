// Benchmark of `moesim check` after load: a 400k-token, top-22, 512-expert shape-only workload
// checked over every kernel variant x device x FlashInfer version, against a 100 ms budget.
// Prints times and ratios measured in this run; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "replay/check/engine.hpp"
#include "sim/core/paths.hpp"

int main() {
  using clock = std::chrono::steady_clock;
  const auto t_load0 = clock::now();
  moesim::check::CheckEngine engine(moesim::models_dir());
  const double load_ms = std::chrono::duration<double, std::milli>(clock::now() - t_load0).count();

  moesim::traces::ModelShape m;
  m.name = "bench-512x22";
  m.num_experts = 512;
  m.top_k = 22;
  m.hidden = 1024;
  m.intermediate = 2688;
  m.activation = "relu2";
  m.gated = false;
  m.quant = "nvfp4";
  auto w = moesim::check::shape_only_workload(m, 400000);
  moesim::check::CheckOptions opt;
  opt.devices = {"all"};
  opt.flashinfer = {"all"};
  opt.backends = {"all"};

  auto time_runs = [&](bool threshold, std::size_t* targets, std::size_t* findings) {
    opt.threshold = threshold;
    std::vector<double> ms;
    for (int i = 0; i < 7; ++i) {
      const auto t0 = clock::now();
      auto rep = engine.run(w, opt);
      ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
      *targets = rep.targets.size();
      *findings = rep.findings.size();
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  std::size_t targets = 0, findings = 0, targets_t = 0, findings_t = 0;
  const double plain = time_runs(false, &targets, &findings);
  const double with_threshold = time_runs(true, &targets_t, &findings_t);
  const double budget = 100.0;
  std::printf("bench_check: workload E=512 top_k=22 T=400000 nvfp4, %zu targets (variant x device x version)\n", targets);
  std::printf("  load (models/ JSON)            %8.2f ms\n", load_ms);
  std::printf("  check, all targets (median/7)  %8.2f ms  ratio to 100 ms budget: %.3f  (%zu findings)\n", plain,
              plain / budget, findings);
  std::printf("  check + exact thresholds       %8.2f ms  ratio to 100 ms budget: %.3f  (%zu findings)\n",
              with_threshold, with_threshold / budget, findings_t);
  return 0;
}
