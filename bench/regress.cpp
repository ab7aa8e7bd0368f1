// Benchmark of `moesim regress` over the committed suite (tests/suites/bundled.suite.json and its
// baseline): the wall time of the library call, per-instance times, and the ratio of the suite
// to one golden replay measured in the same run. Prints; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "sim/core/paths.hpp"
#include "workflows/regress.hpp"
#include "workflows/replay_job.hpp"

int main(int argc, char** argv) try {
  using clock = std::chrono::steady_clock;
  const std::string suite = argc > 1 && argv[1][0] ? argv[1] : moesim::source_dir() + "/tests/suites/bundled.suite.json";
  const int threads = argc > 2 ? std::stoi(argv[2]) : 0;

  moesim::workflows::ReplayRequest one;
  one.trace = moesim::source_dir() + "/tests/data/golden/triton_bf16_e8k2.h5";
  one.threads = threads;
  const auto t1 = clock::now();
  const auto rep = moesim::workflows::run_replay(one);
  const double one_s = std::chrono::duration<double>(clock::now() - t1).count();

  moesim::workflows::RegressRequest req;
  req.suite = suite;
  req.threads = threads;
  const auto t0 = clock::now();
  const auto r = moesim::workflows::run_regress(req);
  const double wall = std::chrono::duration<double>(clock::now() - t0).count();

  std::printf("moesim regress %s (threads %s)\n", suite.c_str(), threads ? std::to_string(threads).c_str() : "all");
  std::printf("  %zu instances, exit code %d, wall %.3f s (%.3f s per instance)\n", r.cases.size(), r.exit_code(), wall,
              r.cases.empty() ? 0.0 : wall / r.cases.size());
  double worst = 0;
  std::string worst_id;
  for (const auto& c : r.cases)
    if (c.seconds > worst) worst = c.seconds, worst_id = c.id;
  std::printf("  slowest instance %s: %.3f s (%.1f%% of the suite)\n", worst_id.c_str(), worst, wall > 0 ? 100.0 * worst / wall : 0.0);
  std::printf("  one golden replay (triton_bf16_e8k2, %s): %.3f s; suite / one replay = %.1fx\n",
              rep.all_bit_identical() ? "bit-identical" : "NOT bit-identical", one_s, one_s > 0 ? wall / one_s : 0.0);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_regress: error: %s\n", e.what());
  return 2;
}
