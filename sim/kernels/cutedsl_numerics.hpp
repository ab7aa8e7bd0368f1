#pragma once
// Numerics of the FlashInfer CuteDSL NVFP4 MoE (cute_dsl_fused_moe_nvfp4) variant family ("flashinfer_cutedsl" in models/kernels/*.json).
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::cutedsl {

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::cutedsl
