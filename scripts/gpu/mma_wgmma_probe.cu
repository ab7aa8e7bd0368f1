// Hopper wgmma probe (sm_90a): runs ONE wgmma.mma_async instruction per 64x8 output tile on
// caller-supplied bit patterns, so that every output element is exactly one fused
// dot-product-accumulate D = A*B + C of the hardware. Used by scripts/gpu/mma_probe.py.
//
//   mma_wgmma_probe <bf16|e4m3|e5m2> <ntiles> <lbo> <sbo> <in.bin> <out.bin>
//
// in.bin : per tile A[64][K] (row-major), Bt[8][K] (B transposed: K contiguous), C[64][8] f32
//          (element bytes: 2 for bf16, 1 for fp8; K = 16 for bf16, 32 for fp8)
// out.bin: per tile D[64][8] f32 bits.
// A comes from registers (fragment layout of the PTX ISA "wgmma .m64nNk16/.m64nNk32 register
// fragment A"); B from shared memory through a no-swizzle matrix descriptor whose leading /
// stride byte offsets are arguments, so the driver can calibrate them on exact integer data.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(x)                                                                                    \
  do {                                                                                           \
    cudaError_t e_ = (x);                                                                        \
    if (e_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

enum Mode { BF16 = 0, E4M3 = 1, E5M2 = 2 };

__device__ __forceinline__ std::uint64_t make_desc(std::uint32_t smem_addr, std::uint32_t lbo, std::uint32_t sbo) {
  std::uint64_t d = 0;
  d |= static_cast<std::uint64_t>((smem_addr & 0x3FFFF) >> 4);
  d |= static_cast<std::uint64_t>((lbo & 0x3FFFF) >> 4) << 16;
  d |= static_cast<std::uint64_t>((sbo & 0x3FFFF) >> 4) << 32;
  // base_offset = 0 (bits 49-51), layout_type = 0: no swizzle (bits 62-63)
  return d;
}

template <int MODE>
__global__ void __launch_bounds__(128) probe(const std::uint8_t* in, std::uint32_t* out, int lbo, int sbo) {
  constexpr int ES = MODE == BF16 ? 2 : 1;   // element bytes
  constexpr int K = MODE == BF16 ? 16 : 32;  // K of one instruction
  constexpr int A_BYTES = 64 * K * ES, B_BYTES = 8 * K * ES, C_BYTES = 64 * 8 * 4;
  constexpr int TILE = A_BYTES + B_BYTES + C_BYTES;
  const std::uint8_t* tile = in + static_cast<std::size_t>(blockIdx.x) * TILE;
  const std::uint8_t* A = tile;
  const std::uint8_t* Bt = tile + A_BYTES;
  const std::uint32_t* C = reinterpret_cast<const std::uint32_t*>(tile + A_BYTES + B_BYTES);
  std::uint32_t* D = out + static_cast<std::size_t>(blockIdx.x) * 64 * 8;

  // B in shared memory as no-swizzle core matrices: core matrix j holds k in
  // [j*KPC, (j+1)*KPC) for n = 0..7, one 16-byte row per n, core matrices 128 bytes apart.
  __shared__ __align__(1024) std::uint8_t sB[1024];
  const int tid = threadIdx.x;
  constexpr int KPC = 16 / ES;
  for (int idx = tid; idx < B_BYTES; idx += 128) {
    const int n = idx / (K * ES), kb = idx % (K * ES);  // byte kb of row n of Bt
    const int k = kb / ES, byte = kb % ES;
    const int j = k / KPC, kk = k % KPC;
    sB[j * 128 + n * 16 + kk * ES + byte] = Bt[idx];
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();

  const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int r0 = 16 * warp + g, r1 = r0 + 8;
  auto a_word = [&](int row, int col) -> std::uint32_t {  // 4 bytes starting at element col
    std::uint32_t w;
    std::memcpy(&w, A + (row * K + col) * ES, 4);
    return w;
  };
  std::uint32_t a0, a1, a2, a3;
  if (MODE == BF16) {
    a0 = a_word(r0, 2 * t);
    a1 = a_word(r1, 2 * t);
    a2 = a_word(r0, 2 * t + 8);
    a3 = a_word(r1, 2 * t + 8);
  } else {
    a0 = a_word(r0, 4 * t);
    a1 = a_word(r1, 4 * t);
    a2 = a_word(r0, 4 * t + 16);
    a3 = a_word(r1, 4 * t + 16);
  }
  float d0 = __uint_as_float(C[r0 * 8 + 2 * t]);
  float d1 = __uint_as_float(C[r0 * 8 + 2 * t + 1]);
  float d2 = __uint_as_float(C[r1 * 8 + 2 * t]);
  float d3 = __uint_as_float(C[r1 * 8 + 2 * t + 1]);
  const std::uint32_t saddr = static_cast<std::uint32_t>(__cvta_generic_to_shared(sB));
  const std::uint64_t desc = make_desc(saddr, static_cast<std::uint32_t>(lbo), static_cast<std::uint32_t>(sbo));

  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  if (MODE == BF16) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc), "r"(1));
  } else if (MODE == E4M3) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1;\n}\n"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc), "r"(1));
  } else {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n8k32.f32.e5m2.e5m2 {%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1;\n}\n"
        : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc), "r"(1));
  }
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  D[r0 * 8 + 2 * t] = __float_as_uint(d0);
  D[r0 * 8 + 2 * t + 1] = __float_as_uint(d1);
  D[r1 * 8 + 2 * t] = __float_as_uint(d2);
  D[r1 * 8 + 2 * t + 1] = __float_as_uint(d3);
}

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s <bf16|e4m3|e5m2> <ntiles> <lbo> <sbo> <in.bin> <out.bin>\n", argv[0]);
    return 2;
  }
  const int mode = !std::strcmp(argv[1], "bf16") ? BF16 : !std::strcmp(argv[1], "e4m3") ? E4M3 : E5M2;
  const int ntiles = std::atoi(argv[2]), lbo = std::atoi(argv[3]), sbo = std::atoi(argv[4]);
  const int es = mode == BF16 ? 2 : 1, K = mode == BF16 ? 16 : 32;
  const std::size_t tile = 64 * K * es + 8 * K * es + 64 * 8 * 4;
  std::vector<std::uint8_t> in(tile * ntiles);
  FILE* f = std::fopen(argv[5], "rb");
  if (!f || std::fread(in.data(), 1, in.size(), f) != in.size()) {
    std::fprintf(stderr, "cannot read %s\n", argv[5]);
    return 1;
  }
  std::fclose(f);
  std::uint8_t* din;
  std::uint32_t* dout;
  CK(cudaMalloc(&din, in.size()));
  CK(cudaMalloc(&dout, static_cast<std::size_t>(ntiles) * 512 * 4));
  CK(cudaMemcpy(din, in.data(), in.size(), cudaMemcpyHostToDevice));
  if (mode == BF16) probe<BF16><<<ntiles, 128>>>(din, dout, lbo, sbo);
  else if (mode == E4M3) probe<E4M3><<<ntiles, 128>>>(din, dout, lbo, sbo);
  else probe<E5M2><<<ntiles, 128>>>(din, dout, lbo, sbo);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<std::uint32_t> out(static_cast<std::size_t>(ntiles) * 512);
  CK(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost));
  f = std::fopen(argv[6], "wb");
  std::fwrite(out.data(), 4, out.size(), f);
  std::fclose(f);
  return 0;
}
