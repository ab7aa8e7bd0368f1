// SHA-256 against the FIPS 180-2 appendix B test vectors and Python's hashlib on random data.
#include "sim/core/sha256.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "sim/core/rng.hpp"

namespace moesim {
namespace {

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(m.data(), m.size()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 s;  // one million 'a', fed in uneven pieces
  const std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) s.update(a.data(), a.size());
  EXPECT_EQ(s.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, MatchesHashlibOnRandomBytes) {
  Rng rng(12);
  std::string data;
  for (int i = 0; i < 4099; ++i) data += static_cast<char>(rng.next() & 0xff);
  const std::string path = ::testing::TempDir() + "/sha256_random.bin";
  std::ofstream(path, std::ios::binary) << data;
  const std::string cmd = std::string(MOESIM_PYTHON) + " -c \"import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())\" " + path;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[128] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  pclose(p);
  EXPECT_EQ(std::string(buf, 64), sha256_hex(data.data(), data.size()));
}

}  // namespace
}  // namespace moesim
