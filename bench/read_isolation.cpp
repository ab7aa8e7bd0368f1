// Issue 11 target: reading a trace in the isolated child (fork + rlimits + deadline + memfd
// hand-back, sim/core/isolate.hpp) costs at most 1.2x today's in-process read, on the
// committed golden traces and on a 1,000,000-token shape-only synth trace. Both reads are
// the same read_trace_in_process() (parse + validate); the isolated one adds the fork, the
// encode into the shared mapping and the decode. Prints per-file medians and ratios measured
// in this one run, and the geometric mean over the goldens.
//   bench_read_isolation [REPS=15]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "traces/trace_io.hpp"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median_read(const std::string& path, bool isolated, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    moesim::traces::ReadOptions o;
    o.isolate = isolated;
    const double t0 = now();
    const auto tr = moesim::traces::read_trace(path, o);
    t.push_back(now() - t0);
    if (tr.calls.empty()) std::abort();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 15;
  const std::string dir = (std::filesystem::temp_directory_path() / "moesim-bench").string();
  std::filesystem::create_directories(dir);
  const std::string big = dir + "/isolation-1M.h5";
  const std::string cmd = std::string(MOESIM_BINARY) + " synth -p deepseek-v3 -t 1000000 -r zipf:1.1 --mode routing -o " + big + " >/dev/null";
  if (std::system(cmd.c_str()) != 0) return 1;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(std::string(MOESIM_SOURCE_DIR) + "/tests/data/golden"))
    if (e.path().extension() == ".h5") {
      try {  // the golden directory also holds non-trace tables (silu_bf16_table.h5)
        moesim::traces::ReadOptions o;
        o.isolate = false;
        moesim::traces::read_trace(e.path().string(), o);
        files.push_back(e.path().string());
      } catch (const std::exception&) {
      }
    }
  std::sort(files.begin(), files.end());
  files.push_back(big);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) std::printf("load average %.2f; median of %d reads each, alternating in-process / isolated\n", load[0], reps);
  std::printf("%-34s %12s %12s %8s\n", "trace", "in_proc_ms", "isolated_ms", "ratio");
  double log_sum = 0;
  int n_golden = 0;
  bool ok = true;
  for (const auto& f : files) {
    median_read(f, false, 1), median_read(f, true, 1);  // warm the page cache
    const double a = median_read(f, false, reps), b = median_read(f, true, reps);
    const double r = b / a;
    const bool is_big = f == big;
    std::printf("%-34s %12.2f %12.2f %8.2f%s\n", std::filesystem::path(f).filename().c_str(), 1e3 * a, 1e3 * b, r,
                is_big ? "  (1M-token shape-only)" : "");
    if (!is_big) log_sum += std::log(r), ++n_golden;
    if (is_big && r > 1.2) ok = false;
  }
  const double gmean = std::exp(log_sum / std::max(n_golden, 1));
  std::printf("goldens: geometric-mean ratio %.2f (target <= 1.2)\n", gmean);
  if (gmean > 1.2) ok = false;
  std::printf("%s\n", ok ? "PASS" : "OVER TARGET");
  std::filesystem::remove(big);
  return ok ? 0 : 1;
}
