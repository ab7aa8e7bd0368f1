// Emulated tensor-core GEMM throughput vs this machine's fp32 capability, measured in one run:
//   1. bit-exact emulation of Hopper wgmma bf16 (chained T-FDPA, L=16, F=25) for a
//      512x512x512 GEMM, every available SIMD path, all OpenMP threads, through the packed
//      API (B decoded once) and through gemm_rows (B decoded per call); ns per MAC per thread;
//   2. measured fp32 FMA peak (independent AVX-512 or AVX2 FMA chains, all threads);
//   3. an fp32 GEMM of the same size: a register-blocked AVX2/FMA kernel written here (no BLAS
//      is installed on this machine; it is a "BLAS-like" baseline, not OpenBLAS).
// Prints GFLOP/s (2*M*N*K flops per GEMM) and the ratios. Never asserts timings.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <vector>

#include "models/lib/mma_params.hpp"
#include "sim/core/bits.hpp"
#include "sim/core/rng.hpp"
#include "sim/mma/gemm.hpp"

using namespace moesim;
using Clock = std::chrono::steady_clock;

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best wall time of `reps` runs; *cpu (if given) gets that run's process CPU time (all threads),
// which is what "ns per MAC per thread" uses: it stays meaningful on a shared, loaded machine.
template <class F>
double best_seconds(int reps, F&& f, double* cpu = nullptr) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_now();
    f();
    const double w = std::chrono::duration<double>(Clock::now() - t0).count();
    if (w < best) {
      best = w;
      if (cpu) *cpu = cpu_now() - c0;
    }
  }
  return best;
}

__attribute__((target("avx512f"))) float fma_loop512(long iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  float s = 0;
  alignas(64) float t[16];
  for (int i = 0; i < 12; ++i) {
    _mm512_store_ps(t, acc[i]);
    for (float v : t) s += v;
  }
  return s;
}

__attribute__((target("avx2,fma"))) float fma_loop256(long iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  float s = 0;
  alignas(32) float t[8];
  for (int i = 0; i < 12; ++i) {
    _mm256_store_ps(t, acc[i]);
    for (float v : t) s += v;
  }
  return s;
}

// C[M][N] += A[M][K] * B[K][N], row-major; 8 accumulators of 8 floats per (row, 64-column block).
__attribute__((target("avx2,fma"))) void sgemm_blocked(int M, int N, int K, const float* A, const float* B, float* C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < M; ++i)
    for (int jb = 0; jb < N; jb += 64) {
      __m256 c[8];
      for (int v = 0; v < 8; ++v) c[v] = _mm256_loadu_ps(C + static_cast<std::size_t>(i) * N + jb + 8 * v);
      for (int k = 0; k < K; ++k) {
        const __m256 a = _mm256_broadcast_ss(A + static_cast<std::size_t>(i) * K + k);
        const float* b = B + static_cast<std::size_t>(k) * N + jb;
        for (int v = 0; v < 8; ++v) c[v] = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 8 * v), c[v]);
      }
      for (int v = 0; v < 8; ++v) _mm256_storeu_ps(C + static_cast<std::size_t>(i) * N + jb + 8 * v, c[v]);
    }
}

int main() {
  const int M = 512, N = 512, K = 512;
  const double flops = 2.0 * M * N * K;
  const int threads = omp_get_max_threads();
  const models::FdpaTable table = models::FdpaTable::load_default();
  const mma::FdpaParams& p = table.find("hopper", "wgmma.bf16.f32");

  Rng rng(42);
  std::vector<std::uint16_t> A(static_cast<std::size_t>(M) * K), Bt(static_cast<std::size_t>(N) * K);
  std::vector<float> Af(A.size()), Bf(Bt.size());
  for (std::size_t i = 0; i < A.size(); ++i) {
    const float v = static_cast<float>(rng.normal());
    A[i] = static_cast<std::uint16_t>(f32_bits(v) >> 16);
    Af[i] = v;
  }
  for (std::size_t i = 0; i < Bt.size(); ++i) {
    const float v = static_cast<float>(rng.normal());
    Bt[i] = static_cast<std::uint16_t>(f32_bits(v) >> 16);
    Bf[i] = v;
  }
  std::vector<std::uint32_t> C(static_cast<std::size_t>(M) * N, 0), D(C.size());

  std::printf("bench_mma_gemm: %dx%dx%d, %d OpenMP threads\n", M, N, K, threads);
  std::printf("emulated: %s (%s, L=%d, F=%d, %s)\n", p.key().c_str(), std::string(mma::algorithm_name(p.algorithm)).c_str(),
              p.l, p.f, std::string(mma::rounding_name(p.rho)).c_str());
  double best_emul = 0;
  std::vector<std::uint32_t> ref;
  const double macs = double(M) * N * K;
  for (mma::SimdPath path : mma::available_paths()) {
    // (a) the packed API the replay uses: B decoded once per GEMM (per expert), A decoded per
    //     block of 64 rows, every output chained over all of K.
    double cpu = 0;
    const double s = best_seconds(3, [&] {
      mma::PackedB pb;
      pb.init(p, N, K);
#pragma omp parallel for schedule(static)
      for (int q = 0; q < pb.panels(); ++q) pb.pack_panels(Bt.data(), K, q, q + 1);
#pragma omp parallel for schedule(dynamic, 1)
      for (int r0 = 0; r0 < M; r0 += 64) {
        std::vector<const std::uint16_t*> rows;
        for (int i = r0; i < std::min(M, r0 + 64); ++i) rows.push_back(A.data() + static_cast<std::size_t>(i) * K);
        mma::PackedA pa;
        pa.pack(p, K, rows);
        mma::gemm_packed(p, path, pa, pb, 0, N, 0, K, C.data() + static_cast<std::size_t>(r0) * N, N,
                         D.data() + static_cast<std::size_t>(r0) * N, N);
      }
    }, &cpu);
    if (ref.empty()) ref = D;
    const bool same = ref == D;
    // (b) gemm_rows, which decodes B on every call (64-row blocks).
    std::fill(D.begin(), D.end(), 0u);
    const double s_rows = best_seconds(2, [&] {
#pragma omp parallel for schedule(dynamic, 1)
      for (int r0 = 0; r0 < M; r0 += 64)
        mma::gemm_rows(p, path, M, N, K, A.data(), Bt.data(), C.data(), D.data(), r0, r0 + 64);
    });
    const bool same_rows = ref == D;
    const double g = flops / s * 1e-9;
    best_emul = std::max(best_emul, g);
    std::printf("  emulated bf16 GEMM  [%-6s]  %8.3f GFLOP/s  (%.3f s wall, %.3f CPU-ns per MAC)  gemm_rows: %.3f GFLOP/s%s\n",
                std::string(mma::path_name(path)).c_str(), g, s, cpu / macs * 1e9, flops / s_rows * 1e-9,
                same && same_rows ? "" : "  RESULT DIFFERS FROM SCALAR PATH");
  }

  const long iters = 20'000'000;
  const bool has512 = __builtin_cpu_supports("avx512f");
  float sink = 0;
  const double s_fma = best_seconds(2, [&] {
#pragma omp parallel reduction(+ : sink)
    sink += has512 ? fma_loop512(iters) : fma_loop256(iters);
  });
  if (sink == 12345.0f) std::printf(" ");  // keep the loops observable
  const double fma_peak = threads * 2.0 * (has512 ? 16 : 8) * 12 * iters / s_fma * 1e-9;
  std::printf("  fp32 FMA peak (%s, measured)  %8.1f GFLOP/s\n", has512 ? "avx512" : "avx2", fma_peak);

  std::vector<float> Bkn(static_cast<std::size_t>(K) * N), Cf(static_cast<std::size_t>(M) * N);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) Bkn[static_cast<std::size_t>(k) * N + n] = Bf[static_cast<std::size_t>(n) * K + k];
  const double s_sgemm = best_seconds(5, [&] {
    std::fill(Cf.begin(), Cf.end(), 0.0f);
    sgemm_blocked(M, N, K, Af.data(), Bkn.data(), Cf.data());
  });
  const double g_sgemm = flops / s_sgemm * 1e-9;
  std::printf("  fp32 GEMM (blocked AVX2/FMA kernel, not a BLAS)  %8.1f GFLOP/s\n", g_sgemm);
  std::printf("ratios: emulated/fma_peak = %.4f, emulated/fp32_gemm = %.4f, fp32_gemm/fma_peak = %.3f\n",
              best_emul / fma_peak, best_emul / g_sgemm, g_sgemm / fma_peak);
  return 0;
}
