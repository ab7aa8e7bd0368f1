#pragma once
// Fast CPU emulation of chained T-FDPA GEMM tiles: D[m][n] = the instruction's chain of
// fused steps over K of row m of A and row n of Bt (K contiguous in both), starting from
// C[m][n]. Bit-identical to the scalar model (sim/mma/fdpa.hpp) on every input; the SIMD
// path (AVX-512, AVX2 or plain C++) is chosen at run time from what the CPU supports.
// Single-threaded over a row range: callers parallelise over rows (results do not depend
// on how rows are split).
#include <cstdint>
#include <string_view>
#include <vector>

#include "sim/mma/fdpa_params.hpp"

namespace moesim::mma {

enum class SimdPath : std::uint8_t { Scalar, AVX2, AVX512 };

std::string_view path_name(SimdPath p);
bool path_available(SimdPath p);  // what this CPU can run
SimdPath best_path();
std::vector<SimdPath> available_paths();

// True when the fast kernels handle p: T-FDPA, 8/16-bit inputs, L a multiple of 8 and the
// exact per-step product sum fits int32 (L * 2^(F+2) <= 2^31). Others: use mma::dot.
bool gemm_supported(const FdpaParams& p);

// A: [M][K] element bit patterns, Bt: [N][K], C and D: [M][N] accumulator bits (fp32 or fp16
// in the low half). Computes rows [row_begin, row_end). Throws InputError if unsupported or
// K is not a multiple of L.
void gemm_rows(const FdpaParams& p, SimdPath path, int M, int N, int K, const std::uint16_t* A,
               const std::uint16_t* Bt, const std::uint32_t* C, std::uint32_t* D, int row_begin, int row_end);

}  // namespace moesim::mma
