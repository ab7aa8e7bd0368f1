#include "sim/kernels/weight_dequant.hpp"

#include <cmath>
#include <cstdio>

#include "sim/core/error.hpp"
#include "sim/formats/semantics.hpp"
#include "sim/quant/layout.hpp"

namespace moesim::kernels {
namespace {

std::string dims(std::int64_t r, std::int64_t c) { return "[" + std::to_string(r) + ", " + std::to_string(c) + "]"; }
std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// fp8 weights: one f32 scale (per tensor) or one per 128x128 block, row-major over blocks.
void apply_fp8_scale(const ExpertMatrix& w, std::int64_t rows, std::int64_t cols, std::vector<double>& v,
                     const std::string& where) {
  const std::int64_t n = static_cast<std::int64_t>(w.scale.size());
  const std::int64_t br = cdiv(rows, 128), bc = cdiv(cols, 128);
  if (n == 1) {
    for (double& x : v) x *= static_cast<double>(w.scale[0]);
  } else if (n == br * bc) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) v[r * cols + c] *= static_cast<double>(w.scale[(r / 128) * bc + c / 128]);
  } else {
    throw InputError(where + "_scale", "fp8 weights need 1 (per-tensor) or " + std::to_string(br * bc) +
                                           " (128x128 blocks) f32 scales, got " + std::to_string(n));
  }
}

// FP4 weights: e2m1 codes, two per byte (element 2j in the low nibble), block scales as raw
// ue4m3 (NVFP4, 16 elements) or ue8m0 (MXFP4, 32 elements) bytes in a sim/quant layout.
void dequantize_fp4(const ExpertMatrix& w, std::int64_t rows, std::int64_t cols, std::vector<double>& v,
                    const std::string& where) {
  if (cols % 2) throw InputError(where, "e2m1x2 weights need an even column count, got " + std::to_string(cols));
  const bool nv = w.scale_dtype == "ue4m3";
  if (!nv && w.scale_dtype != "ue8m0")
    throw InputError(where + "_scale", "e2m1x2 weights need ue4m3 (NVFP4) or ue8m0 (MXFP4) block scales, got '" +
                                           (w.scale_dtype.empty() ? std::string("none") : w.scale_dtype) + "'");
  const std::int64_t block = nv ? 16 : 32;
  if (cols % block) throw InputError(where, "columns " + std::to_string(cols) + " are not a multiple of the " +
                                                std::to_string(block) + "-element scale block");
  const std::int64_t sc = cols / block;
  const quant::SfLayout layout = quant::parse_layout(w.scale_layout);
  const std::int64_t need = quant::sf_layout_size(layout, rows, sc);
  if (static_cast<std::int64_t>(w.scale_bytes.size()) != need)
    throw InputError(where + "_scale", "expected " + std::to_string(need) + " scale bytes for " + dims(rows, sc) +
                                           " in layout " + w.scale_layout + ", got " + std::to_string(w.scale_bytes.size()));
  const std::vector<std::uint8_t> sf = quant::sf_from_layout(w.scale_bytes.data(), rows, sc, layout);
  const fmt::Semantics& ss = nv ? fmt::kUE4M3 : fmt::kUE8M0;
  const double g = nv ? static_cast<double>(w.global_scale.value_or(1.0f)) : 1.0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t b = 0; b < sc; ++b) {
      const std::uint8_t sbits = sf[static_cast<std::size_t>(r * sc + b)];
      const double s = fmt::to_double(ss, nv ? (sbits & 0x7Fu) : sbits);
      for (std::int64_t j = 0; j < block; ++j) {
        const std::int64_t c = b * block + j;
        const std::uint8_t byte = w.bytes[static_cast<std::size_t>((r * cols + c) / 2)];
        const std::uint32_t code = (c % 2) ? (byte >> 4) : (byte & 0xFu);
        v[r * cols + c] = fmt::to_double(fmt::kE2M1, code) * s * g;
      }
    }
}

}  // namespace

std::vector<double> dequantize_exact(const ExpertMatrix& w, std::int64_t rows, std::int64_t cols,
                                     const std::string& where) {
  const bool packed = w.dtype == "e2m1x2";
  const std::int64_t stored_cols = packed ? cols / 2 : cols;
  if (w.rows != rows || w.cols != stored_cols)
    throw InputError(where, "expected " + w.dtype + " " + dims(rows, stored_cols) + ", got " + dims(w.rows, w.cols));
  const std::size_t elem_bytes = (w.dtype == "bf16") ? 2 : 1;
  if (w.bytes.size() != static_cast<std::size_t>(w.rows * w.cols) * elem_bytes)
    throw InputError(where, "byte size does not match " + dims(w.rows, w.cols) + " " + w.dtype);
  std::vector<double> v(static_cast<std::size_t>(rows * cols));
  if (w.dtype == "bf16") {
    for (std::int64_t i = 0; i < rows * cols; ++i) v[i] = fmt::to_double(fmt::kBF16, w.bf16()[i]);
  } else if (w.dtype == "fp8_e4m3fn" || w.dtype == "fp8_e5m2") {
    const fmt::Semantics& s = w.dtype == "fp8_e4m3fn" ? fmt::kE4M3FN : fmt::kE5M2;
    for (std::int64_t i = 0; i < rows * cols; ++i) v[i] = fmt::to_double(s, w.bytes[i]);
    apply_fp8_scale(w, rows, cols, v, where);
  } else if (packed) {
    dequantize_fp4(w, rows, cols, v, where);
  } else {
    throw InputError(where, "weight dtype '" + w.dtype + "' is not dequantized (bf16, fp8_e4m3fn, fp8_e5m2, e2m1x2)");
  }
  return v;
}

}  // namespace moesim::kernels
