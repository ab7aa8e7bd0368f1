// Every fast GEMM path available on this CPU (AVX-512, AVX2, scalar) against the scalar
// reference model mma::dot, output by output, on random bit patterns (NaN/Inf/subnormals
// included) and on narrow-exponent data where truncation and cancellation matter; and
// row-split invariance (what callers parallelise over).
#include "sim/mma/gemm.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/mma/fdpa.hpp"
#include "tests/sim/mma/published_params.hpp"

namespace moesim::mma {
namespace {

std::uint16_t rnd(Rng& rng, Operand op, bool narrow) {
  const fmt::Semantics& s = semantics_of(op);
  std::uint32_t x = rng.next_u32() & s.mask();
  if (narrow) {
    if (rng.below(6) == 0) return 0;
    const std::uint32_t e = static_cast<std::uint32_t>(s.bias) - 3 + static_cast<std::uint32_t>(rng.below(7));
    x = (x & ((1u << (s.bits - 1)) | ((1u << s.man_bits) - 1))) | (e << s.man_bits);
  }
  return static_cast<std::uint16_t>(x);
}

void check(const FdpaParams& p, int M, int N, int steps, std::uint64_t seed) {
  ASSERT_TRUE(gemm_supported(p)) << p.key();
  const int K = steps * p.l;
  Rng rng(seed);
  for (int narrow = 0; narrow < 2; ++narrow) {
    std::vector<std::uint16_t> A(M * K), Bt(N * K);
    std::vector<std::uint32_t> C(M * N);
    for (auto& x : A) x = rnd(rng, p.a, narrow);
    for (auto& x : Bt) x = rnd(rng, p.b, narrow);
    for (auto& x : C) x = narrow ? (rng.below(3) ? (rng.next_u32() & 0x80FFFFFFu) | 0x3C000000u : 0u)
                                 : (p.c == Operand::FP16 ? rng.next_u32() & 0xFFFF : rng.next_u32());
    std::vector<std::uint32_t> want(M * N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        std::vector<std::uint32_t> a(A.begin() + i * K, A.begin() + (i + 1) * K), b(Bt.begin() + j * K, Bt.begin() + (j + 1) * K);
        want[i * N + j] = dot(p, a, b, C[i * N + j]);
      }
    for (SimdPath path : available_paths()) {
      std::vector<std::uint32_t> D(M * N, 0xDEADBEEF);
      gemm_rows(p, path, M, N, K, A.data(), Bt.data(), C.data(), D.data(), 0, M / 3);
      gemm_rows(p, path, M, N, K, A.data(), Bt.data(), C.data(), D.data(), M / 3, M);
      for (int o = 0; o < M * N; ++o)
        ASSERT_EQ(D[o], want[o]) << p.key() << " path " << path_name(path) << " narrow " << narrow << " out " << o;
    }
  }
}

TEST(FastGemm, AllPathsBitIdenticalToScalarModel) {
  std::printf("paths on this CPU:");
  for (SimdPath p : available_paths()) std::printf(" %s", std::string(path_name(p)).c_str());
  std::printf("\n");
  check(test::published("hopper", "wgmma.bf16.f32"), 17, 13, 4, 1);
  check(test::published("hopper", "wgmma.f16.f32"), 9, 11, 3, 2);
  check(test::published("hopper", "wgmma.f16.f16"), 9, 11, 3, 3);
  check(test::published("hopper", "wgmma.e4m3.f32"), 9, 7, 3, 4);
  check(test::published("hopper", "wgmma.e5m2.f32"), 9, 7, 3, 5);
  check(test::published("ampere", "mma.bf16.f32"), 9, 7, 4, 6);
  check(test::published("ada", "mma.e4m3.f32"), 9, 7, 2, 7);  // L=16, F=13
  check(test::published("rtx-blackwell", "mma.bf16.f32"), 9, 7, 2, 8);
}

TEST(FastGemm, UnsupportedInstructionsAreRefused) {
  EXPECT_FALSE(gemm_supported(test::published("blackwell", "tcgen05.mxf4nvf4.nvfp4")));
  EXPECT_FALSE(gemm_supported(test::published("hopper", "wgmma.tf32.f32")));
  EXPECT_FALSE(gemm_supported(test::published("volta", "mma.f16.f32")));  // L = 4
  EXPECT_FALSE(gemm_supported(test::published("blackwell", "tcgen05.f8f6f4.e4m3.f32")));  // 32 * 2^27 > int32
  std::vector<std::uint16_t> a(16), b(16);
  std::vector<std::uint32_t> c(1), d(1);
  EXPECT_THROW(gemm_rows(test::published("hopper", "wgmma.bf16.f32"), SimdPath::Scalar, 1, 1, 15, a.data(), b.data(),
                         c.data(), d.data(), 0, 1),
               InputError);
}

}  // namespace
}  // namespace moesim::mma
