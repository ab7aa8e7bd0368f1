#pragma once
// MX (OCP microscaling) quantizers: ue8m0 block scales with the scale rules in use, and
// element rounding RNE-satfinite. Output: data [rows, cols/2] packed e2m1 (element 2i low
// nibble) or [rows, cols] fp8 bytes; scales [rows, cols/block] ue8m0 codes, linear layout.
//
// Scale rules (E = unbiased scale exponent, amax = block max |x|, emax = element's max exponent,
// Mx = element max: e2m1 6 / e4m3 448 / e5m2 57344):
//  OcpFloor      E = floor(log2 amax) - emax from the fp32 exponent field (subnormal/zero amax
//                -> -127), clamped to [-127, 128]: OCP MX v1.0 §6.3; torchao
//                ScaleCalculationMode.FLOOR (mx_formats/mx_tensor.py to_mx).
//  Rceil         E = ceil(log2(amax / Mx)) with amax/Mx an fp32 division, i.e.
//                cvt.rp.satfinite.ue8m0x2.f32(amax / Mx): torchao RCEIL, cuBLAS/cuDNN.
//  Even          amax rounded half-up to the element's mantissa width, then OcpFloor: torchao EVEN.
//  FlashinferRoundUp  FlashInfer cvt_warp_fp16_to_fp4<UE8M0_SF=true> / cvt_warp_fp16_to_mxfp8:
//                sf = e8m0_rp_satfinite(amax * rcp.approx.ftz(Mx)); elements x * exp2f_rcp(sf) with
//                exp2f_rcp(0) = 1 (sic).
//  VllmExpTrunc  vLLM nvfp4_utils.cuh cvt_warp_fp16_to_fp4<UE8M0_SF=true>: SF = g*(amax*rcp(6)),
//                code = fp32 exponent field of SF (truncation), elements x * rcp(2^(code-127) *
//                rcp(g)) (g = global scale, 1 when unused).
#include <cstdint>
#include <string_view>
#include <vector>

namespace moesim::quant {

enum class MxElem : std::uint8_t { E2M1, E4M3, E5M2 };
enum class MxScaleRule : std::uint8_t { OcpFloor, Rceil, Even, FlashinferRoundUp, VllmExpTrunc };

std::string_view mx_rule_name(MxScaleRule r);
MxScaleRule parse_mx_rule(std::string_view name);
std::string_view mx_elem_name(MxElem e);
MxElem parse_mx_elem(std::string_view name);

// ue8m0 code of one block's scale under `rule` (amax >= 0; NaN amax -> 0xFF).
std::uint8_t mx_scale_code(float amax, MxElem elem, MxScaleRule rule, float global_scale = 1.0f);

struct MxResult {
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> scales;
};

// block: 32 (MX) or 16 (vLLM's UE8M0 NVFP4 variant). cols % block == 0.
MxResult quantize_mx(const float* x, std::int64_t rows, std::int64_t cols, MxElem elem, MxScaleRule rule, int block = 32,
                     float global_scale = 1.0f);
std::vector<float> dequantize_mx(const MxResult& q, std::int64_t rows, std::int64_t cols, MxElem elem, int block = 32);

}  // namespace moesim::quant
