#include "traces/import/npy.hpp"

#include <cstring>
#include <fstream>

#include "sim/core/error.hpp"

namespace moesim::traces::import {

std::int64_t NpyArray::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::int64_t NpyArray::int_at(std::int64_t i) const {
  const std::uint8_t* p = data.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(itemsize);
  std::uint64_t u = 0;
  for (int b = itemsize - 1; b >= 0; --b) u = (u << 8) | p[b];
  if (kind == 'i' && itemsize < 8 && (u >> (8 * itemsize - 1)) & 1) u |= ~std::uint64_t(0) << (8 * itemsize);
  return static_cast<std::int64_t>(u);
}

namespace {
// Value of 'key' in the header dict literal: the text after "'key':" up to the matching end.
std::string dict_value(const std::string& h, const std::string& key, const std::string& where) {
  std::size_t p = h.find("'" + key + "'");
  if (p == std::string::npos) p = h.find("\"" + key + "\"");
  if (p == std::string::npos) throw InputError(where, "npy header has no '" + key + "'");
  p = h.find(':', p);
  if (p == std::string::npos) throw InputError(where, "npy header: malformed '" + key + "'");
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  if (p >= h.size()) throw InputError(where, "npy header: malformed '" + key + "'");
  if (h[p] == '\'' || h[p] == '"') {
    const std::size_t e = h.find(h[p], p + 1);
    if (e == std::string::npos) throw InputError(where, "npy header: unterminated string");
    return h.substr(p + 1, e - p - 1);
  }
  if (h[p] == '(') {
    const std::size_t e = h.find(')', p);
    if (e == std::string::npos) throw InputError(where, "npy header: unterminated shape tuple");
    return h.substr(p + 1, e - p - 1);
  }
  std::size_t e = p;
  while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  return h.substr(p, e - p);
}
}  // namespace

NpyArray parse_npy(const std::vector<std::uint8_t>& b, const std::string& where) {
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0) throw InputError(where, "not a .npy array (bad magic)");
  const int major = b[6];
  std::uint64_t hlen = 0, start = 0;
  if (major == 1) {
    hlen = b[8] | (std::uint64_t(b[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw InputError(where, "truncated .npy header");
    hlen = b[8] | (std::uint64_t(b[9]) << 8) | (std::uint64_t(b[10]) << 16) | (std::uint64_t(b[11]) << 24);
    start = 12;
  } else {
    throw InputError(where, ".npy format version " + std::to_string(major) + " not supported (1, 2, 3)");
  }
  if (hlen > b.size() - start) throw InputError(where, "truncated .npy header");
  const std::string h(reinterpret_cast<const char*>(b.data() + start), static_cast<std::size_t>(hlen));
  NpyArray a;
  a.descr = dict_value(h, "descr", where);
  const std::string fo = dict_value(h, "fortran_order", where);
  if (fo.find("True") != std::string::npos) throw InputError(where, "Fortran-order .npy arrays are not supported");
  if (a.descr.size() < 3 || (a.descr[0] != '<' && a.descr[0] != '|' && !(a.descr[0] == '>' && a.descr.substr(2) == "1")))
    throw InputError(where, "npy dtype '" + a.descr + "' is not little-endian");
  a.kind = a.descr[1];
  if (a.kind != 'i' && a.kind != 'u' && a.kind != 'f' && a.kind != 'b') throw InputError(where, "npy dtype '" + a.descr + "' not supported");
  try {
    a.itemsize = std::stoi(a.descr.substr(2));
  } catch (const std::exception&) {
    throw InputError(where, "npy dtype '" + a.descr + "' not understood");
  }
  if (a.itemsize != 1 && a.itemsize != 2 && a.itemsize != 4 && a.itemsize != 8) throw InputError(where, "npy itemsize " + a.descr + " not supported");
  const std::string sh = dict_value(h, "shape", where);
  std::uint64_t numel = 1;
  std::size_t p = 0;
  while (p < sh.size()) {
    while (p < sh.size() && (sh[p] == ' ' || sh[p] == ',')) ++p;
    if (p >= sh.size()) break;
    std::size_t e = p;
    while (e < sh.size() && sh[e] >= '0' && sh[e] <= '9') ++e;
    if (e == p || e - p > 15) throw InputError(where, "npy shape '(" + sh + ")' not understood");
    const std::uint64_t d = std::stoull(sh.substr(p, e - p));
    if (__builtin_mul_overflow(numel, d, &numel) || numel > (std::uint64_t(1) << 40)) throw InputError(where, "npy shape element count overflows");
    a.shape.push_back(static_cast<std::int64_t>(d));
    p = e;
    while (p < sh.size() && sh[p] == 'L') ++p;
  }
  const std::uint64_t need = numel * static_cast<std::uint64_t>(a.itemsize);
  const std::uint64_t have = b.size() - start - hlen;
  if (have < need) throw InputError(where, "truncated .npy data: " + std::to_string(have) + " bytes for shape (" + sh + ") " + a.descr + " (needs " + std::to_string(need) + ")");
  if (have > need) throw InputError(where, "trailing bytes after .npy data");
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(start + hlen), b.end());
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open");
  std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(b, path);
}

}  // namespace moesim::traces::import
