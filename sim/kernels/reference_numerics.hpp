#pragma once
// The fp64 dequantized reference MoE: every input widened exactly to double, GEMMs and the
// activation in double, router weights applied in double and the top_k sum in double. Its
// stage outputs are f64 in the canonical layouts, so any variant can be diffed against it.
#include <memory>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::reference {

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::reference
