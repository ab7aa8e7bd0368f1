#pragma once
// Shared pieces of the benches: timers (wall and process CPU), the load average, the fp32 FMA
// peak per ISA with the accumulators in registers, and the PyTorch peers
// (bench/torch_peers.py) run on Debian's OpenBLAS. Benches print; they never assert timings.
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>

namespace moesim::bench {

inline double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best wall time of `reps` runs; *cpu gets that run's process CPU time (all threads).
template <class F>
double best_seconds(int reps, F&& f, double* cpu = nullptr) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = wall_now(), c0 = cpu_now();
    f();
    const double w = wall_now() - t0;
    if (w < best) {
      best = w;
      if (cpu) *cpu = cpu_now() - c0;
    }
  }
  return best;
}

inline void print_load(const char* when) {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) > 0) std::printf("load average %s: %.2f %.2f %.2f (2 cores shared)\n", when, l[0], l[1], l[2]);
}

// 12 independent FMA chains held in registers (named locals, no array: the compiler keeps each
// in a vector register; the loop body is 12 vfmadd with no load or store).
#define MOESIM_FMA12(T, FMA)                                                                     \
  T a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x; \
  for (long it = 0; it < iters; ++it) {                                                          \
    a0 = FMA(a0, m, y); a1 = FMA(a1, m, y); a2 = FMA(a2, m, y); a3 = FMA(a3, m, y);               \
    a4 = FMA(a4, m, y); a5 = FMA(a5, m, y); a6 = FMA(a6, m, y); a7 = FMA(a7, m, y);               \
    a8 = FMA(a8, m, y); a9 = FMA(a9, m, y); a10 = FMA(a10, m, y); a11 = FMA(a11, m, y);           \
  }

__attribute__((target("avx512f"), noinline)) inline float fma_chains_avx512(long iters) {
  const __m512 x = _mm512_set1_ps(0.5f), m = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(1e-7f);
  MOESIM_FMA12(__m512, _mm512_fmadd_ps)
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                               _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) inline float fma_chains_avx2(long iters) {
  const __m256 x = _mm256_set1_ps(0.5f), m = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-7f);
  MOESIM_FMA12(__m256, _mm256_fmadd_ps)
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                               _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#undef MOESIM_FMA12

struct FmaPeak {
  const char* isa = "";
  int threads = 1;
  double gflops = 0;    // fp32 GFLOP/s (2 per FMA lane), all `threads` together, from wall time
  double cpu_ns = 0;    // CPU-ns per fp32 MAC (process CPU time / MACs): the per-MAC limit
  double ns_per_mac_cpu() const { return cpu_ns; }
};

// Measured fp32 FMA peak for one ISA ("avx512" or "avx2") on `threads` threads (best of 3).
inline FmaPeak fma_peak(const char* isa, int threads) {
  const bool w512 = std::string(isa) == "avx512";
  const long iters = 4'000'000;
  volatile float sink = 0;
  double cpu = 0;
  const double s = best_seconds(3, [&] {
    float acc = 0;
#pragma omp parallel num_threads(threads) reduction(+ : acc)
    acc += w512 ? fma_chains_avx512(iters) : fma_chains_avx2(iters);
    sink = acc;
  }, &cpu);
  const double macs = threads * (w512 ? 16.0 : 8.0) * 12 * static_cast<double>(iters);
  FmaPeak p;
  p.isa = isa;
  p.threads = threads;
  p.gflops = 2.0 * macs / s * 1e-9;
  p.cpu_ns = cpu / macs * 1e9;
  return p;
}

// Runs bench/torch_peers.py with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE cleared and Debian's
// OpenBLAS (pthread build) first on the library path, so torch uses OpenBLAS's own choice of
// kernel for this CPU whatever libblas.so.3 alternative the machine selects. Echoes every line
// (indented) and returns the key=value pairs; empty map if python/torch is missing.
inline std::map<std::string, std::string> torch_peers(const std::string& args, const std::string& python = "/usr/bin/python3") {
  const std::string cmd = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS "
                          "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread " +
                          python + " " + std::string(MOESIM_SOURCE_DIR) + "/bench/torch_peers.py " + args + " 2>&1";
  std::map<std::string, std::string> kv;
  FILE* pp = popen(cmd.c_str(), "r");
  char line[1024];
  while (pp && std::fgets(line, sizeof line, pp)) {
    std::string l(line);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    std::printf("    torch| %s\n", l.c_str());
    if (const auto eq = l.find('='); eq != std::string::npos && l.find(' ') > eq) kv[l.substr(0, eq)] = l.substr(eq + 1);
    else if (const auto eq2 = l.find('='); eq2 != std::string::npos && l.rfind("threadpoolctl", 0) == 0) kv["threadpoolctl"] = l.substr(eq2 + 1);
  }
  const int rc = pp ? pclose(pp) : -1;
  if (rc != 0) {
    std::printf("    torch peers failed (rc %d): install python3-torch and libopenblas0-pthread "
                "(MOESIM_WITH_TORCH=1 scripts/setup.sh)\n", rc);
    kv.clear();
  }
  return kv;
}

inline double kv_seconds(const std::map<std::string, std::string>& kv, const std::string& key) {
  const auto it = kv.find(key);
  return it == kv.end() ? -1.0 : std::atof(it->second.c_str());
}

}  // namespace moesim::bench
