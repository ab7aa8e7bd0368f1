#pragma once
// Strict RFC 4648 base64 (standard alphabet, '=' padding; whitespace and newlines skipped).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::traces::import {

// Throws InputError(where, ...) on a character outside the alphabet or bad padding.
std::vector<std::uint8_t> base64_decode(std::string_view s, const std::string& where);
std::string base64_encode(const std::uint8_t* data, std::size_t n);

}  // namespace moesim::traces::import
