#include "traces/dtypes.hpp"

#include <array>

#include "sim/core/error.hpp"

namespace moesim::traces {

namespace {
constexpr std::array<DtypeInfo, 13> kDtypes{{
    {"f32", h5::Scalar::F32, 1},
    {"f64", h5::Scalar::F64, 1},
    {"i32", h5::Scalar::I32, 1},
    {"i64", h5::Scalar::I64, 1},
    {"u8", h5::Scalar::U8, 1},
    {"bf16", h5::Scalar::U16, 1},
    {"fp16", h5::Scalar::U16, 1},
    {"fp8_e4m3fn", h5::Scalar::U8, 1},
    {"fp8_e5m2", h5::Scalar::U8, 1},
    {"e2m1x2", h5::Scalar::U8, 2},
    {"ue4m3", h5::Scalar::U8, 1},
    {"ue8m0", h5::Scalar::U8, 1},
    {"u16", h5::Scalar::U16, 1},
}};
}  // namespace

bool is_known_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return true;
  return false;
}

const DtypeInfo& dtype_info(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d;
  std::string known;
  for (const auto& d : kDtypes) known += std::string(known.empty() ? "" : ", ") + d.name;
  throw InputError(where, "unknown dtype '" + name + "' (known: " + known + ")");
}

const char* default_dtype(h5::Scalar s) {
  switch (s) {
    case h5::Scalar::F32: return "f32";
    case h5::Scalar::F64: return "f64";
    case h5::Scalar::I32: return "i32";
    case h5::Scalar::I64: return "i64";
    case h5::Scalar::U8: return "u8";
    case h5::Scalar::U16: return "u16";
  }
  return "u8";
}

}  // namespace moesim::traces
