// Hardware truth for the CUTLASS SM90 grouped GEMM that the FlashInfer CUTLASS variants'
// bf16 GEMMs are modelled on: torch._grouped_mm on a Hopper GPU (an H200, sm90, the H100's tensor cores; torch 2.11) runs CUTLASS 3's
// GemmUniversal<GroupProblemShape, MainloopSm90ArrayTmaGmmaWarpSpecialized, Pingpong> with
// GMMA 64x128x16 F32BF16BF16 and a LinearCombination<bf16, float> epilogue (kernel name
// recorded in the file). Recorded by scripts/gpu/capture_torch_grouped_mm.py.
// Claim under test: every output is one in-order chain of Hopper wgmma bf16 T-FDPA steps over K
// from +0 (published parameters, not the model's table), then one RNE cast to bf16 — the same
// arithmetic as flashinfer_cutlass_bf16's GEMM stages. A per-64-K-tile restart (then fp32
// adds) and an exact fp64 sum are checked to give different bits, so the data can tell them apart.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>

#include "sim/mma/fdpa.hpp"
#include "tests/sim/mma/published_params.hpp"
#include "traces/h5.hpp"

namespace moesim {
namespace {

// fp32 -> bf16 round to nearest even, written from the definition (NaN quieted).
std::uint16_t rne_bf16(std::uint32_t f) {
  if ((f & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((f >> 16) | 0x40);
  const std::uint32_t lsb = (f >> 16) & 1u;
  return static_cast<std::uint16_t>((f + 0x7FFFu + lsb) >> 16);
}
float f32(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}
std::uint32_t bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
double bf16_value(std::uint16_t h) { return static_cast<double>(f32(static_cast<std::uint32_t>(h) << 16)); }

const mma::FdpaParams& wgmma_bf16() {
  static const mma::FdpaParams p = mma::test::published("hopper", "wgmma.bf16.f32");
  return p;
}

struct Recording {
  std::int64_t M = 0, K = 0, N = 0, G = 0;
  std::vector<std::uint16_t> a, b, out;
  std::vector<std::int32_t> offs;
  std::string kernels;
};

Recording load(const std::string& name) {
  const auto f = h5::File::open_read(std::string(MOESIM_TEST_DATA_DIR) + "/golden/" + name);
  Recording r;
  const auto sb = f.shape("b");
  r.G = sb.at(0);
  r.K = sb.at(1);
  r.N = sb.at(2);
  r.M = f.shape("a").at(0);
  r.a = f.read<std::uint16_t>("a", h5::Scalar::U16);
  r.b = f.read<std::uint16_t>("b", h5::Scalar::U16);
  r.out = f.read<std::uint16_t>("out", h5::Scalar::U16);
  r.offs = f.read<std::int32_t>("offs", h5::Scalar::I32);
  r.kernels = f.attr_string("/", "kernels");
  return r;
}

struct Counts {
  std::int64_t chain = 0, restart64 = 0, exact = 0, total = 0;
};

Counts replay(const Recording& r) {
  Counts c;
  std::int64_t row0 = 0;
  for (std::int64_t g = 0; g < r.G; ++g) {
    for (std::int64_t m = row0; m < r.offs[g]; ++m)
      for (std::int64_t n = 0; n < r.N; ++n) {
        std::vector<std::uint32_t> av(r.K), bv(r.K);
        double exact = 0;
        for (std::int64_t k = 0; k < r.K; ++k) {
          av[k] = r.a[m * r.K + k];
          bv[k] = r.b[(g * r.K + k) * r.N + n];
          exact += bf16_value(static_cast<std::uint16_t>(av[k])) * bf16_value(static_cast<std::uint16_t>(bv[k]));
        }
        const std::uint32_t chain = mma::dot(wgmma_bf16(), av, bv, 0);
        float restart = 0.0f;
        for (std::int64_t k0 = 0; k0 < r.K; k0 += 64)
          restart += f32(mma::dot(wgmma_bf16(), std::span(av).subspan(k0, 64), std::span(bv).subspan(k0, 64), 0));
        const std::uint16_t want = r.out[m * r.N + n];
        c.chain += rne_bf16(chain) == want;
        c.restart64 += rne_bf16(bits(restart)) == want;
        c.exact += rne_bf16(bits(static_cast<float>(exact))) == want;
        ++c.total;
      }
    row0 = r.offs[g];
  }
  return c;
}

TEST(TorchGroupedMmHopper, CutlassSm90GroupedGemmIsOneWgmmaChainThenOneRne) {
  for (const char* name : {"torch_grouped_mm_bf16.h5", "torch_grouped_mm_bf16_s2.h5"}) {
    const Recording r = load(name);
    EXPECT_NE(r.kernels.find("MainloopSm90ArrayTmaGmmaWarpSpecialized"), std::string::npos) << r.kernels;
    EXPECT_NE(r.kernels.find("MMA_64x128x16_F32BF16BF16"), std::string::npos) << r.kernels;
    const Counts c = replay(r);
    EXPECT_EQ(c.total, r.M * r.N);
    EXPECT_EQ(c.chain, c.total) << name << ": one wgmma chain from +0, then RNE";
    EXPECT_LT(c.restart64, c.total) << name << ": a per-64-K restart must be distinguishable";
    EXPECT_LT(c.exact, c.total) << name << ": an exact sum must be distinguishable";
    std::printf("%s: %lld outputs; matching: wgmma chain %lld, per-64-K restart %lld, exact sum %lld\n", name,
                static_cast<long long>(c.total), static_cast<long long>(c.chain), static_cast<long long>(c.restart64),
                static_cast<long long>(c.exact));
  }
}

}  // namespace
}  // namespace moesim
