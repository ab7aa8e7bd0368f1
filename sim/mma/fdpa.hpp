#pragma once
// The scalar reference model of one tensor-core dot-product-accumulate d = c + sum a_k*b_k,
// for every instruction in the FDPA table (MMA-Sim T-/ST-/GST-FDPA; Khattak-Mikaitis agree on
// the Hopper/Blackwell parameters). Exact integer arithmetic throughout: products of <= 11-bit
// significands are exact in 64-bit integers, and every term truncated to F fraction bits
// below 2^e_max fits in 48 bits, so the fixed-point sum of up to 65 terms is exact in int64.
//
// Operands are raw bit patterns (one element per uint32; e2m1 one nibble per entry; TF32 as
// full fp32 words). The result is the raw bit pattern of the fp32 (or fp16) output.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/mma/fdpa_params.hpp"

namespace moesim::mma {

// One term of one fused step, for `moesim dot` and for tests that look inside the model.
struct TermTrace {
  std::string label;      // "a3*b3", "c", "group1"
  double value = 0;       // exact value of the term before alignment (may be +-0)
  int exponent = 0;       // its alignment exponent (e_zero for zero terms)
  bool zero = false;      // took e_zero
  std::int64_t truncated = 0;  // signed, in units of 2^(e_max - F)
};

struct StepTrace {
  int step = 0;
  std::uint32_t c_in = 0;         // accumulator bits entering the step
  std::vector<TermTrace> terms;   // products (or groups) first, then C
  std::string special;            // "" or why the step short-circuited ("NaN input", "inf*0", ...)
  int e_max = 0;
  int lsb_exponent = 0;           // e_max - F
  std::int64_t sum = 0;           // exact sum of the truncated terms, units of 2^lsb_exponent
  std::uint32_t result = 0;       // output bits of the step
};

struct DotTrace {
  std::vector<StepTrace> steps;
};

// Checks that the operand counts fit the instruction (K a multiple of L, one scale per
// scale_block); throws InputError naming `where` otherwise.
void check_shapes(const FdpaParams& p, std::size_t k, std::size_t n_scale_a, std::size_t n_scale_b,
                  const std::string& where);

// The whole instruction along K: ceil(K/L) chained fused steps, each step's rounded output
// the next step's C. scale_a/scale_b: K/scale_block entries (ST/GST only).
std::uint32_t dot(const FdpaParams& p, std::span<const std::uint32_t> a, std::span<const std::uint32_t> b,
                  std::uint32_t c, std::span<const std::uint32_t> scale_a = {},
                  std::span<const std::uint32_t> scale_b = {}, DotTrace* trace = nullptr);

// One fused step over n = L products (n = L/G groups for GST). For ST, sa/sb point at the
// step's single scale pair; for GST at one scale per group.
std::uint32_t fdpa_step(const FdpaParams& p, const std::uint32_t* a, const std::uint32_t* b, int n,
                        std::uint32_t c, const std::uint32_t* sa, const std::uint32_t* sb,
                        StepTrace* trace = nullptr);

// Converts the exact value (-1)^neg * mag * 2^lsb_exp to the output format with rho.
// mag == 0 gives +0 (MMA-Sim: an exactly-zero fused sum is +0 whatever the signs); under RZ a
// non-zero sum that truncates to zero is also +0 (measured on the H100, see tests/data/mma).
std::uint32_t round_output(Rounding rho, bool neg, std::uint64_t mag, int lsb_exp);

// Canonical outputs of the special paths.
inline constexpr std::uint32_t kNaN32 = 0x7FFFFFFFu;
inline constexpr std::uint32_t kNaN16 = 0x7FFFu;

// A finite operand as an integer significand and exponents: value = (-1)^neg * m * 2^q;
// e is the alignment exponent MMA-Sim reads (floor(log2|x|) for normals, the format's
// minimum normal exponent for subnormals, e2m1 normalised as its fp16 image).
struct OperandValue {
  fmt::Class cls;
  bool neg;
  std::uint32_t m;
  int q;
  int e;
};
OperandValue decode_operand(Operand op, std::uint32_t bits);

}  // namespace moesim::mma
