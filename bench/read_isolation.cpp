// Issue 11 target: reading a trace in the isolated reader (sim/core/isolate.hpp: a fresh
// process per file with rlimits, a deadline and a memfd hand-back) costs at most 1.2x
// today's in-process read, on the committed golden traces and on a 1,000,000-token
// shape-only synth trace. The in-process read is read_trace_in_process() (parse +
// validate); the isolated one is read_trace() as every command runs it by default: the
// direct fork per file (the child parses, encodes, hands off; the parent decodes and
// re-validates). Prints per-file medians of wall time, the ratio, the geometric mean over the
// goldens and the CPU time of all processes per read; then the same reads through the
// opt-in reader pool (MOESIM_READER_POOL=1: a pre-forked, warmed worker from a zygote) for
// comparison. PASS/OVER TARGET judges the default path.
//   bench_read_isolation [REPS=15]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "sim/core/isolate.hpp"
#include "traces/trace_io.hpp"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds of this process, its waited-for children and the pool (zygote + workers).
double cpu_all() {
  rusage a{}, b{};
  getrusage(RUSAGE_SELF, &a);
  getrusage(RUSAGE_CHILDREN, &b);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return s(a.ru_utime) + s(a.ru_stime) + s(b.ru_utime) + s(b.ru_stime) + moesim::isolate::pool_cpu_seconds();
}

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
  std::printf("%-34s %12s %12s %8s %12s %12s\n", "trace", "in_proc_ms", "isolated_ms", "ratio", "cpu_ratio", "pool_ms");
  struct Row {
    double a, b, cpu_a, cpu_b;
  };
  std::vector<Row> rows;
  for (const auto& f : files) {  // the default path: a direct fork per read (no pool)
    median_read(f, false, 1), median_read(f, true, 1);  // warm the page cache
    double c0 = cpu_all();
    const double a = median_read(f, false, reps);
    double c1 = cpu_all();
    const double b = median_read(f, true, reps);
    double c2 = cpu_all();
    rows.push_back({a, b, (c1 - c0) / reps, (c2 - c1) / reps});
  }
  // The opt-in reader pool, for comparison: the same reads through a pre-forked worker.
  moesim::isolate::start_pool();
  double log_sum = 0, log_cpu = 0, log_pool = 0;
  int n_golden = 0;
  bool ok = true;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    const Row& r = rows[i];
    const double pool_wall = median_read(f, true, reps);
    const double ratio = r.b / r.a, cpu_ratio = r.cpu_b / std::max(r.cpu_a, 1e-9);
    const bool is_big = f == big;
    std::printf("%-34s %12.2f %12.2f %8.2f %12.2f %12.2f%s\n", std::filesystem::path(f).filename().c_str(), 1e3 * r.a, 1e3 * r.b,
                ratio, cpu_ratio, 1e3 * pool_wall, is_big ? "  (1M-token shape-only)" : "");
    if (!is_big) log_sum += std::log(ratio), log_cpu += std::log(cpu_ratio), log_pool += std::log(pool_wall / r.a), ++n_golden;
    if (is_big && ratio > 1.2) ok = false;
  }
  moesim::isolate::stop_pool();
  const int n = std::max(n_golden, 1);
  const double gmean = std::exp(log_sum / n);
  std::printf("goldens: geometric-mean ratio %.2f (direct fork, the default; target <= 1.2); CPU-time ratio %.2f; reader-pool ratio %.2f\n",
              gmean, std::exp(log_cpu / n), std::exp(log_pool / n));
  if (gmean > 1.2) ok = false;
  std::printf("%s\n", ok ? "PASS" : "OVER TARGET");
  std::filesystem::remove(big);
  return ok ? 0 : 1;
}
