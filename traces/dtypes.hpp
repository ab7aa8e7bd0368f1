#pragma once
// Logical dtypes of trace tensors and the HDF5 scalar each one is stored as.
#include <string>

#include "traces/h5.hpp"

namespace moesim::traces {

struct DtypeInfo {
  const char* name;
  h5::Scalar storage;
  int elems_per_storage;  // 2 for e2m1x2 (two fp4 per byte), else 1
};

// Throws InputError(where, ...) for unknown names.
const DtypeInfo& dtype_info(const std::string& name, const std::string& where);
bool is_known_dtype(const std::string& name);
// Default logical dtype for a stored scalar when no dtype attribute is present.
const char* default_dtype(h5::Scalar s);

}  // namespace moesim::traces
