#include "traces/import/base64.hpp"

#include "sim/core/error.hpp"

namespace moesim::traces::import {

namespace {
constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::vector<std::uint8_t> base64_decode(std::string_view s, const std::string& where) {
  std::vector<std::uint8_t> out;
  out.reserve(s.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0, pad = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      ++n;
      continue;
    }
    const int v = value_of(c);
    if (v < 0) throw InputError(where, "invalid base64 character at offset " + std::to_string(i));
    if (pad) throw InputError(where, "base64 data after '=' padding");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    ++n;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  if (n % 4 != 0 || pad > 2) throw InputError(where, "base64 length is not a multiple of 4 (truncated?)");
  return out;
}

std::string base64_encode(const std::uint8_t* d, std::size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    const std::uint32_t v = (std::uint32_t(d[i]) << 16) | (i + 1 < n ? std::uint32_t(d[i + 1]) << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
    out.push_back(kAlpha[(v >> 18) & 63]);
    out.push_back(kAlpha[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlpha[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlpha[v & 63] : '=');
  }
  return out;
}

}  // namespace moesim::traces::import
