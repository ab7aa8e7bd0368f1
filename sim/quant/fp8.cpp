#include "sim/quant/fp8.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/casts.hpp"
#include "sim/formats/fast.hpp"

namespace moesim::quant {

std::string_view fp8_granularity_name(Fp8Granularity g) {
  switch (g) {
    case Fp8Granularity::PerTensor: return "per-tensor";
    case Fp8Granularity::PerToken: return "per-token";
    case Fp8Granularity::Group1x128: return "group-1x128";
    case Fp8Granularity::Block128x128: return "block-128x128";
  }
  return "?";
}

Fp8Granularity parse_fp8_granularity(std::string_view n) {
  for (Fp8Granularity g : {Fp8Granularity::PerTensor, Fp8Granularity::PerToken, Fp8Granularity::Group1x128, Fp8Granularity::Block128x128})
    if (fp8_granularity_name(g) == n) return g;
  throw InputError("--granularity", "unknown FP8 granularity '" + std::string(n) + "' (known: per-tensor, per-token, group-1x128, block-128x128)");
}

Fp8Result quantize_fp8(const float* x, std::int64_t rows, std::int64_t cols, Fp8Granularity g, std::string_view cast_name) {
  const fmt::Cast& cast = fmt::find_cast(cast_name);
  if (cast.to != &fmt::kE4M3FN) throw InputError("--cast", "cast '" + std::string(cast_name) + "' does not produce e4m3fn");
  const bool torch_cast = cast.options.saturation != fmt::Saturation::SatFinite;
  // The hardware cast has a fast path tested bit-identical to fmt::convert.
  const bool hw_fast = cast.name == "cvt.rn.satfinite.e4m3x2.f32";
  std::int64_t br = 1, bc = 1;  // block extents
  float eps = 0.0f;
  Fp8Result r;
  switch (g) {
    case Fp8Granularity::PerTensor: br = rows, bc = cols; break;
    case Fp8Granularity::PerToken: br = 1, bc = cols; break;
    case Fp8Granularity::Group1x128: br = 1, bc = 128, eps = 1e-10f; break;
    case Fp8Granularity::Block128x128: br = 128, bc = 128, eps = 1e-10f; break;
  }
  if ((g == Fp8Granularity::Group1x128 || g == Fp8Granularity::Block128x128) && cols % 128 != 0)
    throw InputError("fp8", "cols=" + std::to_string(cols) + " is not a multiple of 128");
  br = std::max<std::int64_t>(br, 1);
  bc = std::max<std::int64_t>(bc, 1);
  r.scale_rows = (rows + br - 1) / br;
  r.scale_cols = (cols + bc - 1) / bc;
  r.scales.assign(static_cast<std::size_t>(r.scale_rows * r.scale_cols), 0.0f);
  r.data.assign(static_cast<std::size_t>(rows * cols), 0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::int64_t s = 0; s < r.scale_rows * r.scale_cols; ++s) {
    const std::int64_t sr = s / r.scale_cols, sc = s % r.scale_cols;
    const std::int64_t r0 = sr * br, r1 = std::min(rows, r0 + br), c0 = sc * bc, c1 = std::min(cols, c0 + bc);
    float amax = 0.0f;
    for (std::int64_t i = r0; i < r1; ++i)
      for (std::int64_t j = c0; j < c1; ++j) amax = std::max(amax, std::fabs(x[i * cols + j]));
    float scale = std::max(amax, eps) / 448.0f;
    if (g == Fp8Granularity::PerToken) scale = std::max(scale, 1.0f / (448.0f * 512.0f));
    if (scale == 0.0f) scale = 1.0f;  // all-zero per-tensor input: any scale encodes zeros
    r.scales[static_cast<std::size_t>(s)] = scale;
    for (std::int64_t i = r0; i < r1; ++i)
      for (std::int64_t j = c0; j < c1; ++j) {
        float v = x[i * cols + j] / scale;
        if (torch_cast) v = v != v ? v : std::clamp(v, -448.0f, 448.0f);
        r.data[static_cast<std::size_t>(i * cols + j)] =
            hw_fast ? fmt::fast::f32_to_e4m3_satfinite(v) : static_cast<std::uint8_t>(fmt::apply(cast, f32_bits(v)));
      }
  }
  return r;
}

}  // namespace moesim::quant
