#pragma once
// Overflow-checked size arithmetic for sizes that come from untrusted files. Every product or
// sum of declared sizes (dimensions, counts, byte sizes) goes through these: an overflow is an
// InputError naming `where`, never a wrapped value that later under-allocates or over-reads.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim {

inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& where) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw InputError(where, "size overflow: " + std::to_string(a) + " * " + std::to_string(b) + " does not fit in 64 bits");
  return r;
}

inline std::int64_t checked_add(std::int64_t a, std::int64_t b, const std::string& where) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw InputError(where, "size overflow: " + std::to_string(a) + " + " + std::to_string(b) + " does not fit in 64 bits");
  return r;
}

// Product of dimensions; every dimension must be >= 0.
inline std::int64_t checked_product(const std::vector<std::int64_t>& dims, const std::string& where) {
  std::int64_t n = 1;
  for (auto d : dims) {
    if (d < 0) throw InputError(where, "negative dimension " + std::to_string(d));
    n = checked_mul(n, d, where);
  }
  return n;
}

}  // namespace moesim
