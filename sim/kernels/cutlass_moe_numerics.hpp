#pragma once
// Numerics of the FlashInfer CUTLASS fused MoE (cutlass_fused_moe) variant family ("flashinfer_cutlass" in models/kernels/*.json).
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::cutlass {

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::cutlass
