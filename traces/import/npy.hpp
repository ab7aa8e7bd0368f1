#pragma once
// NumPy .npy reader (numpy/lib/format.py: magic "\x93NUMPY", version 1 u16 / 2-3 u32 LE header
// length, a Python dict literal {'descr', 'fortran_order', 'shape'}). Hostile input: header and
// data sizes overflow-checked, only little-endian (or byte-wide) numeric dtypes, C order.
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::traces::import {

struct NpyArray {
  char kind = 0;        // 'i' signed int, 'u' unsigned int, 'f' float, 'b' bool
  int itemsize = 0;     // bytes per element
  std::string descr;    // as in the header, e.g. "<i4", "|u1"
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;  // little-endian, C order
  std::int64_t numel() const;
  // Element i as int64 (integer kinds only).
  std::int64_t int_at(std::int64_t i) const;
};

NpyArray parse_npy(const std::vector<std::uint8_t>& bytes, const std::string& where);
NpyArray read_npy(const std::string& path);

}  // namespace moesim::traces::import
