// Hopper mma.sync probe: ONE mma.sync instruction per 16x8 output tile (one warp per tile) on
// caller-supplied bit patterns, so every output element is one fused dot-product-accumulate of
// the hardware. Used by scripts/gpu/mma_sync_probe.py (issue 16).
//
//   mma_sync_probe <inst> <ntiles> <in.bin> <out.bin>
//   inst: f16_k16 | bf16_k16 | f16_k8 | bf16_k8   (all .row.col, f32 accumulate)
//
// in.bin : per tile A[16][K] (row-major, 2-byte elements), Bt[8][K] (B transposed: K
//          contiguous), C[16][8] f32 bits; K = 16 or 8.
// out.bin: per tile D[16][8] f32 bits.
// Register fragments per the PTX ISA ("Matrix fragments for mma.m16n8k16 / m16n8k8" with
// .f16/.bf16): groupID g = lane/4, t = lane%4;
//   A: a0 = (row g, cols 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
//   B: b0 = (k 2t..2t+1, col g), b1 = (k 2t+8.., col g);  C/D: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(x)                                                                                     \
  do {                                                                                            \
    cudaError_t e_ = (x);                                                                         \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

enum Inst { F16_K16 = 0, BF16_K16 = 1, F16_K8 = 2, BF16_K8 = 3 };

template <int INST>
__global__ void __launch_bounds__(32) probe(const std::uint16_t* in, std::uint32_t* out) {
  constexpr int K = (INST == F16_K16 || INST == BF16_K16) ? 16 : 8;
  constexpr int TILE = 16 * K + 8 * K + 16 * 8 * 2;  // in 16-bit units
  const std::uint16_t* A = in + static_cast<std::size_t>(blockIdx.x) * TILE;
  const std::uint16_t* Bt = A + 16 * K;
  const std::uint32_t* C = reinterpret_cast<const std::uint32_t*>(Bt + 8 * K);
  std::uint32_t* D = out + static_cast<std::size_t>(blockIdx.x) * 128;
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  auto pair = [](const std::uint16_t* p) -> std::uint32_t {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 16);
  };
  float d0 = __uint_as_float(C[g * 8 + 2 * t]);
  float d1 = __uint_as_float(C[g * 8 + 2 * t + 1]);
  float d2 = __uint_as_float(C[(g + 8) * 8 + 2 * t]);
  float d3 = __uint_as_float(C[(g + 8) * 8 + 2 * t + 1]);
  const std::uint32_t a0 = pair(A + g * K + 2 * t), a1 = pair(A + (g + 8) * K + 2 * t);
  const std::uint32_t b0 = pair(Bt + g * K + 2 * t);
  if (K == 16) {
    const std::uint32_t a2 = pair(A + g * K + 2 * t + 8), a3 = pair(A + (g + 8) * K + 2 * t + 8);
    const std::uint32_t b1 = pair(Bt + g * K + 2 * t + 8);
    if (INST == F16_K16)
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                   : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                   : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    else
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                   : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                   : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    if (INST == F16_K8)
      asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                   : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                   : "r"(a0), "r"(a1), "r"(b0));
    else
      asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                   : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                   : "r"(a0), "r"(a1), "r"(b0));
  }
  D[g * 8 + 2 * t] = __float_as_uint(d0);
  D[g * 8 + 2 * t + 1] = __float_as_uint(d1);
  D[(g + 8) * 8 + 2 * t] = __float_as_uint(d2);
  D[(g + 8) * 8 + 2 * t + 1] = __float_as_uint(d3);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <f16_k16|bf16_k16|f16_k8|bf16_k8> <ntiles> <in.bin> <out.bin>\n", argv[0]);
    return 2;
  }
  int inst = -1;
  const char* names[] = {"f16_k16", "bf16_k16", "f16_k8", "bf16_k8"};
  for (int i = 0; i < 4; ++i)
    if (!std::strcmp(argv[1], names[i])) inst = i;
  if (inst < 0) return 2;
  const int ntiles = std::atoi(argv[2]);
  const int K = inst < 2 ? 16 : 8;
  const std::size_t tile = 16 * K + 8 * K + 256;  // 16-bit units
  std::vector<std::uint16_t> in(tile * ntiles);
  FILE* f = std::fopen(argv[3], "rb");
  if (!f || std::fread(in.data(), 2, in.size(), f) != in.size()) {
    std::fprintf(stderr, "cannot read %s\n", argv[3]);
    return 1;
  }
  std::fclose(f);
  std::uint16_t* din;
  std::uint32_t* dout;
  CK(cudaMalloc(&din, in.size() * 2));
  CK(cudaMalloc(&dout, static_cast<std::size_t>(ntiles) * 128 * 4));
  CK(cudaMemcpy(din, in.data(), in.size() * 2, cudaMemcpyHostToDevice));
  if (inst == F16_K16) probe<F16_K16><<<ntiles, 32>>>(din, dout);
  else if (inst == BF16_K16) probe<BF16_K16><<<ntiles, 32>>>(din, dout);
  else if (inst == F16_K8) probe<F16_K8><<<ntiles, 32>>>(din, dout);
  else probe<BF16_K8><<<ntiles, 32>>>(din, dout);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<std::uint32_t> out(static_cast<std::size_t>(ntiles) * 128);
  CK(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost));
  f = std::fopen(argv[4], "wb");
  std::fwrite(out.data(), 4, out.size(), f);
  std::fclose(f);
  return 0;
}
