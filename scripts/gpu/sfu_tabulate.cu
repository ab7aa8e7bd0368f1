// Tabulates the approximate SFU instructions used on the NVFP4 quantize / SiLU paths of
// serving kernels, on the GPU, and checks compact models of them against every fp32 input.
//
//   nvcc -O2 -arch=sm_90a -o sfu_tabulate sfu_tabulate.cu && ./sfu_tabulate OUTDIR TMPDIR
//
// Compiled WITHOUT --use_fast_math and without -ftz=true, like vLLM's csrc (so __expf lowers
// to ex2.approx.f32 and __fdividef to div.approx.f32, non-ftz forms; see the SASS dump).
//
// Writes (OUTDIR):
//   rcp_delta.bin     int8[2^23]   rcp.approx.ftz.f32(1.m) bits minus __frcp_rn(1.m) bits
//   ex2_pos_diff.bin  uint8[2^23]  consecutive bit differences of ex2.approx.ftz(f*2^-23)
//   ex2_neg_diff.bin  uint8[2^23]  consecutive bit differences of -(ex2.approx.ftz(-f*2^-23))
//   vec_a.bin         u32[3][N]    rcp.approx.ftz, ex2.approx.ftz, ex2.approx (non-ftz) outputs
//   vec_b.bin         u32[3][N]    __expf(x), __fdividef(x, y), silu(x)=__fdividef(x,1+__expf(-x))
//   sfu_report.txt    key=value lines: model mismatch counts over all 2^32 inputs, samples,
//                     order-independent hashes of hardware cvt over all 2^32 fp32 inputs,
//                     special-value outputs
// and (TMPDIR) vec_inputs.bin (u32[N] x, u32[N] y) for the torch cast recorder.
//
// Random inputs: sample i uses z = mix64(SEED + (i+1)*0x9E3779B97F4A7C15) (the splitmix64
// output function, as in sim/core/rng.hpp); x = low 32 bits of z for even i, and for odd i
// x = float((int32)(z >> 32)) * 2^-24 (a value in [-128, 128)); y = high 32 bits of
// mix64(SEED2 + (i+1)*golden) as raw bits. The CPU test regenerates the same inputs.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CK(x)                                                                  \
  do {                                                                         \
    cudaError_t e_ = (x);                                                      \
    if (e_ != cudaSuccess) {                                                   \
      fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_),     \
              __FILE__, __LINE__);                                             \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
static constexpr uint64_t kSeedX = 20261123ull;
static constexpr uint64_t kSeedY = 777ull;
static constexpr int kN = 1 << 20;
static constexpr int kBuckets = 512;  // sign and biased exponent of the input
static constexpr int kSamples = 16;

__host__ __device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ float rcp_ftz(float a) {
  float b;
  asm volatile("rcp.approx.ftz.f32 %0, %1;" : "=f"(b) : "f"(a));
  return b;
}
__device__ __forceinline__ float ex2_ftz(float a) {
  float b;
  asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(b) : "f"(a));
  return b;
}
__device__ __forceinline__ float ex2_noftz(float a) {
  float b;
  asm volatile("ex2.approx.f32 %0, %1;" : "=f"(b) : "f"(a));
  return b;
}
__device__ __forceinline__ float silu_fast(float x) { return __fdividef(x, (1.f + __expf(-x))); }

__device__ __forceinline__ uint32_t fb(float f) { return __float_as_uint(f); }
__device__ __forceinline__ float bf(uint32_t u) { return __uint_as_float(u); }

// ---------------------------------------------------------------- tables
__global__ void k_tables(uint32_t* rcp_tab, uint32_t* ex2p, uint32_t* ex2n, int8_t* rcp_delta,
                         unsigned long long* rcp_delta_oob) {
  for (uint32_t m = blockIdx.x * blockDim.x + threadIdx.x; m < (1u << 23); m += gridDim.x * blockDim.x) {
    const float x = bf(0x3F800000u | m);
    const uint32_t hw = fb(rcp_ftz(x));
    rcp_tab[m] = hw;
    const int d = int(hw) - int(fb(__frcp_rn(x)));
    if (d < -127 || d > 127) atomicAdd(rcp_delta_oob, 1ull);
    rcp_delta[m] = int8_t(d);
    const float f = float(m) * 0x1p-23f;  // exact
    ex2p[m] = fb(ex2_ftz(f));
    ex2n[m] = fb(ex2_ftz(-f));
  }
}

// ---------------------------------------------------------------- models
__device__ uint32_t rcp_model(uint32_t u, const uint32_t* tab) {
  const uint32_t s = u & 0x80000000u, e = (u >> 23) & 0xFF, m = u & 0x7FFFFF;
  if (e == 255) return m ? 0x7FFFFFFFu : s;
  if (e == 0) return s | 0x7F800000u;
  const uint32_t t = tab[m];
  const int re = int((t >> 23) & 0xFF) - (int(e) - 127);
  if (re <= 0) return s;
  return s | (uint32_t(re) << 23) | (t & 0x7FFFFF);
}

// hyp 0: F = trunc(|x| 2^23) with sign; floor split; pos table only.
// hyp 1: F = floor(x 2^23);                floor split; pos table only.
// hyp 2: F = rint(x 2^23);                 floor split; pos table only.
// hyp 3: F = trunc(|x| 2^23); x<0 uses the neg table: 2^-(F>>23) * N[F & mask].
// hyp 4: like 3 but rint.
static constexpr int kHyp = 5;
__device__ uint32_t ex2_model(uint32_t u, const uint32_t* P, const uint32_t* N, int hyp) {
  const uint32_t e = (u >> 23) & 0xFF, m = u & 0x7FFFFF;
  const bool neg = u >> 31;
  if (e == 255) return m ? 0x7FFFFFFFu : (neg ? 0u : 0x7F800000u);
  if (e == 0) return 0x3F800000u;  // ftz input
  const double x = double(bf(u));
  if (x >= 128.0) return 0x7F800000u;
  if (x <= -160.0) return 0u;
  const double sx = x * 8388608.0;  // exact in double
  long long F;
  if (hyp == 0 || hyp == 3) F = (long long)(neg ? -floor(-sx) : floor(sx));  // trunc toward 0
  else if (hyp == 1) F = (long long)floor(sx);
  else F = (long long)rint(sx);
  if (hyp >= 3 && neg) {
    const long long A = -F;  // >= 0
    const long long i = A >> 23;
    const uint32_t t = N[A & 0x7FFFFF];
    const long long re = (long long)((t >> 23) & 0xFF) - i;
    if (re <= 0) return 0u;
    return (uint32_t(re) << 23) | (t & 0x7FFFFF);
  }
  const long long i = F >> 23;  // floor (arithmetic shift)
  const uint32_t t = P[F & 0x7FFFFF];
  const long long re = (long long)((t >> 23) & 0xFF) + i;
  if (re <= 0) return 0u;
  if (re >= 255) return 0x7F800000u;
  return (uint32_t(re) << 23) | (t & 0x7FFFFF);
}

struct Stats {
  unsigned long long rcp_bucket[kBuckets];
  unsigned long long rcp_nsamp;
  uint32_t rcp_samp[kSamples][3];
  unsigned long long ex2_bucket[kHyp][kBuckets];
  unsigned long long ex2_nsamp[kHyp];
  uint32_t ex2_samp[kHyp][kSamples][3];
  unsigned long long nonftz_bucket[kBuckets];  // ex2.approx.f32 != ex2.approx.ftz.f32
  unsigned long long nonftz_nsamp;
  uint32_t nonftz_samp[kSamples][3];
  unsigned long long cvt_hash[8];
};

__device__ inline void add_sample(unsigned long long* n, uint32_t (*samp)[3], uint32_t a, uint32_t b, uint32_t c) {
  if (*(volatile unsigned long long*)n >= kSamples) return;  // spare the atomic when full
  const unsigned long long k = atomicAdd(n, 1ull);
  if (k < kSamples) {
    samp[k][0] = a;
    samp[k][1] = b;
    samp[k][2] = c;
  }
}

__device__ inline unsigned long long hterm(uint32_t u, uint32_t out) {
  return mix64((uint64_t(u) << 16) ^ uint64_t(out) ^ 0x5555000000000000ull);
}

__global__ void k_sweep(uint64_t base, const uint32_t* rcp_tab, const uint32_t* P, const uint32_t* N, Stats* st) {
  unsigned long long h[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t k = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < (1ull << 28); k += stride) {
    const uint32_t u = uint32_t(base + k);
    const uint32_t bucket = u >> 23;
    const float x = bf(u);
    // rcp
    const uint32_t r_hw = fb(rcp_ftz(x));
    const uint32_t r_m = rcp_model(u, rcp_tab);
    if (r_hw != r_m) {
      atomicAdd(&st->rcp_bucket[bucket], 1ull);
      add_sample(&st->rcp_nsamp, st->rcp_samp, u, r_hw, r_m);
    }
    // ex2
    const uint32_t e_hw = fb(ex2_ftz(x));
    for (int hyp = 0; hyp < kHyp; ++hyp) {
      const uint32_t e_m = ex2_model(u, P, N, hyp);
      if (e_hw != e_m) {
        atomicAdd(&st->ex2_bucket[hyp][bucket], 1ull);
        add_sample(&st->ex2_nsamp[hyp], st->ex2_samp[hyp], u, e_hw, e_m);
      }
    }
    const uint32_t e_nf = fb(ex2_noftz(x));
    if (e_nf != e_hw) {
      atomicAdd(&st->nonftz_bucket[bucket], 1ull);
      add_sample(&st->nonftz_nsamp, st->nonftz_samp, u, e_nf, e_hw);
    }
    // hardware conversions: order-independent hash over all inputs
    uint16_t o;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %1;" : "=h"(o) : "f"(x));
    h[0] += hterm(u, o & 0xFF);
    asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %1;" : "=h"(o) : "f"(x));
    h[1] += hterm(u, o & 0xFF);
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[2] += hterm(u, o);
    asm("cvt.rz.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[3] += hterm(u, o);
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[4] += hterm(u, o);
    asm("cvt.rz.f16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[5] += hterm(u, o);
    asm("cvt.rn.satfinite.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[6] += hterm(u, o);
    asm("cvt.rn.satfinite.f16.f32 %0, %1;" : "=h"(o) : "f"(x));
    h[7] += hterm(u, o);
  }
  for (int i = 0; i < 8; ++i) atomicAdd(&st->cvt_hash[i], h[i]);
}

__global__ void k_vectors(uint32_t* va, uint32_t* vb, uint32_t* xin, uint32_t* yin) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < kN; i += gridDim.x * blockDim.x) {
    const uint64_t z = mix64(kSeedX + uint64_t(i + 1) * kGolden);
    uint32_t xu;
    if ((i & 1) == 0) xu = uint32_t(z);
    else xu = fb(__int2float_rn(int32_t(uint32_t(z >> 32))) * 0x1p-24f);
    const uint32_t yu = uint32_t(mix64(kSeedY + uint64_t(i + 1) * kGolden) >> 32);
    xin[i] = xu;
    yin[i] = yu;
    const float x = bf(xu), y = bf(yu);
    va[i] = fb(rcp_ftz(x));
    va[kN + i] = fb(ex2_ftz(x));
    va[2 * kN + i] = fb(ex2_noftz(x));
    vb[i] = fb(__expf(x));
    vb[kN + i] = fb(__fdividef(x, y));
    vb[2 * kN + i] = fb(silu_fast(x));
  }
}

// silu over every bf16 input (the fused silu*up quantizer sees bf16 inputs widened to fp32).
__global__ void k_silu_bf16(uint32_t* out) {
  const uint32_t h = blockIdx.x * blockDim.x + threadIdx.x;
  if (h < 65536) out[h] = fb(silu_fast(bf(h << 16)));
}

__global__ void k_specials(const uint32_t* in, uint32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = bf(in[i]);
  uint16_t o;
  out[i * 12 + 0] = fb(rcp_ftz(x));
  out[i * 12 + 1] = fb(ex2_ftz(x));
  out[i * 12 + 2] = fb(ex2_noftz(x));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 3] = o;
  asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 4] = o;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 5] = o;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 6] = o;
  out[i * 12 + 7] = fb(__expf(x));
  out[i * 12 + 8] = fb(silu_fast(x));
  out[i * 12 + 9] = fb(__fdividef(1.0f, x));
  asm("cvt.rz.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 10] = o;
  asm("cvt.rn.satfinite.bf16.f32 %0, %1;" : "=h"(o) : "f"(x));
  out[i * 12 + 11] = o;
}

static void write_file(const std::string& path, const void* p, size_t n) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f || fwrite(p, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path.c_str());
    exit(1);
  }
  fclose(f);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s OUTDIR TMPDIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1], tmp = argv[2];
  const size_t T = size_t(1) << 23;
  uint32_t *d_rcp, *d_p, *d_n;
  int8_t* d_rd;
  unsigned long long* d_oob;
  Stats* d_st;
  CK(cudaMalloc(&d_rcp, T * 4));
  CK(cudaMalloc(&d_p, T * 4));
  CK(cudaMalloc(&d_n, T * 4));
  CK(cudaMalloc(&d_rd, T));
  CK(cudaMalloc(&d_oob, 8));
  CK(cudaMalloc(&d_st, sizeof(Stats)));
  CK(cudaMemset(d_oob, 0, 8));
  CK(cudaMemset(d_st, 0, sizeof(Stats)));
  k_tables<<<4096, 256>>>(d_rcp, d_p, d_n, d_rd, d_oob);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());

  std::vector<uint32_t> rcp(T), P(T), N(T);
  std::vector<int8_t> rd(T);
  unsigned long long oob = 0;
  CK(cudaMemcpy(rcp.data(), d_rcp, T * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(P.data(), d_p, T * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(N.data(), d_n, T * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(rd.data(), d_rd, T, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(&oob, d_oob, 8, cudaMemcpyDeviceToHost));
  write_file(out + "/rcp_delta.bin", rd.data(), T);
  // consecutive differences; P increasing, N decreasing (first entries reported in the report)
  std::vector<uint8_t> dp(T), dn(T);
  unsigned long long diff_oob = 0;
  dp[0] = 0;
  dn[0] = 0;
  for (size_t i = 1; i < T; ++i) {
    const long long a = (long long)P[i] - (long long)P[i - 1];
    const long long b = (long long)N[i - 1] - (long long)N[i];
    if (a < 0 || a > 255 || b < 0 || b > 255) ++diff_oob;
    dp[i] = uint8_t(a);
    dn[i] = uint8_t(b);
  }
  write_file(out + "/ex2_pos_diff.bin", dp.data(), T);
  write_file(out + "/ex2_neg_diff.bin", dn.data(), T);

  for (uint64_t base = 0; base < (1ull << 32); base += (1ull << 28)) {
    k_sweep<<<132 * 16, 256>>>(base, d_rcp, d_p, d_n, d_st);
    CK(cudaGetLastError());
  }
  CK(cudaDeviceSynchronize());
  Stats st;
  CK(cudaMemcpy(&st, d_st, sizeof(Stats), cudaMemcpyDeviceToHost));

  uint32_t *d_va, *d_vb, *d_x, *d_y, *d_silu;
  CK(cudaMalloc(&d_va, 3ull * kN * 4));
  CK(cudaMalloc(&d_vb, 3ull * kN * 4));
  CK(cudaMalloc(&d_x, kN * 4));
  CK(cudaMalloc(&d_y, kN * 4));
  CK(cudaMalloc(&d_silu, 65536 * 4));
  k_vectors<<<1024, 256>>>(d_va, d_vb, d_x, d_y);
  k_silu_bf16<<<256, 256>>>(d_silu);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<uint32_t> va(3ull * kN), vb(3ull * kN), xs(kN), ys(kN), silu(65536);
  CK(cudaMemcpy(va.data(), d_va, va.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(vb.data(), d_vb, vb.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(xs.data(), d_x, kN * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(ys.data(), d_y, kN * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(silu.data(), d_silu, 65536 * 4, cudaMemcpyDeviceToHost));
  write_file(out + "/vec_a.bin", va.data(), va.size() * 4);
  write_file(out + "/vec_b.bin", vb.data(), vb.size() * 4);
  write_file(out + "/silu_bf16.bin", silu.data(), silu.size() * 4);
  write_file(tmp + "/vec_inputs.bin", xs.data(), kN * 4);
  write_file(tmp + "/vec_inputs_y.bin", ys.data(), kN * 4);

  const uint32_t spec_in[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu,
                              0xFF7FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u,
                              0xFFFFFFFFu, 0x3F800000u, 0x43E00000u /*448*/, 0x43E80000u /*464*/,
                              0x43F00000u /*480*/, 0x49742400u /*1e6*/, 0x7E800000u /*2^126*/,
                              0x7F000000u /*2^127*/, 0x42FE0000u /*127*/, 0x43000000u /*128*/,
                              0xC2FC0000u /*-126*/, 0xC2FE0000u /*-127*/, 0xC3160000u /*-150*/,
                              0x3A800000u /*2^-10*/, 0x3B000000u /*2^-9*/, 0x47800000u /*65536*/,
                              0x477FF000u /*65520*/, 0x47700000u /*61440*/, 0xC2B00000u /*-88*/};
  const int ns = sizeof(spec_in) / 4;
  uint32_t *d_si, *d_so;
  CK(cudaMalloc(&d_si, sizeof(spec_in)));
  CK(cudaMalloc(&d_so, ns * 12 * 4));
  CK(cudaMemcpy(d_si, spec_in, sizeof(spec_in), cudaMemcpyHostToDevice));
  k_specials<<<1, 64>>>(d_si, d_so, ns);
  CK(cudaGetLastError());
  std::vector<uint32_t> so(ns * 12);
  CK(cudaMemcpy(so.data(), d_so, so.size() * 4, cudaMemcpyDeviceToHost));

  FILE* r = fopen((out + "/sfu_report.txt").c_str(), "w");
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  fprintf(r, "device=%s sm_%d%d\n", prop.name, prop.major, prop.minor);
  fprintf(r, "rcp_delta_out_of_int8=%llu\nex2_diff_out_of_uint8=%llu\n", oob, diff_oob);
  fprintf(r, "ex2_pos_first=%08x\nex2_neg_first=%08x\nrcp_first=%08x\n", P[0], N[0], rcp[0]);
  auto dump_buckets = [&](const char* name, const unsigned long long* b) {
    unsigned long long tot = 0;
    for (int i = 0; i < kBuckets; ++i) tot += b[i];
    fprintf(r, "%s_mismatch_total=%llu\n", name, tot);
    fprintf(r, "%s_mismatch_buckets=", name);
    for (int i = 0; i < kBuckets; ++i)
      if (b[i]) fprintf(r, "%d:%llu,", i, b[i]);
    fprintf(r, "\n");
  };
  auto dump_samples = [&](const char* name, unsigned long long n, const uint32_t (*s)[3]) {
    fprintf(r, "%s_samples=", name);
    for (unsigned long long i = 0; i < n && i < (unsigned long long)kSamples; ++i)
      fprintf(r, "%08x:%08x:%08x,", s[i][0], s[i][1], s[i][2]);
    fprintf(r, "\n");
  };
  dump_buckets("rcp_model", st.rcp_bucket);
  dump_samples("rcp_model", st.rcp_nsamp, st.rcp_samp);
  for (int h = 0; h < kHyp; ++h) {
    char nm[32];
    snprintf(nm, sizeof nm, "ex2_hyp%d", h);
    dump_buckets(nm, st.ex2_bucket[h]);
    dump_samples(nm, st.ex2_nsamp[h], st.ex2_samp[h]);
  }
  dump_buckets("ex2_nonftz_vs_ftz", st.nonftz_bucket);
  dump_samples("ex2_nonftz_vs_ftz", st.nonftz_nsamp, st.nonftz_samp);
  const char* hn[8] = {"cvt.rn.satfinite.e4m3x2.f32", "cvt.rn.satfinite.e5m2x2.f32", "cvt.rn.bf16.f32",
                       "cvt.rz.bf16.f32", "cvt.rn.f16.f32", "cvt.rz.f16.f32", "cvt.rn.satfinite.bf16.f32",
                       "cvt.rn.satfinite.f16.f32"};
  for (int i = 0; i < 8; ++i) fprintf(r, "hash %s=%016llx\n", hn[i], st.cvt_hash[i]);
  fprintf(r, "specials_columns=in,rcp.approx.ftz,ex2.approx.ftz,ex2.approx,e4m3x2,e5m2x2,rn.bf16,rn.f16,__expf,silu,__fdividef(1,x),rz.bf16,rn.satfinite.bf16\n");
  for (int i = 0; i < ns; ++i) {
    fprintf(r, "special=%08x", spec_in[i]);
    for (int c = 0; c < 12; ++c) fprintf(r, ",%08x", so[i * 12 + c]);
    fprintf(r, "\n");
  }
  fclose(r);
  printf("sfu_tabulate done\n");
  return 0;
}
