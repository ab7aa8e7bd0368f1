#pragma once
// Fast CPU emulation of chained T-FDPA GEMM tiles: D[m][n] = the instruction's chain of
// fused steps over K of row m of A and row n of Bt (K contiguous in both), starting from
// C[m][n]. Bit-identical to the scalar model (sim/mma/fdpa.hpp) on every input; the SIMD
// path (AVX-512, AVX2 or plain C++) is chosen at run time from what the CPU supports.
// Single-threaded over a row range: callers parallelise over rows or tiles (results do not
// depend on how the work is split).
//
// How (docs/mma.md, "Fast GEMM"): operands are decoded once into exact doubles plus integer
// alignment exponents. Every output column is one SIMD lane, so a lane runs one chain: per
// step, e_max = max(C's exponent, e_a + e_b over the step) in int32 lanes; each product is
// truncated to the step's quantum 2^(e_max - F) by adding it with one round-toward-zero fused
// multiply-add into an accumulator offset by +-2^52 quanta (one per product sign), the exact
// sum is converted to fp32 with round-toward-zero (+0 for zero, inf at >= 2^128, 13 fraction
// bits kept for RZ-E8M13). Steps touching NaN/Inf go to the scalar model, lane by lane.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sim/mma/fdpa_params.hpp"

namespace moesim::mma {

enum class SimdPath : std::uint8_t { Scalar, AVX2, AVX512 };

std::string_view path_name(SimdPath p);
bool path_available(SimdPath p);  // what this CPU can run
SimdPath best_path();             // MOESIM_SIMD=scalar|avx2|avx512 forces one (if available)
std::vector<SimdPath> available_paths();

// True when the fast kernels handle p: T-FDPA, operands of at most 16 bits, the exact step
// sum fits a double's integers ((L+1) * 2^(F+2) <= 2^53), and a zero product can never
// raise e_max above what C gives (e_zero <= C's minimum exponent). Others: use mma::dot.
bool gemm_supported(const FdpaParams& p);

// A: [M][K] element bit patterns, Bt: [N][K], C and D: [M][N] accumulator bits (fp32 or fp16
// in the low half). Computes rows [row_begin, row_end). Throws InputError if unsupported or
// K is not a multiple of L. Decodes B on every call: for repeated use, pack B once
// (PackedB) and call gemm_packed.
void gemm_rows(const FdpaParams& p, SimdPath path, int M, int N, int K, const std::uint16_t* A,
               const std::uint16_t* Bt, const std::uint32_t* C, std::uint32_t* D, int row_begin, int row_end);

// ---- Pre-decoded operands (decode once, reuse across many rows / tiles) ----------------------
// K is zero-padded to a multiple of L, which is what a masked tl.dot load gives (a zero step
// tail changes no bit: zero products never set e_max, see gemm_supported).

// Columns of B (rows of Bt) in panels of kPanel columns. Read-only after packing: share it
// between threads.
class PackedB {
 public:
  static constexpr int kPanel = 8;
  static constexpr int kGroup = 4;  // panels interleaved per k (the kernels' register block)
  // Offsets of panel q, element k: in pn (2*kPanel doubles) and in exp (kPanel int32). Layout
  // [group][k_padded][kGroup panels][...]: the 4 panels a kernel reads together are adjacent.
  static std::size_t pn_at(int q, int k, int kp) {
    return ((static_cast<std::size_t>(q / kGroup) * kp + static_cast<std::size_t>(k)) * kGroup + q % kGroup) * 2 * kPanel;
  }
  static std::size_t exp_at(int q, int k, int kp) {
    return ((static_cast<std::size_t>(q / kGroup) * kp + static_cast<std::size_t>(k)) * kGroup + q % kGroup) * kPanel;
  }
  // Sizes the panels for Bt [N][K] (row stride ldb); then fill them with pack_panels (callers
  // may split the panel range across threads) or pack (all of them).
  void init(const FdpaParams& p, int N, int K);
  void pack_panels(const std::uint16_t* Bt, std::int64_t ldb, int panel_begin, int panel_end);
  void pack(const FdpaParams& p, int N, int K, const std::uint16_t* Bt, std::int64_t ldb);

  int n() const { return n_; }
  int k() const { return k_; }
  int k_padded() const { return kp_; }
  int panels() const { return (n_ + kPanel - 1) / kPanel; }
  // The decoded value of column `col`, element k (0 for zeros, NaN/Inf and padding).
  double value(int col, int k) const {
    const std::size_t o = pn_at(col / kPanel, k, kp_) + static_cast<std::size_t>(col % kPanel);
    return pn[o] + pn[o + kPanel];
  }

  // Layout (for the kernels; offsets from pn_at / exp_at): pn holds per panel and k 2*kPanel
  // doubles: the kPanel values where positive (else +0), then the kPanel values where negative
  // (else +0) — the sign-split operand of the round-toward-zero accumulator kernels
  // (docs/mma.md); exp per panel and k the kPanel alignment exponents;
  // bmax [panel][step][kPanel] = max exponent of the step's elements per column (kZeroExp if
  // none is finite and non-zero); raw [n][k_padded];
  // special [panel][step] = lane mask of columns with a NaN/Inf in that step.
  std::vector<double> pn;
  std::vector<std::int32_t> exp;
  std::vector<std::int32_t> bmax;
  std::vector<std::uint16_t> raw;
  std::vector<std::uint8_t> special;
  Operand op = Operand::BF16;
  int l = 16;

 private:
  int n_ = 0, k_ = 0, kp_ = 0;
};

// Rows of A (any rows: gathered token rows are fine).
class PackedA {
 public:
  // Re-packs for `rows` rows of K elements each (rows[i] points at row i's K bit patterns).
  // Keeps its buffers between calls (no allocation when the size does not grow).
  void pack(const FdpaParams& p, int K, std::span<const std::uint16_t* const> rows);

  int rows() const { return rows_; }
  int k() const { return k_; }
  int k_padded() const { return kp_; }

  // Layout: val/exp/raw [row][k_padded]; special [row][step] (1 = a NaN/Inf in that step);
  // offp/offn [row][k_padded]: which half of PackedB::pn holds the products of this element
  // that are positive (offp) and negative (offn): 0 or kPanel, by the element's sign;
  // amax [row][step]: the step's largest element exponent (kZeroExp if none).
  std::vector<double> val;
  std::vector<std::int32_t> exp;
  std::vector<std::int32_t> offp, offn, amax;
  std::vector<std::uint16_t> raw;
  std::vector<std::uint8_t> special;
  Operand op = Operand::BF16;
  int l = 16;

 private:
  int rows_ = 0, k_ = 0, kp_ = 0;
};

// For every row r of `a` and column j in [n_begin, n_end) of `b`: runs the chain of steps
// covering K elements [k_begin, k_end) (multiples of L, k_end <= k_padded) from the
// accumulator C[r*ldc + j-n_begin] (C == nullptr: +0) and writes D[r*ldd + j-n_begin].
// C and D may alias exactly (in-place update). Throws InputError on mismatched packing.
void gemm_packed(const FdpaParams& p, SimdPath path, const PackedA& a, const PackedB& b, int n_begin, int n_end,
                 int k_begin, int k_end, const std::uint32_t* C, std::int64_t ldc, std::uint32_t* D, std::int64_t ldd);

// One chain at a time, for callers that walk outputs one by one (small K groups, scalar
// loops): row ra of `a` against row rb of `b` (both packed as rows, same K), the steps
// covering [k_begin, k_end) (multiples of L), from accumulator bits c. Portable code.
std::uint32_t chain_rows(const FdpaParams& p, const PackedA& a, int ra, const PackedA& b, int rb, int k_begin, int k_end,
                         std::uint32_t c);

}  // namespace moesim::mma
