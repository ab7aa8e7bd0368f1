#pragma once
// FP8 (e4m3fn) quantizers with fp32 scales: per-tensor, per-token (per row), 1x128 groups
// (activations) and 128x128 blocks (weights), DeepSeek-V3 / vLLM / SGLang style.
//
// Rule (label "modelled": op order from the reference implementations, not recorded on
// hardware): scale = max(amax, eps) / 448 in fp32 (eps = 1e-10 for group/block quant as in
// per_token_group_quant_fp8; 0 otherwise; per-token additionally max(scale, 1/(448*512)) as
// vLLM's dynamic per-token kernel); q = cast(x / scale) with `cast` a named fmt::Cast
// (default cvt.rn.satfinite.e4m3x2.f32; "torch<2.13 e4m3fn" after an explicit clamp for the
// PyTorch references). Scales shape: [1], [rows], [rows, cols/128], [ceil(rows/128), cols/128].
#include <cstdint>
#include <string_view>
#include <vector>

namespace moesim::quant {

enum class Fp8Granularity : std::uint8_t { PerTensor, PerToken, Group1x128, Block128x128 };

std::string_view fp8_granularity_name(Fp8Granularity g);
Fp8Granularity parse_fp8_granularity(std::string_view name);

struct Fp8Result {
  std::vector<std::uint8_t> data;  // [rows, cols] e4m3fn bytes
  std::vector<float> scales;       // decode scales (x ~ q * scale)
  std::int64_t scale_rows = 0, scale_cols = 0;
};

Fp8Result quantize_fp8(const float* x, std::int64_t rows, std::int64_t cols, Fp8Granularity g,
                       std::string_view cast = "cvt.rn.satfinite.e4m3x2.f32");

}  // namespace moesim::quant
