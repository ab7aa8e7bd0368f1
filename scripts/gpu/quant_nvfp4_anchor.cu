// GPU anchor for moesim's NVFP4 "vllm-kernel" quantizer rule.
//
//   nvcc -O2 -arch=sm_90a -o quant_nvfp4_anchor quant_nvfp4_anchor.cu && ./quant_nvfp4_anchor TMPDIR
//
// Written from a reading of vllm-project/vllm csrc/quantization/fp4/nvfp4_utils.cuh
// (cvt_warp_fp16_to_fp4, commit 07c13c7bdc2a7adcf48a45361392854c50aca466), not copied:
//   vecMax = max |x| over 16 bf16 values (exact), as float
//   SF     = gs * (vecMax * rcp.approx.ftz(6))
//   sfbyte = __nv_fp8_e4m3(SF)  (cvt.rn.satfinite.e4m3x2.f32), SF = float(sfbyte)
//   oscale = SF != 0 ? rcp.approx.ftz(SF * rcp.approx.ftz(gs)) : 0
//   q      = e2m1_rn_satfinite(x * oscale); element 2i in the low nibble.
// On sm_90 the hardware has no cvt...e2m1x2 (sm_100a+), so the element rounding here is a
// software RNE-satfinite to the e2m1 grid; the SFU parts (rcp.approx) and the e4m3 cvt are
// hardware. gs = 2688 / amax(|x|) in IEEE fp32 division.
//
// Input tensor: bf16 [4096, 7168], element i (row-major) from z = mix64(SEED + (i+1)*golden):
//   sign = z >> 63; exp = 118 + ((z >> 32) % 16) + (row % 3); man = (z >> 8) & 0x7F
//   outlier: ((z >> 24) & 0xFFFF) == 0 -> exp = 140
//   zero:    ((z >> 16) & 0x3FF) == 0  -> +0
//   zero block: (row*448 + col/16) % 1009 == 0 -> the whole 16-block is +0
// Writes TMPDIR/anchor_{input,packed,sf_linear,sf_128x4}.bin and prints amax/gs bits.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CK(x)                                                                                 \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      exit(1);                                                                                \
    }                                                                                         \
  } while (0)

static constexpr int kM = 4096, kK = 7168, kB = 16, kKB = kK / kB;
static constexpr uint64_t kSeed = 0x6D6F6573696D3033ull;  // "moesim03"
static constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

__host__ __device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__host__ __device__ inline uint16_t gen_bf16(uint64_t i) {
  const uint64_t row = i / kK, col = i % kK;
  if ((row * kKB + col / kB) % 1009 == 0) return 0;
  const uint64_t z = mix64(kSeed + (i + 1) * kGolden);
  if (((z >> 16) & 0x3FF) == 0) return 0;
  uint32_t e = 118 + uint32_t((z >> 32) % 16) + uint32_t(row % 3);
  if (((z >> 24) & 0xFFFF) == 0) e = 140;
  return uint16_t((uint32_t(z >> 63) << 15) | (e << 7) | uint32_t((z >> 8) & 0x7F));
}

__device__ __forceinline__ float rcp_ftz(float a) {
  float b;
  asm volatile("rcp.approx.ftz.f32 %0, %1;" : "=f"(b) : "f"(a));
  return b;
}

// RNE + saturate onto {0, .5, 1, 1.5, 2, 3, 4, 6}; returns the 4-bit code.
__device__ __forceinline__ uint32_t e2m1_rn_sat(float v) {
  const uint32_t s = (__float_as_uint(v) >> 31) << 3;
  const float a = fabsf(v);
  uint32_t c;
  if (a <= 0.25f) c = 0;
  else if (a < 0.75f) c = 1;
  else if (a <= 1.25f) c = 2;
  else if (a < 1.75f) c = 3;
  else if (a <= 2.5f) c = 4;
  else if (a < 3.5f) c = 5;
  else if (a <= 5.0f) c = 6;
  else c = 7;
  return s | c;
}

__global__ void k_gen(uint16_t* x, unsigned int* amax_bits) {
  unsigned int local = 0;
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < uint64_t(kM) * kK;
       i += uint64_t(gridDim.x) * blockDim.x) {
    const uint16_t h = gen_bf16(i);
    x[i] = h;
    const unsigned int a = (uint32_t(h) << 16) & 0x7FFFFFFFu;
    local = a > local ? a : local;
  }
  atomicMax(amax_bits, local);
}

__global__ void k_quant(const uint16_t* x, const float* gs_p, uint8_t* packed, uint8_t* sf_lin, uint8_t* sf_sw) {
  const int blk = blockIdx.x * blockDim.x + threadIdx.x;
  if (blk >= kM * kKB) return;
  const int row = blk / kKB, kb = blk % kKB;
  const float gs = *gs_p;
  float v[kB];
  float vecMax = 0.f;
  for (int j = 0; j < kB; ++j) {
    v[j] = __uint_as_float(uint32_t(x[size_t(row) * kK + kb * kB + j]) << 16);
    vecMax = fmaxf(vecMax, fabsf(v[j]));
  }
  float SF = gs * (vecMax * rcp_ftz(6.0f));
  const __nv_fp8_e4m3 sf8 = __nv_fp8_e4m3(SF);
  const uint8_t sfb = *reinterpret_cast<const uint8_t*>(&sf8);
  SF = float(sf8);
  const float os = SF != 0.f ? rcp_ftz(SF * rcp_ftz(gs)) : 0.0f;
  for (int j = 0; j < kB; j += 2) {
    const float a = v[j] * os, b = v[j + 1] * os;
    packed[size_t(row) * (kK / 2) + kb * (kB / 2) + j / 2] = uint8_t(e2m1_rn_sat(a) | (e2m1_rn_sat(b) << 4));
  }
  sf_lin[size_t(row) * kKB + kb] = sfb;
  const int numKTiles = (kKB + 3) / 4;
  const size_t off = (size_t(row / 128) * numKTiles + kb / 4) * 512 + (row % 32) * 16 + ((row % 128) / 32) * 4 + kb % 4;
  sf_sw[off] = sfb;
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
  if (argc != 2) {
    fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
    return 2;
  }
  const std::string tmp = argv[1];
  const size_t n = size_t(kM) * kK;
  uint16_t* d_x;
  unsigned int* d_amax;
  float* d_gs;
  uint8_t *d_p, *d_sl, *d_ss;
  CK(cudaMalloc(&d_x, n * 2));
  CK(cudaMalloc(&d_amax, 4));
  CK(cudaMalloc(&d_gs, 4));
  CK(cudaMalloc(&d_p, n / 2));
  CK(cudaMalloc(&d_sl, n / kB));
  CK(cudaMalloc(&d_ss, n / kB));  // 4096 % 128 == 0 and 448 % 4 == 0: no padding
  CK(cudaMemset(d_amax, 0, 4));
  CK(cudaMemset(d_ss, 0xEE, n / kB));
  k_gen<<<2048, 256>>>(d_x, d_amax);
  CK(cudaGetLastError());
  unsigned int amax_bits = 0;
  CK(cudaMemcpy(&amax_bits, d_amax, 4, cudaMemcpyDeviceToHost));
  float amax;
  memcpy(&amax, &amax_bits, 4);
  volatile float num = 448.0f * 6.0f;
  const float gs = num / amax;  // IEEE fp32 division on the host
  CK(cudaMemcpy(d_gs, &gs, 4, cudaMemcpyHostToDevice));
  k_quant<<<(kM * kKB + 255) / 256, 256>>>(d_x, d_gs, d_p, d_sl, d_ss);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<uint8_t> x(n * 2), p(n / 2), sl(n / kB), ss(n / kB);
  CK(cudaMemcpy(x.data(), d_x, n * 2, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(p.data(), d_p, n / 2, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(sl.data(), d_sl, n / kB, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(ss.data(), d_ss, n / kB, cudaMemcpyDeviceToHost));
  write_file(tmp + "/anchor_input.bin", x.data(), x.size());
  write_file(tmp + "/anchor_packed.bin", p.data(), p.size());
  write_file(tmp + "/anchor_sf_linear.bin", sl.data(), sl.size());
  write_file(tmp + "/anchor_sf_128x4.bin", ss.data(), ss.size());
  uint32_t gsb;
  memcpy(&gsb, &gs, 4);
  printf("amax_bits=%08x\ngs_bits=%08x\n", amax_bits, gsb);
  return 0;
}
