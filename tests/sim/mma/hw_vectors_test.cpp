// Replays outputs recorded on an NVIDIA H100 (scripts/gpu/mma_probe.py, data in
// tests/data/mma/, see docs/mma.md) through the scalar FDPA model and requires 0 mismatching
// bits, NaN payloads included:
//  - wgmma_{bf16,e4m3,e5m2}.bin: one inline-PTX wgmma.mma_async m64n8k16/k32 per tile
//    (SASS: HGMMA.64x8x16.F32.BF16, QGMMA.64x8x32.F32.E4M3.E4M3 / E5M2), random bit patterns
//    + special-value, cancellation and tiny/zero-heavy batches;
//  - triton_single_*.bin: Triton 3.6 tl.dot with one K block and an accumulator input;
//  - triton_chain_*.bin: a K=256 Triton K loop with BLOCK_K 32/64/128, which must equal the
//    chain of per-instruction FDPA steps in K order.
// Parameters come from the published table (tests/sim/mma/published_params.hpp), not from
// the model under test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sim/formats/convert.hpp"
#include "sim/mma/fdpa.hpp"
#include "tests/sim/mma/published_params.hpp"

namespace moesim::mma {
namespace {

struct Dataset {
  std::uint32_t ntiles = 0, M = 0, N = 0, K = 0, eb = 0, b_layout = 0;
  std::vector<std::uint32_t> bks;
  std::vector<std::uint8_t> A, B;
  std::vector<std::uint32_t> C;
  std::vector<std::vector<std::uint32_t>> D;

  std::uint32_t a(std::uint32_t t, std::uint32_t m, std::uint32_t k) const { return elem(A, (std::size_t(t) * M + m) * K + k); }
  std::uint32_t b(std::uint32_t t, std::uint32_t k, std::uint32_t n) const {
    return b_layout == 0 ? elem(B, (std::size_t(t) * N + n) * K + k) : elem(B, (std::size_t(t) * K + k) * N + n);
  }
  std::uint32_t elem(const std::vector<std::uint8_t>& v, std::size_t i) const {
    return eb == 1 ? v[i] : static_cast<std::uint32_t>(v[2 * i] | (v[2 * i + 1] << 8));
  }
};

Dataset load(const std::string& name) {
  const std::string path = std::string(MOESIM_TEST_DATA_DIR) + "/mma/" + name;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[8];
  f.read(magic, 8);
  if (std::memcmp(magic, "MOESIMMA", 8) != 0) throw std::runtime_error(path + ": bad magic");
  std::uint32_t h[8];
  f.read(reinterpret_cast<char*>(h), sizeof h);
  Dataset d;
  if (h[0] != 1) throw std::runtime_error(path + ": unsupported version");
  d.ntiles = h[1]; d.M = h[2]; d.N = h[3]; d.K = h[4]; d.eb = h[5]; d.b_layout = h[6];
  d.bks.resize(h[7]);
  f.read(reinterpret_cast<char*>(d.bks.data()), 4 * d.bks.size());
  d.A.resize(std::size_t(d.ntiles) * d.M * d.K * d.eb);
  d.B.resize(std::size_t(d.ntiles) * d.N * d.K * d.eb);
  d.C.resize(std::size_t(d.ntiles) * d.M * d.N);
  f.read(reinterpret_cast<char*>(d.A.data()), d.A.size());
  f.read(reinterpret_cast<char*>(d.B.data()), d.B.size());
  f.read(reinterpret_cast<char*>(d.C.data()), 4 * d.C.size());
  for (std::size_t i = 0; i < d.bks.size(); ++i) {
    d.D.emplace_back(d.C.size());
    f.read(reinterpret_cast<char*>(d.D.back().data()), 4 * d.C.size());
  }
  if (!f || f.peek() != EOF) throw std::runtime_error(path + ": truncated or trailing bytes");
  return d;
}

// How a recorded operand element enters the modelled instruction: as is, or an e4m3fn code
// upcast (exactly) to fp16, and in which K order (identity, or Triton's k32_pairs order for fp8
// operands at BLOCK_SIZE_M < 64: per 32-chunk, k % 4 in {0,1} first, then k % 4 in {2,3}).
struct Feed {
  bool e4m3_to_fp16 = false;
  bool k32_pairs = false;
};

std::vector<std::uint32_t> k_order(std::uint32_t K, bool k32_pairs) {
  std::vector<std::uint32_t> o;
  for (std::uint32_t c = 0; c < K; c += 32)
    for (int half = 0; half < 2; ++half)
      for (std::uint32_t k = 0; k < 32 && c + k < K; ++k)
        if (!k32_pairs ? half == 0 : ((k % 4 < 2) == (half == 0))) o.push_back(c + k);
  return o;
}

// Returns the number of mismatching outputs (each printed, up to 5) of model vs D[which].
std::size_t replay(const Dataset& d, const FdpaParams& p, std::size_t which, Feed feed = {}, bool quiet = false) {
  const std::vector<std::uint32_t> order = k_order(d.K, feed.k32_pairs);
  auto up = [&](std::uint32_t x) {
    return feed.e4m3_to_fp16 ? fmt::convert(fmt::kE4M3FN, fmt::kFP16, x, {}) : x;
  };
  std::size_t bad = 0;
  std::vector<std::uint32_t> a(d.K), b(d.K);
  for (std::uint32_t t = 0; t < d.ntiles; ++t)
    for (std::uint32_t m = 0; m < d.M; ++m)
      for (std::uint32_t n = 0; n < d.N; ++n) {
        for (std::uint32_t k = 0; k < d.K; ++k) {
          a[k] = up(d.a(t, m, order[k]));
          b[k] = up(d.b(t, order[k], n));
        }
        const std::size_t o = (std::size_t(t) * d.M + m) * d.N + n;
        const std::uint32_t got = dot(p, a, b, d.C[o]);
        if (got != d.D[which][o] && ++bad <= 5 && !quiet) {
          std::string row;
          char buf[16];
          for (std::uint32_t k = 0; k < d.K; ++k) {
            std::snprintf(buf, sizeof buf, " %x*%x", a[k], b[k]);
            row += buf;
          }
          ADD_FAILURE() << p.key() << " tile " << t << " (" << m << "," << n << "): gpu 0x" << std::hex
                        << d.D[which][o] << " model 0x" << got << " c 0x" << d.C[o] << " terms" << row;
        }
      }
  return bad;
}

TEST(HwVectorsH100, WgmmaBf16InlinePtx) {
  const Dataset d = load("wgmma_bf16.bin");
  ASSERT_EQ(d.K, 16u);
  EXPECT_GE(std::size_t(d.ntiles) * d.M * d.N, 100000u);
  EXPECT_EQ(replay(d, test::published("hopper", "wgmma.bf16.f32"), 0), 0u);
}

TEST(HwVectorsH100, WgmmaE4m3InlinePtx) {
  const Dataset d = load("wgmma_e4m3.bin");
  ASSERT_EQ(d.K, 32u);
  EXPECT_GE(std::size_t(d.ntiles) * d.M * d.N, 100000u);
  EXPECT_EQ(replay(d, test::published("hopper", "wgmma.e4m3.f32"), 0), 0u);
}

TEST(HwVectorsH100, WgmmaE5m2InlinePtx) {
  const Dataset d = load("wgmma_e5m2.bin");
  ASSERT_EQ(d.K, 32u);
  EXPECT_EQ(replay(d, test::published("hopper", "wgmma.e5m2.f32"), 0), 0u);
}

TEST(HwVectorsH100, TritonSingleBlockBf16AndE4m3) {
  EXPECT_EQ(replay(load("triton_single_bf16.bin"), test::published("hopper", "wgmma.bf16.f32"), 0), 0u);
  EXPECT_EQ(replay(load("triton_single_e4m3.bin"), test::published("hopper", "wgmma.e4m3.f32"), 0), 0u);
}

TEST(HwVectorsH100, TritonKLoopChainsWgmmaStepsInKOrder) {
  for (const char* name : {"triton_chain_bf16.bin", "triton_chain_e4m3.bin"}) {
    const Dataset d = load(name);
    const FdpaParams p = test::published("hopper", d.eb == 2 ? "wgmma.bf16.f32" : "wgmma.e4m3.f32");
    for (std::size_t i = 0; i < d.bks.size(); ++i)
      EXPECT_EQ(replay(d, p, i), 0u) << name << " BLOCK_K " << d.bks[i];
  }
}

// ---- H200 mma.sync (issue 16; scripts/gpu/mma_sync_probe.py, tests/data/mma/report_h200_sync.json):
// one inline-PTX mma.sync per 16x8 tile, 400 tiles cycling through uniform random bits,
// special values, cancellation, tiny/zero-heavy, e4m3 images in fp16, dominating C and
// in-step cancellation. The fragment layout was checked on exact integer data first.
TEST(HwVectorsH200, MmaSyncM16n8k16AndM16n8k8) {
  const struct {
    const char* file;
    const char* inst;
    const char* ampere;  // the Ampere/Ada parameters (L=8, F=24) must not fit
  } cases[] = {{"mma_sync_f16_k16.bin", "mma.f16.f32", "mma.f16.f32"},
               {"mma_sync_bf16_k16.bin", "mma.bf16.f32", "mma.bf16.f32"},
               {"mma_sync_f16_k8.bin", "mma.k8.f16.f32", nullptr},
               {"mma_sync_bf16_k8.bin", "mma.k8.bf16.f32", nullptr}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const Dataset d = load(c.file);
    ASSERT_EQ(d.M, 16u);
    ASSERT_EQ(d.N, 8u);
    EXPECT_GE(std::size_t(d.ntiles) * d.M * d.N, 51200u);
    const FdpaParams p = test::published("hopper", c.inst);
    ASSERT_EQ(d.K, static_cast<std::uint32_t>(p.k));
    EXPECT_EQ(replay(d, p, 0), 0u);
    FdpaParams alt = p;
    alt.f = 24;
    EXPECT_GT(replay(d, alt, 0, {}, true), 1000u) << "F=24 must not fit";
    if (c.ampere) {
      const FdpaParams amp = test::published("ampere", c.ampere);
      EXPECT_GT(replay(d, amp, 0, {}, true), 1000u) << "Ampere parameters must not fit";
    }
  }
}

// Triton 3.6 tl.dot at BLOCK_SIZE_M = 16 on the H200, operands laid out as fused_moe_kernel
// loads them. e4m3 x e4m3: exact upcast to fp16 and HMMA.16816.F32 steps in the k32_pairs order.
// The membership probes (C = -2^16, products +2^16 at k = i and 2^-18 at k = j) give 2^-18
// exactly when i's step precedes j's; the random chains (K = 2048, BLOCK_K 128 / 256, BLOCK_N
// 64 / 128) then pin the whole order. bf16 at BLOCK_SIZE_M = 16 keeps the plain K order.
TEST(HwVectorsH200, TritonFp8AtBlockM16UpcastsToFp16InK32PairsOrder) {
  const FdpaParams f16 = test::published("hopper", "mma.f16.f32");
  for (const char* name : {"triton_fp8_bm16_member_bk32.bin", "triton_fp8_bm16_member_bk64.bin",
                           "triton_fp8_bm16_member_bk128.bin", "triton_fp8_bm16_chain_n64_k2048_bk128_w4.bin",
                           "triton_fp8_bm16_chain_n128_k2048_bk256_w4.bin"}) {
    SCOPED_TRACE(name);
    const Dataset d = load(name);
    ASSERT_EQ(d.eb, 1u);
    EXPECT_EQ(replay(d, f16, 0, {true, true}), 0u);
    if (d.K > 128) continue;  // the alternatives on the short probes only (test time)
    EXPECT_GT(replay(d, f16, 0, {true, false}, true), 0u) << "the plain K order must not fit";
    EXPECT_GT(replay(d, test::published("hopper", "wgmma.e4m3.f32"), 0, {false, true}, true), 0u)
        << "an e4m3 FDPA must not fit";
  }
  const Dataset b = load("triton_bf16_bm16_chain_n64_k1024_bk64_w4.bin");
  EXPECT_EQ(replay(b, test::published("hopper", "mma.bf16.f32"), 0), 0u);
  EXPECT_GT(replay(b, test::published("hopper", "mma.bf16.f32"), 0, {false, true}, true), 0u);
}

}  // namespace
}  // namespace moesim::mma
