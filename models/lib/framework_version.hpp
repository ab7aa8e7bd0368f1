#pragma once
// Python package versions as FlashInfer publishes them ("0.6.8.post1", "0.6.11.post2",
// "0.6.16rc1", "0.6.4"): a small PEP 440 subset, enough to order the versions that the
// framework oracles gate on. Ordering follows PEP 440: X.devN < X.rcN < X < X.postN.
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::models {

struct PyVersion {
  std::vector<std::int64_t> release;  // 0.6.8 -> {0, 6, 8}
  int pre_kind = 3;                   // 0 = a, 1 = b, 2 = rc, 3 = none (final)
  std::int64_t pre_num = 0;
  std::int64_t post = -1;             // -1 = no .postN
  std::int64_t dev = -1;              // -1 = no .devN
  std::string text;                   // as written

  // Throws InputError(where, ...) if `s` is not a version this subset understands.
  static PyVersion parse(const std::string& s, const std::string& where);
  std::strong_ordering operator<=>(const PyVersion& o) const;
  bool operator==(const PyVersion& o) const { return (*this <=> o) == 0; }
};

}  // namespace moesim::models
