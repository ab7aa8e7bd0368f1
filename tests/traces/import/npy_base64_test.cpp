// .npy and base64 readers on hand-built bytes (numpy/lib/format.py v1 header layout; RFC 4648):
// valid arrays decode to the right values; truncated, big-endian, Fortran-order and
// malformed inputs are InputErrors, never out-of-bounds reads.
#include <gtest/gtest.h>

#include <string>

#include "sim/core/error.hpp"
#include "traces/import/base64.hpp"
#include "traces/import/npy.hpp"

namespace {

using moesim::InputError;
using namespace moesim::traces::import;

std::vector<std::uint8_t> npy(const std::string& dict, const std::vector<std::uint8_t>& data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::vector<std::uint8_t> b{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(h.size()), static_cast<std::uint8_t>(h.size() >> 8)};
  b.insert(b.end(), h.begin(), h.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

TEST(Npy, DecodesIntegerArrays) {
  const auto a = parse_npy(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 1, 2), }", {1, 0, 0xFF, 0xFF, 3, 1, 4, 0}), "x");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 1, 2}));
  EXPECT_EQ(a.int_at(0), 1);
  EXPECT_EQ(a.int_at(1), 65535);
  EXPECT_EQ(a.int_at(2), 259);
  const auto s = parse_npy(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", {0xFF, 0xFF, 0xFF, 0xFF}), "x");
  EXPECT_EQ(s.int_at(0), -1);
  const auto u = parse_npy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", {7, 8, 9}), "x");
  EXPECT_EQ(u.int_at(2), 9);
}

TEST(Npy, HostileInputsAreInputErrors) {
  EXPECT_THROW(parse_npy({1, 2, 3}, "x"), InputError);
  EXPECT_THROW(parse_npy(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", {0, 0, 0, 0}), "x"), InputError);  // truncated
  EXPECT_THROW(parse_npy(npy("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", {0, 0, 0, 0}), "x"), InputError);  // big-endian
  EXPECT_THROW(parse_npy(npy("{'descr': '<i4', 'fortran_order': True, 'shape': (1,), }", {0, 0, 0, 0}), "x"), InputError);
  EXPECT_THROW(parse_npy(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", {}), "x"), InputError);
  EXPECT_THROW(parse_npy(npy("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", {0, 0, 0, 0}), "x"), InputError);
  EXPECT_THROW(parse_npy(npy("{'fortran_order': False, 'shape': (1,), }", {0}), "x"), InputError);
  auto b = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", {1});
  b[8] = 0xFF, b[9] = 0xFF;  // header length past the end
  EXPECT_THROW(parse_npy(b, "x"), InputError);
}

TEST(Base64, RoundTripAndStrictness) {
  for (std::size_t n = 0; n < 20; ++n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 37 + 1);
    EXPECT_EQ(base64_decode(base64_encode(v.data(), v.size()), "x"), v) << n;
  }
  EXPECT_EQ(base64_decode("aGVsbG8=", "x"), (std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_THROW(base64_decode("aGVsbG8", "x"), InputError);    // truncated
  EXPECT_THROW(base64_decode("aGV$bG8=", "x"), InputError);   // alphabet
  EXPECT_THROW(base64_decode("aG=sbG8=", "x"), InputError);   // data after padding
}

}  // namespace
