#pragma once
// Exact fp64 values of one expert's stored weight matrix, whatever its storage: bf16, fp8
// (per-tensor or 128x128 block f32 scales), NVFP4 (e2m1 x ue4m3 per 16 x fp32 global scale) or
// MXFP4 (e2m1 x ue8m0 per 32). Every product involved has at most 2 + 4 + 24 significant bits,
// so the double is the exact real value the quantized weight stands for. This is what the
// fp64 reference multiplies with; it models no kernel's dequantization order. Non-finite codes
// and scales come out as NaN/Inf (they propagate; rejecting them as bad input is the trace
// reader's job, which names the dataset and index).
#include <cstdint>
#include <string>
#include <vector>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels {

// [rows, cols] logical values (cols counts elements, not packed bytes). `where` names the
// matrix in errors (InputError for a shape, dtype, scale count or layout the data does not fit).
std::vector<double> dequantize_exact(const ExpertMatrix& w, std::int64_t rows, std::int64_t cols,
                                     const std::string& where);

}  // namespace moesim::kernels
