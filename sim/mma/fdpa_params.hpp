#pragma once
// Parameters of one tensor-core instruction's arithmetic, as a value (MMA-Sim style: one
// parameterised fused dot-product-accumulate model, and a table of parameters per
// architecture and instruction). The table itself is data: models/mma/fdpa.json, loaded by
// models/lib/mma_params.cpp. This header is plain data so that both rooms can include it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/formats/semantics.hpp"

namespace moesim::mma {

// The three fused dot-product-add algorithms of MMA-Sim (arXiv:2511.10909, Alg. 7-9).
enum class Algorithm : std::uint8_t {
  T,    // truncated FDPA: L exact products + C, aligned to e_max, truncated to F fraction bits
  ST,   // scaled T-FDPA: one scale pair per step multiplies every product exactly (MX, K=32)
  GST,  // group-scaled: exact group sums of G products, aligned by the scale exponents only
};

// Conversion of the exact fixed-point sum to the output format (MMA-Sim's rho).
enum class Rounding : std::uint8_t {
  RZ_FP32,   // normalise, truncate to 23 fraction bits; fp32 subnormals kept; >= 2^128 -> inf
  RZ_E8M13,  // as RZ_FP32 but only 13 fraction bits survive (Hopper/Ada fp8 accumulators)
  RNE_FP16,  // round to nearest even into fp16; overflow -> inf
};

// Operand formats an FDPA can read. TF32 is fp32 storage with the low 13 mantissa bits
// ignored (MMA-Sim truncate_fp32_to_tf32: bits >> 13 << 13 before decoding).
enum class Operand : std::uint8_t { FP32, TF32, FP16, BF16, E4M3, E5M2, E2M1, UE8M0, UE4M3 };

inline const fmt::Semantics& semantics_of(Operand op) {
  switch (op) {
    case Operand::FP32:
    case Operand::TF32: return fmt::kFP32;
    case Operand::FP16: return fmt::kFP16;
    case Operand::BF16: return fmt::kBF16;
    case Operand::E4M3: return fmt::kE4M3FN;
    case Operand::E5M2: return fmt::kE5M2;
    case Operand::E2M1: return fmt::kE2M1;
    case Operand::UE8M0: return fmt::kUE8M0;
    case Operand::UE4M3: return fmt::kUE4M3;
  }
  return fmt::kFP32;
}

inline std::string_view operand_name(Operand op) {
  switch (op) {
    case Operand::FP32: return "fp32";
    case Operand::TF32: return "tf32";
    case Operand::FP16: return "fp16";
    case Operand::BF16: return "bf16";
    case Operand::E4M3: return "e4m3";
    case Operand::E5M2: return "e5m2";
    case Operand::E2M1: return "e2m1";
    case Operand::UE8M0: return "ue8m0";
    case Operand::UE4M3: return "ue4m3";
  }
  return "?";
}

inline std::optional<Operand> operand_from_name(std::string_view s) {
  for (Operand op : {Operand::FP32, Operand::TF32, Operand::FP16, Operand::BF16, Operand::E4M3,
                     Operand::E5M2, Operand::E2M1, Operand::UE8M0, Operand::UE4M3})
    if (operand_name(op) == s) return op;
  if (s == "e4m3fn") return Operand::E4M3;
  return std::nullopt;
}

inline std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::T: return "T-FDPA";
    case Algorithm::ST: return "ST-FDPA";
    case Algorithm::GST: return "GST-FDPA";
  }
  return "?";
}

inline std::string_view rounding_name(Rounding r) {
  switch (r) {
    case Rounding::RZ_FP32: return "RZ-FP32";
    case Rounding::RZ_E8M13: return "RZ-E8M13";
    case Rounding::RNE_FP16: return "RNE-FP16";
  }
  return "?";
}

// One row of the table: one instruction (shape-independent) on one architecture.
struct FdpaParams {
  std::string arch;   // "hopper", "blackwell", ...
  std::string inst;   // "wgmma.bf16", "tcgen05.mxf4nvf4.nvfp4", ...
  std::string ptx;    // the PTX instruction it models, for messages
  Algorithm algorithm = Algorithm::T;
  Operand a = Operand::BF16;
  Operand b = Operand::BF16;
  Operand c = Operand::FP32;  // accumulator format (C in, D out): FP32 or FP16
  int k = 16;                 // K of one instruction
  int l = 16;                 // products per fused step (chained when K > L)
  int f = 25;                 // fraction bits kept below 2^e_max
  Rounding rho = Rounding::RZ_FP32;
  int e_zero = -133;          // exponent a zero product / zero C takes in the e_max search
  int g = 0;                  // GST only: products per exactly-summed group
  std::optional<Operand> scale;  // ST/GST: scale format
  int scale_block = 0;           // ST/GST: K elements sharing one scale
  std::string source;            // where the parameters come from

  std::string key() const { return arch + ":" + inst; }
  int steps() const { return (k + l - 1) / l; }
  // Output width in bits (fp32 or fp16 accumulator).
  int out_bits() const { return c == Operand::FP16 ? 16 : 32; }
};

}  // namespace moesim::mma
