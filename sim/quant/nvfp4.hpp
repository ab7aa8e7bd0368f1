#pragma once
// NVFP4 quantizers (e2m1 elements, 16-element blocks, e4m3 block scale, fp32 global scale),
// one per library rule, each reproducing that library's fp32 operation order.
//
// Output contract (all rules): packed [rows, cols/2] bytes, element 2i in the low nibble of
// byte i (cvt.rn.satfinite.e2m1x2 packing); scales [rows, cols/16] e4m3 bytes in LINEAR layout
// (apply sim/quant/layout.hpp for swizzled layouts).
//
// Global-scale semantics: GlobalScale holds the value the library's API takes, per rule:
//   VllmKernel / VllmTeExact: input_global_scale = 2688 / amax ("encode" scale, = 1/alpha)
//   TransformerEngine:        the tensor amax (TE computes 2688/amax itself)
//   Torchao:                  per_tensor_scale = amax / 2688 ("decode" scale)
//   ModelOpt:                 weights_scaling_factor_2 = amax / 2688 (computed as amax/(6*448))
//   te-4over6*:               the tensor amax (TE computes S_enc = E*6/amax, E = 256 or 448)
//   flashinfer-4over6*:       the encode scale E*6/amax (E = 448, or 256 for the -e256 names)
// and its shape contract: [1] per tensor, [rows] per token, or [num_experts] with expert row
// offsets (vLLM nvfp4_experts_quant / FlashInfer fp4_quantize with row-wise scales).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::quant {

enum class Nvfp4Rule : std::uint8_t {
  VllmKernel,         // vLLM/TRT-LLM/FlashInfer cvt_warp_fp16_to_fp4 (rcp.approx.ftz twice)
  VllmTeExact,        // FlashInfer >= 0.6.11 TE_EXACT_NVFP4 branch (exact reciprocals)
  TransformerEngine,  // TE custom_recipes/quantization_nvfp4.py reference
  Torchao,            // torchao mx_formats nvfp4_tensor._nvfp4_quantize (two-level)
  TorchaoSingleLevel, // same, per_tensor_scale=None (block scales only, clamped to [2^-6, 448])
  ModelOpt,           // ModelOpt qtensor/nvfp4_tensor.py NVFP4QTensor.quantize
  // Values >= 0x40 encode the 4-over-6 variants (TE / FlashInfer): see nvfp4_4over6.hpp
  // (four_over_six_rule / four_over_six_of); their names come from nvfp4_rule_name.
};

std::string_view nvfp4_rule_name(Nvfp4Rule r);
// Parses names as printed by nvfp4_rule_name; throws InputError listing the known ones.
Nvfp4Rule parse_nvfp4_rule(std::string_view name);
// Every rule moesim models, the six single-scale rules first, then the 4-over-6 variants.
std::vector<Nvfp4Rule> all_nvfp4_rules();

struct GlobalScale {
  enum class Shape : std::uint8_t { PerTensor, PerToken, PerExpert };
  Shape shape = Shape::PerTensor;
  std::vector<float> values;            // [1], [rows] or [num_experts]
  std::vector<std::int64_t> expert_offsets;  // PerExpert: rows of expert e are [off[e], off[e+1])

  // Throws InputError(where, ...) if the shape contract does not hold for `rows`.
  void validate(std::int64_t rows, const char* where) const;
  float for_row(std::int64_t row) const;
};

// What the caller of each library computes from an amax (fp32, the library's op order).
float global_scale_from_amax(Nvfp4Rule rule, float amax);
// One line naming what the rule's global scale means ("tensor amax", "encode: 2688/amax", ...),
// for file attributes and reports.
std::string nvfp4_global_scale_semantics(Nvfp4Rule rule);

struct Nvfp4Result {
  std::vector<std::uint8_t> packed;  // [rows, cols/2]
  std::vector<std::uint8_t> scales;  // [rows, cols/16], linear
};

// x: fp32 values [rows, cols] row-major (bf16/fp16 inputs widened exactly). cols % 16 == 0.
// Deterministic for any OpenMP thread count (blocks are independent).
Nvfp4Result quantize_nvfp4(const float* x, std::int64_t rows, std::int64_t cols, const GlobalScale& gs, Nvfp4Rule rule);

// Dequantize (for roundtrips): value = e2m1 * e4m3(scale) * decode_global, with decode_global
// derived from the rule's GlobalScale semantics (exact fp32 ops: e2m1*e4m3 is exact).
std::vector<float> dequantize_nvfp4(const Nvfp4Result& q, std::int64_t rows, std::int64_t cols, const GlobalScale& gs,
                                    Nvfp4Rule rule);

// Amax over |x| (exact; NaN propagates as NaN).
float amax_abs(const float* x, std::int64_t n);

}  // namespace moesim::quant
