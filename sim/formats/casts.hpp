#pragma once
// Hardware conversions and library casts as data: each named cast is a (from, to, options)
// record for fmt::convert. Traces and quantizer rules refer to casts by these names.
#include <span>
#include <string_view>

#include "sim/formats/convert.hpp"

namespace moesim::fmt {

struct Cast {
  std::string_view name;    // PTX mnemonic, or "<library> <op>" for software casts
  const Semantics* from;
  const Semantics* to;
  ConvertOptions options;
  std::string_view models;  // what it reproduces (upstream location / instruction)
  std::string_view evidence;  // how it was checked against hardware or the library
};

std::span<const Cast> casts();
// Throws moesim::InputError naming the unknown cast and listing the known ones.
const Cast& find_cast(std::string_view name);
inline std::uint32_t apply(const Cast& c, std::uint32_t bits) { return convert(*c.from, *c.to, bits, c.options); }

}  // namespace moesim::fmt
