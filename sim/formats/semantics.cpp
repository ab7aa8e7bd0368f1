#include "sim/formats/semantics.hpp"

#include <cmath>
#include <limits>

namespace moesim::fmt {

double to_double(const Semantics& s, std::uint32_t bits) {
  const Decoded d = decode(s, bits);
  switch (d.cls) {
    case Class::NaN: return std::numeric_limits<double>::quiet_NaN();
    case Class::Inf: return d.neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    case Class::Zero: return d.neg ? -0.0 : 0.0;
    default: {
      const double v = std::ldexp(static_cast<double>(d.sig), d.exp - s.man_bits);
      return d.neg ? -v : v;
    }
  }
}

}  // namespace moesim::fmt
