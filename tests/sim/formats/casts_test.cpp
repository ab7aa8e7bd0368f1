// Named casts against what the hardware and PyTorch produced on an H100
// (scripts/gpu/sfu_record.py): PTX cvt on special values, and torch 2.11 CUDA casts of
// 327,680 inputs (2^18 seeded random fp32 bit patterns and every bf16 pattern).
#include "sim/formats/casts.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

namespace moesim::fmt {
namespace {

const std::string kDir = std::string(MOESIM_TEST_DATA_DIR) + "/sfu";

std::uint32_t input_x(std::uint64_t i) {  // as scripts/gpu/sfu_tabulate.cu k_vectors
  std::uint64_t st = 20261123ull + i * 0x9E3779B97F4A7C15ull;
  const std::uint64_t z = splitmix64(st);
  if ((i & 1) == 0) return static_cast<std::uint32_t>(z);
  return f32_bits(static_cast<float>(static_cast<std::int32_t>(static_cast<std::uint32_t>(z >> 32))) * 0x1p-24f);
}

TEST(Casts, TorchCudaCastsMatchRecorded) {
  std::ifstream in(kDir + "/torch_casts.bin", std::ios::binary);
  ASSERT_TRUE(in) << kDir;
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint32_t n;
  std::memcpy(&n, b.data(), 4);
  ASSERT_EQ(b.size(), 4 + std::size_t(n) * 6);
  const std::uint32_t n_rand = n - 65536;
  const auto* e4 = reinterpret_cast<const std::uint8_t*>(b.data() + 4);
  const auto* e5 = e4 + n;
  const std::uint8_t* p16 = e5 + n;
  const Cast& c_e4 = find_cast("torch<2.13 e4m3fn");
  const Cast& c_e5 = find_cast("torch e5m2");
  const Cast& c_bf = find_cast("torch cuda bf16");
  const Cast& c_f16 = find_cast("torch cuda f16");
  std::size_t bad = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t x = i < n_rand ? input_x(i) : (i - n_rand) << 16;
    std::uint16_t bf, f16;
    std::memcpy(&bf, p16 + 2 * std::size_t(i), 2);
    std::memcpy(&f16, p16 + 2 * std::size_t(n) + 2 * std::size_t(i), 2);
    if (apply(c_e4, x) != e4[i] || apply(c_e5, x) != e5[i] || apply(c_bf, x) != bf || apply(c_f16, x) != f16) {
      if (bad++ < 5)
        ADD_FAILURE() << std::hex << "x=0x" << x << " e4 " << apply(c_e4, x) << "/" << int(e4[i]) << " e5 " << apply(c_e5, x)
                      << "/" << int(e5[i]) << " bf " << apply(c_bf, x) << "/" << bf << " f16 " << apply(c_f16, x) << "/" << f16;
    }
  }
  EXPECT_EQ(bad, 0u);
}

TEST(Casts, PtxCvtSpecialValuesMatchRecorded) {
  std::ifstream in(kDir + "/sfu_report.txt");
  ASSERT_TRUE(in);
  std::string line;
  int n = 0;
  const Cast& e4 = find_cast("cvt.rn.satfinite.e4m3x2.f32");
  const Cast& e5 = find_cast("cvt.rn.satfinite.e5m2x2.f32");
  const Cast& bf = find_cast("cvt.rn.bf16.f32");
  const Cast& f16 = find_cast("cvt.rn.f16.f32");
  const Cast& bfz = find_cast("cvt.rz.bf16.f32");
  const Cast& bfs = find_cast("cvt.rn.satfinite.bf16.f32");
  while (std::getline(in, line)) {
    if (line.rfind("special=", 0) != 0) continue;
    std::vector<std::uint32_t> c;
    std::stringstream ss(line.substr(8));
    std::string tok;
    while (std::getline(ss, tok, ',')) c.push_back(static_cast<std::uint32_t>(std::stoul(tok, nullptr, 16)));
    ASSERT_EQ(c.size(), 13u);
    const std::uint32_t x = c[0];
    // x2 forms convert the same value twice: both bytes must be the cast result
    EXPECT_EQ(apply(e4, x) * 0x101u, c[4]) << std::hex << x;
    EXPECT_EQ(apply(e5, x) * 0x101u, c[5]) << std::hex << x;
    EXPECT_EQ(apply(bf, x), c[6]) << std::hex << x;
    EXPECT_EQ(apply(f16, x), c[7]) << std::hex << x;
    EXPECT_EQ(apply(bfz, x), c[11]) << std::hex << x;
    EXPECT_EQ(apply(bfs, x), c[12]) << std::hex << x;
    ++n;
  }
  EXPECT_GE(n, 20);
}

TEST(Casts, UnknownCastIsAnInputErrorListingKnownOnes) {
  try {
    find_cast("cvt.rn.e3m4.f32");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cvt.rn.satfinite.e4m3x2.f32"), std::string::npos);
  }
}

}  // namespace
}  // namespace moesim::fmt
