#pragma once
// Decoder for MSLZ, the small LZ77 container of the measured SFU tables (tests/data/sfu/*.mslz,
// written by scripts/gpu/sfu_compact.py): b"MSLZ1\0\0\0", u64 raw size, then tokens
// (varint literal count, literals, varint match length, varint distance if length > 0).
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::quant {

// Throws moesim::InputError naming `where` on any malformed or truncated input.
std::vector<std::uint8_t> mslz_decompress(const std::vector<std::uint8_t>& blob, const std::string& where);

// Reads a whole file; InputError if it cannot be read.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

}  // namespace moesim::quant
