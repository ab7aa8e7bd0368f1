// Hardware truth for CUTLASS SM90 fp8 grouped GEMM arithmetic (issue 16): torch 2.11's
// torch._scaled_grouped_mm on an NVIDIA H200 (rowwise f32 scales, bf16 out), recorded by
// scripts/gpu/mma_sync_probe.py (part "scaled") with cancelling operand pairs
// (a[m,48] = -a[m,80] at +-448 against b[:,48,:] = b[:,80,:]) over e4m3 codes of 14 binades.
// Kernels (names in the file): use_fast_accum=True -> CUTLASS GemmUniversal with
// MainloopSm90ArrayTmaGmmaWarpSpecialized + KernelPtrArrayTmaWarpSpecializedPingpongFP8FastAccum,
// GMMA 64x128x32 F32E4M3E4M3; False -> MainloopSm90ArrayTmaGmmaWarpSpecializedFP8 (promotion).
// Epilogue: Sm90 tree visitor multiplies(RowBroadcast scale_b, multiplies(ColBroadcast scale_a,
// acc)) -> bf16 (RNE).
// Claims: FastAccum = one in-order wgmma e4m3 T-FDPA chain over K from +0 (the arithmetic the
// flashinfer_cutlass_fp8 GEMM stages model, KernelPtrArrayTmaWarpSpecializedCooperativeFP8FastAccum);
// without fast accum every 4 k32 MMAs (128 of K) run from +0 and are added to an fp32
// accumulator (RN). Each claim's data rejects the other.
#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <vector>

#include "sim/mma/fdpa.hpp"
#include "tests/sim/mma/published_params.hpp"
#include "traces/h5.hpp"

namespace moesim {
namespace {

std::uint16_t rne_bf16(std::uint32_t f) {
  if ((f & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((f >> 16) | 0x40);
  return static_cast<std::uint16_t>((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
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

TEST(TorchScaledGroupedMmH200, Fp8FastAccumIsOneWgmmaChainAndPromotionEvery128K) {
  const auto f = h5::File::open_read(std::string(MOESIM_TEST_DATA_DIR) + "/golden/torch_scaled_grouped_mm_fp8.h5");
  const auto sb_shape = f.shape("b");
  const std::int64_t G = sb_shape.at(0), K = sb_shape.at(1), N = sb_shape.at(2), M = f.shape("a").at(0);
  const auto a = f.read<std::uint8_t>("a", h5::Scalar::U8);
  const auto b = f.read<std::uint8_t>("b", h5::Scalar::U8);
  const auto sa = f.read<float>("scale_a", h5::Scalar::F32);
  const auto sb = f.read<float>("scale_b", h5::Scalar::F32);
  const auto offs = f.read<std::int32_t>("offs", h5::Scalar::I32);
  const auto out_fast = f.read<std::uint16_t>("out_fast_accum_1", h5::Scalar::U16);
  const auto out_prom = f.read<std::uint16_t>("out_fast_accum_0", h5::Scalar::U16);
  EXPECT_NE(f.attr_string("/", "kernels_fast_accum_1").find("FP8FastAccum"), std::string::npos);
  EXPECT_NE(f.attr_string("/", "kernels_fast_accum_0").find("MainloopSm90ArrayTmaGmmaWarpSpecializedFP8"), std::string::npos);
  ASSERT_EQ(K % 128, 0);
  const mma::FdpaParams p = mma::test::published("hopper", "wgmma.e4m3.f32");
  std::int64_t fast_chain = 0, fast_prom = 0, prom_prom = 0, prom_chain = 0, total = 0;
  std::int64_t row0 = 0;
  std::vector<std::uint32_t> av(static_cast<std::size_t>(K)), bv(static_cast<std::size_t>(K));
  for (std::int64_t g = 0; g < G; ++g) {
    for (std::int64_t m = row0; m < offs[static_cast<std::size_t>(g)]; ++m)
      for (std::int64_t n = 0; n < N; ++n) {
        for (std::int64_t k = 0; k < K; ++k) {
          av[static_cast<std::size_t>(k)] = a[static_cast<std::size_t>(m * K + k)];
          bv[static_cast<std::size_t>(k)] = b[static_cast<std::size_t>((g * K + k) * N + n)];
        }
        const float chain = f32(mma::dot(p, av, bv, 0));
        float prom = 0.0f;
        for (std::int64_t k0 = 0; k0 < K; k0 += 128)
          prom += f32(mma::dot(p, std::span(av).subspan(static_cast<std::size_t>(k0), 128),
                               std::span(bv).subspan(static_cast<std::size_t>(k0), 128), 0));
        const float s_a = sa[static_cast<std::size_t>(m)], s_b = sb[static_cast<std::size_t>(g * N + n)];
        auto epi = [&](float acc) { return rne_bf16(bits(s_b * (s_a * acc))); };
        const std::size_t o = static_cast<std::size_t>(m * N + n);
        fast_chain += epi(chain) == out_fast[o];
        fast_prom += epi(prom) == out_fast[o];
        prom_prom += epi(prom) == out_prom[o];
        prom_chain += epi(chain) == out_prom[o];
        ++total;
      }
    row0 = offs[static_cast<std::size_t>(g)];
  }
  EXPECT_EQ(total, M * N);
  EXPECT_EQ(fast_chain, total) << "use_fast_accum: one wgmma e4m3 chain from +0";
  EXPECT_EQ(prom_prom, total) << "no fast accum: per-128-K chains added in fp32";
  EXPECT_LT(fast_prom, total);
  EXPECT_LT(prom_chain, total);
  std::printf("%lld outputs; fast accum: chain %lld, promotion %lld; promoted: promotion %lld, chain %lld\n",
              static_cast<long long>(total), static_cast<long long>(fast_chain), static_cast<long long>(fast_prom),
              static_cast<long long>(prom_prom), static_cast<long long>(prom_chain));
}

}  // namespace
}  // namespace moesim
