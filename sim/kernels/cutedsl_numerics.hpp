#pragma once
// Numerics of the FlashInfer CuteDSL NVFP4 MoE (cute_dsl_fused_moe_nvfp4) variant family ("flashinfer_cutedsl" in models/kernels/*.json).
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::cutedsl {

// Whether the GEMM2 finalize writes the caller's moe_output (every FlashInfer release checked,
// v0.6.4 .. v0.6.12: moe_output is threaded to the finalize kernel's `out=`) or a tensor the
// API allocates and returns while the caller's buffer is left as it was (the `out` rebinding
// bug class; used for fault injection, no upstream release found with it).
enum class OutputBinding { CallerBuffer, FreshAllocation };

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::cutedsl
