#include "sim/kernels/triton_fp8_numerics.hpp"

#include "sim/core/error.hpp"

namespace moesim::kernels::triton_fp8 {

// Placeholder until the family's stages land: a variant description naming this family is
// refused with a clear error rather than replayed wrongly.
std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) {
  throw InputError(spec.file + ":/family", "implementation family '" + spec.family + "' is not implemented yet");
}

}  // namespace moesim::kernels::triton_fp8
