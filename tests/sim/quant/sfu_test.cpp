// The SFU emulation against outputs recorded on an H100 (scripts/gpu/sfu_tabulate.cu):
// 2^20 seeded random inputs for rcp.approx.ftz and ex2.approx.ftz, 2^18 for ex2.approx,
// __expf, __fdividef and the vLLM silu, and every bf16 input for the silu. The recorded
// outputs are stored as small deltas from a plain double-precision predictor (a decoding
// aid only, it never decides the expected value: the recorded bits do).
#include "sim/quant/sfu.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/quant/mslz.hpp"

namespace moesim::quant {
namespace {

const std::string kDir = std::string(MOESIM_TEST_DATA_DIR) + "/sfu";
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix_at(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t st = seed + i * kGolden;  // splitmix64 advances the state before mixing
  return splitmix64(st);
}

// Inputs exactly as scripts/gpu/sfu_tabulate.cu k_vectors generates them.
std::uint32_t input_x(std::uint64_t i) {
  const std::uint64_t z = mix_at(20261123ull, i);
  if ((i & 1) == 0) return static_cast<std::uint32_t>(z);
  const auto k = static_cast<std::int32_t>(static_cast<std::uint32_t>(z >> 32));
  return f32_bits(static_cast<float>(k) * 0x1p-24f);
}
std::uint32_t input_y(std::uint64_t i) { return static_cast<std::uint32_t>(mix_at(777ull, i) >> 32); }

// Same arithmetic as scripts/gpu/sfu_compact.py predict() (IEEE double +,*,/ only).
const double kCoeffs[13] = {0x1.0000000000000p+0, 0x1.62e42fefa39efp-1, 0x1.ebfbdff82c58ep-3, 0x1.c6b08d704a0bfp-5,
                            0x1.3b2ab6fba4e77p-7, 0x1.5d87fe78a6730p-10, 0x1.430912f86c786p-13, 0x1.ffcbfc588b0c5p-17,
                            0x1.62c0223a5c822p-20, 0x1.b5253d395e7c1p-24, 0x1.e4cf5158b8ec7p-28, 0x1.e8cac7351bb22p-32,
                            0x1.c3bd650fc2983p-36};
double exp2d(double t) {
  if (std::isnan(t)) return t;
  if (t >= 200.0) return INFINITY;
  if (t <= -200.0) return 0.0;
  const double i = std::floor(t), f = t - i;
  double p = kCoeffs[12];
  for (int k = 11; k >= 0; --k) p = p * f + kCoeffs[k];
  return std::ldexp(p, static_cast<int>(i));
}
constexpr double kL2E = 1.4426950408889634;
float predict(int op, float x, float y) {
  const double xd = x;
  double p;
  switch (op) {
    case 0: p = 1.0 / xd; break;
    case 1:
    case 2: p = exp2d(xd); break;
    case 3: p = exp2d(xd * kL2E); break;
    case 4: p = xd / static_cast<double>(y); break;
    default: p = xd / (1.0 + exp2d(-xd * kL2E)); break;
  }
  return static_cast<float>(p);
}

struct OpVectors {
  int op;
  std::vector<std::uint32_t> out;
};

std::vector<OpVectors> load_vectors() {
  const std::string path = kDir + "/vectors.bin";
  const std::vector<std::uint8_t> b = read_file_bytes(path);
  std::size_t pos = 0;
  auto u32 = [&]() {
    if (pos + 4 > b.size()) throw std::runtime_error("vectors.bin truncated");
    std::uint32_t v;
    std::memcpy(&v, b.data() + pos, 4);
    pos += 4;
    return v;
  };
  if (b.size() < 12 || std::memcmp(b.data(), "MSVEC1\0\0", 8) != 0) throw std::runtime_error("vectors.bin: bad magic");
  pos = 8;
  const std::uint32_t nops = u32();
  std::vector<OpVectors> res;
  for (std::uint32_t k = 0; k < nops; ++k) {
    OpVectors ov;
    ov.op = static_cast<int>(u32());
    const std::uint32_t n = u32(), nexc = u32();
    const std::size_t nib_bytes = (n + 1) / 2;
    const std::uint8_t* nib = b.data() + pos;
    pos += nib_bytes;
    std::size_t exc_pos = pos;
    pos += std::size_t(nexc) * 4;
    if (pos > b.size()) throw std::runtime_error("vectors.bin truncated");
    std::uint32_t used = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t x = ov.op == 6 ? (i << 16) : input_x(i);
      const std::uint32_t c = (nib[i / 2] >> ((i & 1) * 4)) & 0xF;
      const float p = predict(ov.op == 6 ? 5 : ov.op, f32_from_bits(x), f32_from_bits(input_y(i)));
      if (c == 15 || std::isnan(p)) {
        std::uint32_t v;
        std::memcpy(&v, b.data() + exc_pos + 4 * used, 4);
        ++used;
        ov.out.push_back(v);
      } else {
        ov.out.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(f32_bits(p)) + c - 7));
      }
    }
    if (used != nexc) throw std::runtime_error("vectors.bin: escape count mismatch for op " + std::to_string(ov.op));
    res.push_back(std::move(ov));
  }
  return res;
}

TEST(Sfu, ReproducesRecordedH100OutputsOnRandomInputs) {
  const auto vecs = load_vectors();
  ASSERT_EQ(vecs.size(), 7u);
  const char* names[] = {"rcp.approx.ftz.f32", "ex2.approx.ftz.f32", "ex2.approx.f32", "__expf", "__fdividef", "silu", "silu(all bf16)"};
  for (const OpVectors& ov : vecs) {
    std::size_t bad = 0;
    std::string first;
    for (std::size_t i = 0; i < ov.out.size(); ++i) {
      const std::uint32_t xu = ov.op == 6 ? static_cast<std::uint32_t>(i << 16) : input_x(i);
      const float x = f32_from_bits(xu), y = f32_from_bits(input_y(i));
      float got;
      switch (ov.op) {
        case 0: got = rcp_approx_ftz(x); break;
        case 1: got = ex2_approx_ftz(x); break;
        case 2: got = ex2_approx(x); break;
        case 3: got = expf_fast(x); break;
        case 4: got = fdividef_fast(x, y); break;
        default: got = silu_fast(x); break;
      }
      if (f32_bits(got) != ov.out[i]) {
        if (bad++ == 0) {
          std::ostringstream os;
          os << std::hex << "x=0x" << xu << " got=0x" << f32_bits(got) << " gpu=0x" << ov.out[i];
          first = os.str();
        }
      }
    }
    EXPECT_EQ(bad, 0u) << names[ov.op] << " over " << ov.out.size() << " inputs; first: " << first;
    if (ov.op <= 1) {
      EXPECT_GE(ov.out.size(), 1000000u);
    }
  }
}

std::map<std::string, std::string> report() {
  std::ifstream in(kDir + "/sfu_report.txt");
  std::map<std::string, std::string> kv;
  std::string line;
  int special = 0;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq);
    if (k == "special") k += std::to_string(special++);
    kv[k] = line.substr(eq + 1);
  }
  return kv;
}

TEST(Sfu, GpuVerifiedTheseModelsOverAll2To32Inputs) {
  // The GPU compared the very models implemented in sim/quant/sfu.cpp (rcp: mantissa table,
  // ex2: hypothesis 3 = truncated fixed point with separate negative table) against the
  // instruction for every fp32 input; record that the recorded counts are zero.
  auto kv = report();
  ASSERT_FALSE(kv.empty()) << "missing " << kDir << "/sfu_report.txt";
  EXPECT_EQ(kv["rcp_model_mismatch_total"], "0");
  EXPECT_EQ(kv["ex2_hyp3_mismatch_total"], "0");
  EXPECT_NE(kv["ex2_hyp0_mismatch_total"], "0");  // the plain single-table model does not fit
}

TEST(Sfu, SpecialValuesMatchRecorded) {
  auto kv = report();
  int n = 0;
  for (int i = 0; kv.count("special" + std::to_string(i)); ++i, ++n) {
    std::vector<std::uint32_t> col;
    std::stringstream ss(kv["special" + std::to_string(i)]);
    std::string tok;
    while (std::getline(ss, tok, ',')) col.push_back(static_cast<std::uint32_t>(std::stoul(tok, nullptr, 16)));
    ASSERT_EQ(col.size(), 13u);
    const float x = f32_from_bits(col[0]);
    EXPECT_EQ(f32_bits(rcp_approx_ftz(x)), col[1]) << std::hex << col[0];
    EXPECT_EQ(f32_bits(ex2_approx_ftz(x)), col[2]) << std::hex << col[0];
    EXPECT_EQ(f32_bits(ex2_approx(x)), col[3]) << std::hex << col[0];
    EXPECT_EQ(f32_bits(expf_fast(x)), col[8]) << std::hex << col[0];
    EXPECT_EQ(f32_bits(silu_fast(x)), col[9]) << std::hex << col[0];
    EXPECT_EQ(f32_bits(fdividef_fast(1.0f, x)), col[10]) << std::hex << col[0];
  }
  EXPECT_GE(n, 20);
}

TEST(Sfu, RcpDependsOnMantissaOnlyAcrossExponents) {
  // A consequence of the model, also measured on the GPU: scaling x by 2^k scales rcp by 2^-k
  // while both stay normal.
  Rng rng(11);
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t m = rng.next_u32() & 0x7FFFFFu;
    const float a = rcp_approx_ftz(f32_from_bits(0x3F800000u | m));
    const int k = static_cast<int>(rng.below(200)) - 100;
    EXPECT_EQ(rcp_approx_ftz(std::ldexp(f32_from_bits(0x3F800000u | m), k)), std::ldexp(a, -k));
  }
}

TEST(Sfu, CorruptTableIsAnInputError) {
  std::vector<std::uint8_t> blob = read_file_bytes(kDir + "/rcp_approx_ftz.mslz");
  blob.resize(blob.size() / 2);
  EXPECT_THROW(mslz_decompress(blob, "x.mslz"), InputError);
  blob[0] = 'X';
  EXPECT_THROW(mslz_decompress(blob, "x.mslz"), InputError);
}

}  // namespace
}  // namespace moesim::quant
