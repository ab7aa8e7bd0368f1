#pragma once
// Numerics of the FlashInfer TRTLLM-gen fused MoE (trtllm_fp4_block_scale_moe) variant family ("flashinfer_trtllm_gen" in models/kernels/*.json).
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::trtllm_gen {

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::trtllm_gen
