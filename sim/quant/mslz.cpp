#include "sim/quant/mslz.hpp"

#include <cstring>
#include <fstream>
#include <iterator>

#include "sim/core/error.hpp"

namespace moesim::quant {

std::vector<std::uint8_t> mslz_decompress(const std::vector<std::uint8_t>& blob, const std::string& where) {
  if (blob.size() < 16 || std::memcmp(blob.data(), "MSLZ1\0\0\0", 8) != 0)
    throw InputError(where, "not an MSLZ1 file (bad magic)");
  std::uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= std::uint64_t(blob[8 + i]) << (8 * i);
  if (size > (std::uint64_t{1} << 32)) throw InputError(where, "MSLZ raw size " + std::to_string(size) + " is implausible");
  std::size_t pos = 16;
  auto varint = [&]() -> std::uint64_t {
    std::uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
      if (pos >= blob.size()) throw InputError(where, "MSLZ stream truncated");
      const std::uint8_t b = blob[pos++];
      v |= std::uint64_t(b & 0x7F) << sh;
      if (!(b & 0x80)) return v;
    }
    throw InputError(where, "MSLZ varint too long");
  };
  std::vector<std::uint8_t> out;
  out.reserve(size);
  while (out.size() < size) {
    const std::uint64_t lit = varint();
    if (lit > blob.size() - pos || lit > size - out.size()) throw InputError(where, "MSLZ literal run overruns");
    out.insert(out.end(), blob.begin() + static_cast<std::ptrdiff_t>(pos), blob.begin() + static_cast<std::ptrdiff_t>(pos + lit));
    pos += lit;
    if (out.size() >= size) break;
    const std::uint64_t len = varint();
    if (len == 0) continue;
    const std::uint64_t dist = varint();
    if (dist == 0 || dist > out.size() || len > size - out.size()) throw InputError(where, "MSLZ match out of range");
    const std::size_t start = out.size() - dist;
    for (std::uint64_t k = 0; k < len; ++k) out.push_back(out[start + k]);  // may overlap
  }
  if (out.size() != size) throw InputError(where, "MSLZ stream ended early");
  return out;
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open file");
  std::vector<std::uint8_t> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path, "read error");
  return v;
}

}  // namespace moesim::quant
