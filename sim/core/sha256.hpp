#pragma once
// SHA-256 (FIPS 180-4) of a byte string, as 64 lowercase hex digits. Regression baselines
// record the hash of a replay's output bits with it.
#include <cstddef>
#include <cstdint>
#include <string>

namespace moesim {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  std::string hex_digest();  // finishes; the object is then spent

 private:
  void block(const std::uint8_t* p);
  std::uint32_t h_[8];
  std::uint8_t buf_[64];
  std::size_t fill_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, std::size_t n);

}  // namespace moesim
