// Forwards to sim/formats and sim/mma (see the header).
#include "sim/kernels/variant_arith.hpp"

#include <bit>

#include "models/lib/mma_params.hpp"

namespace moesim::kernels {

const mma::FdpaParams& hopper_bf16_params() {
  static const mma::FdpaParams p = models::FdpaTable::load_default().find("hopper", "wgmma.bf16.f32");
  return p;
}

void decode_bf16_row(const std::uint16_t* src, std::int64_t n, Bf16Row& out) {
  const std::uint16_t* rows[1] = {src};
  out.packed.pack(hopper_bf16_params(), static_cast<int>(n), rows);
  out.padded = out.packed.k_padded();
  out.nonfinite = false;
  for (std::uint8_t s : out.packed.special) out.nonfinite |= s != 0;
}

float hopper_bf16_dot_chain(const Bf16Row& a, const Bf16Row& b, std::int64_t k_begin, std::int64_t k_end, float c) {
  return std::bit_cast<float>(mma::chain_rows(hopper_bf16_params(), a.packed, 0, b.packed, 0, static_cast<int>(k_begin),
                                              static_cast<int>(k_end), std::bit_cast<std::uint32_t>(c)));
}

}  // namespace moesim::kernels
