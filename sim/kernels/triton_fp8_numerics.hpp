#pragma once
// Numerics of the vLLM Triton fused_moe with fp8 w8a8 (per-tensor and 128x128 block) variant family ("triton_fused_moe_fp8" in models/kernels/*.json).
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::triton_fp8 {

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::triton_fp8
