// Sweeps all 2^32 fp32 inputs through the generic converter for the hardware casts recorded
// on the H100 (scripts/gpu/sfu_tabulate.cu hashed cvt outputs over all 2^32 inputs) and
// compares order-independent hashes; checks the fast paths and the compiler's _Float16
// conversion against the generic converter on every input. Prints mismatch counts and
// throughput. Usage: bench_formats_exhaustive [--stride N] (N > 1 samples; hashes then skip).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/paths.hpp"
#include "sim/formats/casts.hpp"
#include "sim/formats/fast.hpp"

using namespace moesim;

static std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static std::uint64_t hterm(std::uint32_t u, std::uint32_t out) {
  return mix64((std::uint64_t(u) << 16) ^ std::uint64_t(out) ^ 0x5555000000000000ull);
}

int main(int argc, char** argv) {
  std::uint64_t stride = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--stride")) stride = std::strtoull(argv[i + 1], nullptr, 10);
  if (stride == 0) stride = 1;
  const char* names[8] = {"cvt.rn.satfinite.e4m3x2.f32", "cvt.rn.satfinite.e5m2x2.f32", "cvt.rn.bf16.f32", "cvt.rz.bf16.f32",
                          "cvt.rn.f16.f32",              "cvt.rz.f16.f32",              "cvt.rn.satfinite.bf16.f32",
                          "cvt.rn.satfinite.f16.f32"};
  std::map<std::string, std::string> recorded;
  {
    std::ifstream in(source_dir() + "/tests/data/sfu/sfu_report.txt");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("hash ", 0) == 0) {
        const auto eq = line.find('=');
        recorded[line.substr(5, eq - 5)] = line.substr(eq + 1);
      }
  }
  const fmt::Cast* casts[8];
  for (int i = 0; i < 8; ++i) casts[i] = &fmt::find_cast(names[i]);
  const fmt::Cast& e2m1 = fmt::find_cast("cvt.rn.satfinite.e2m1x2.f32");
  std::uint64_t hash[8] = {0};
  std::uint64_t mm_e4 = 0, mm_bf = 0, mm_e2 = 0, mm_f16c = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t n = static_cast<std::int64_t>(((1ull << 32) + stride - 1) / stride);
#pragma omp parallel
  {
    std::uint64_t h[8] = {0};
    std::uint64_t a = 0, b = 0, c = 0, d = 0;
#pragma omp for schedule(static)
    for (std::int64_t k = 0; k < n; ++k) {
      const auto u = static_cast<std::uint32_t>(static_cast<std::uint64_t>(k) * stride);
      const float f = f32_from_bits(u);
      std::uint32_t o[8];
      for (int i = 0; i < 8; ++i) {
        o[i] = fmt::apply(*casts[i], u);
        h[i] += hterm(u, o[i]);
      }
      a += fmt::fast::f32_to_e4m3_satfinite(f) != o[0];
      b += fmt::fast::f32_to_bf16_rn(f) != o[2];
      c += fmt::fast::f32_to_e2m1_satfinite(f) != fmt::apply(e2m1, u);
#ifdef __FLT16_MANT_DIG__  // clang < 15 has no _Float16 on x86: the third path is then skipped
      if (f == f) d += std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)) != o[4];
#endif
    }
#pragma omp critical
    {
      for (int i = 0; i < 8; ++i) hash[i] += h[i];
      mm_e4 += a, mm_bf += b, mm_e2 += c, mm_f16c += d;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("inputs: %lld (stride %llu), threads %d, %.1f s, %.1f M inputs/s (11 conversions each)\n",
              static_cast<long long>(n), static_cast<unsigned long long>(stride), omp_get_max_threads(), s, n / s / 1e6);
  int bad = 0;
  for (int i = 0; i < 8; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash[i]));
    const bool full = stride == 1;
    const bool ok = full && recorded[names[i]] == buf;
    if (full && !ok) ++bad;
    std::printf("%-30s hash %s  H100 %s  %s\n", names[i], buf, recorded[names[i]].c_str(), full ? (ok ? "MATCH" : "MISMATCH") : "(sampled: not compared)");
  }
  std::printf("fast e4m3 vs generic mismatches: %llu\nfast bf16 vs generic mismatches: %llu\nfast e2m1 vs generic mismatches: %llu\n"
              "compiler _Float16 vs generic cvt.rn.f16 mismatches (non-NaN): %llu\n",
              static_cast<unsigned long long>(mm_e4), static_cast<unsigned long long>(mm_bf), static_cast<unsigned long long>(mm_e2),
              static_cast<unsigned long long>(mm_f16c));
  return (bad || mm_e4 || mm_bf || mm_e2 || mm_f16c) ? 1 : 0;
}
