// Triton fused-MoE numerics pieces against independent references: the Hopper bf16 T-FDPA
// chain against a slow double-precision model written from the MMA-Sim description, the
// paper's worked example, moe_align_block_size against its documented invariants, moe_sum
// and silu_and_mul against their source formulas.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <map>
#include <set>

#include "models/lib/mma_params.hpp"
#include "sim/core/rng.hpp"
#include "sim/mma/fdpa.hpp"
#include "sim/kernels/triton_moe_numerics.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels {
namespace {

float f(std::uint16_t h) { return std::bit_cast<float>(std::uint32_t(h) << 16); }
std::uint16_t h_of(float x) { return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(x) >> 16); }  // exact inputs only

// Slow reference of one Hopper bf16 T-FDPA step (L=16, F=25, RZ, e_zero=-133), written from
// the MMA-Sim description with doubles: every product is exact in double, truncation toward
// zero to a multiple of 2^(emax-25) is std::trunc of an exact quotient, the sum of <= 17
// integers below 2^28 is exact, and the fp32 conversion uses the FE_TOWARDZERO rounding mode.
float ref_step(const std::uint16_t* a, const std::uint16_t* b, float c) {
  double prod[16];
  int pe[16];
  int emax = -133;
  for (int j = 0; j < 16; ++j) {
    prod[j] = double(f(a[j])) * double(f(b[j]));
    auto ex = [](double v, int emin) {
      int e;
      std::frexp(std::fabs(v), &e);
      return std::max(e - 1, emin);
    };
    if (prod[j] == 0) pe[j] = -133;
    else pe[j] = ex(f(a[j]), -126) + ex(f(b[j]), -126);
    emax = std::max(emax, pe[j]);
  }
  int ce = -133;
  if (c != 0) {
    int e;
    std::frexp(std::fabs(double(c)), &e);
    ce = std::max(e - 1, -126);
  }
  emax = std::max(emax, ce);
  const double q = std::ldexp(1.0, emax - 25);
  double sum = std::trunc(double(c) / q);
  for (int j = 0; j < 16; ++j) sum += std::trunc(prod[j] / q);
  const double v = sum * q;
  // RZ to fp32: round to nearest, then step toward zero if that went past v.
  float r = static_cast<float>(v);
  if (std::isfinite(r) && std::fabs(double(r)) > std::fabs(v)) r = std::nextafter(r, 0.0f);
  if (std::isinf(r) && std::fabs(v) < std::ldexp(1.0, 128)) r = std::copysign(FLT_MAX, v);
  if (std::fabs(v) >= std::ldexp(1.0, 128)) r = v > 0 ? INFINITY : -INFINITY;
  return r == 0.0f ? 0.0f : r;
}

Bf16Row row(const std::vector<std::uint16_t>& v) {
  Bf16Row r;
  decode_bf16_row(v.data(), static_cast<std::int64_t>(v.size()), r);
  return r;
}

TEST(HopperBf16Chain, PaperWorkedExampleReadsOutF25) {
  // d = 2^23 + (-2^23) + (-0.5) + (-0.25) + (-0.125): Hopper bf16 gives -0.75 (MMA-Sim Table 8).
  std::vector<std::uint16_t> a(16, 0), b(16, 0);
  const float av[] = {0x1p12f, -0x1p12f, -0.5f, -0.25f, -0.125f};
  const float bv[] = {0x1p11f, 0x1p11f, 1.0f, 1.0f, 1.0f};
  for (int j = 0; j < 5; ++j) {
    a[j] = h_of(av[j]);
    b[j] = h_of(bv[j]);
  }
  EXPECT_EQ(hopper_bf16_dot_chain(row(a), row(b), 0, 16, 0.0f), -0.75f);
}

TEST(HopperBf16Chain, RandomFiniteStepsMatchSlowReference) {
  Rng rng(7);
  int checked = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<std::uint16_t> a(16), b(16);
    const int mode = trial % 3;
    for (int j = 0; j < 16; ++j) {
      if (mode == 0) {  // random finite bit patterns incl. subnormals and zeros
        do a[j] = static_cast<std::uint16_t>(rng.next_u32()); while (((a[j] >> 7) & 0xFF) == 0xFF);
        do b[j] = static_cast<std::uint16_t>(rng.next_u32()); while (((b[j] >> 7) & 0xFF) == 0xFF);
      } else {  // realistic magnitudes, where cancellation and the truncation point matter
        a[j] = bf16_rne(static_cast<float>(rng.normal()));
        b[j] = bf16_rne(static_cast<float>(rng.normal() * (mode == 2 ? 1e-3 : 1.0)));
      }
    }
    float c = mode == 0 ? std::bit_cast<float>((rng.next_u32() & 0x7F7FFFFFu) | (rng.next_u32() & 0x80000000u))
                        : static_cast<float>(rng.normal() * 4);
    if (!std::isfinite(c)) c = 1.0f;
    const float want = ref_step(a.data(), b.data(), c);
    const float got = hopper_bf16_dot_chain(row(a), row(b), 0, 16, c);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want))
        << "trial " << trial << " c=" << c;
    ++checked;
  }
  EXPECT_EQ(checked, 20000);
}

TEST(HopperBf16Chain, ChainsStepsAndHandlesNonFinite) {
  Rng rng(3);
  std::vector<std::uint16_t> a(48), b(48);
  for (auto& x : a) x = bf16_rne(static_cast<float>(rng.normal()));
  for (auto& x : b) x = bf16_rne(static_cast<float>(rng.normal()));
  float c = 0.0f;
  for (int s = 0; s < 3; ++s) c = ref_step(a.data() + 16 * s, b.data() + 16 * s, c);
  EXPECT_EQ(hopper_bf16_dot_chain(row(a), row(b), 0, 48, 0.0f), c);
  // K tail: 40 real elements, zero padded to 48, equals the chain over explicit zeros.
  std::vector<std::uint16_t> a40(a.begin(), a.begin() + 40), b40(b.begin(), b.begin() + 40);
  std::vector<std::uint16_t> az = a40, bz = b40;
  az.resize(48, 0);
  bz.resize(48, 0);
  EXPECT_EQ(hopper_bf16_dot_chain(row(a40), row(b40), 0, 48, 0.0f), hopper_bf16_dot_chain(row(az), row(bz), 0, 48, 0.0f));
  // inf * 0 -> canonical NaN; inf * finite -> inf; +inf + -inf -> NaN.
  std::vector<std::uint16_t> x(16, 0), y(16, 0);
  x[0] = 0x7F80;  // +inf
  y[0] = 0;
  EXPECT_EQ(std::bit_cast<std::uint32_t>(hopper_bf16_dot_chain(row(x), row(y), 0, 16, 1.0f)), 0x7FFFFFFFu);
  y[0] = h_of(2.0f);
  EXPECT_EQ(hopper_bf16_dot_chain(row(x), row(y), 0, 16, 1.0f), INFINITY);
  x[1] = 0xFF80;  // -inf
  y[1] = h_of(1.0f);
  EXPECT_TRUE(std::isnan(hopper_bf16_dot_chain(row(x), row(y), 0, 16, 1.0f)));
}

// The fast decoded chain the variants use must be bit-identical to the project's scalar FDPA
// model (sim/mma, issue 4) for Hopper wgmma bf16, chained over K in k16 steps.
TEST(HopperBf16Chain, MatchesSimMmaScalarModel) {
  const auto table = models::FdpaTable::load_default();
  const mma::FdpaParams& prm = table.find("hopper", "wgmma.bf16.f32");
  Rng rng(99);
  for (int trial = 0; trial < 3000; ++trial) {
    const int k = 16 * (1 + trial % 8);
    std::vector<std::uint16_t> a(k), b(k);
    for (int j = 0; j < k; ++j) {
      if (trial % 4 == 0) {
        a[j] = static_cast<std::uint16_t>(rng.next_u32());
        b[j] = static_cast<std::uint16_t>(rng.next_u32());
      } else {
        a[j] = bf16_rne(static_cast<float>(rng.normal()));
        b[j] = bf16_rne(static_cast<float>(rng.normal() * 0.05));
      }
    }
    const float c = trial % 3 == 0 ? 0.0f : static_cast<float>(rng.normal());
    std::uint32_t cur = std::bit_cast<std::uint32_t>(c);
    for (int s = 0; s < k; s += 16) {
      std::vector<std::uint32_t> a32(a.begin() + s, a.begin() + s + 16), b32(b.begin() + s, b.begin() + s + 16);
      cur = mma::dot(prm, a32, b32, cur);
    }
    const float got = hopper_bf16_dot_chain(row(a), row(b), 0, k, c);
    const std::uint32_t gb = std::bit_cast<std::uint32_t>(got);
    if (std::isnan(got)) ASSERT_EQ(cur, mma::kNaN32) << "trial " << trial;
    else ASSERT_EQ(gb, cur) << "trial " << trial;
  }
}

TEST(Bf16Rne, TiesToEvenAndSpecials) {
  EXPECT_EQ(bf16_rne(1.0f), 0x3F80);
  EXPECT_EQ(bf16_rne(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(bf16_rne(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(bf16_rne(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(bf16_rne(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // overflow -> inf
  EXPECT_EQ(bf16_rne(NAN), 0x7FFF);
}

TEST(MoeAlignBlockSize, LayoutInvariants) {
  Rng rng(11);
  const std::int64_t T = 37, K = 3, E = 7;
  const int BM = 16;
  std::vector<std::int32_t> ids(T * K);
  for (auto& i : ids) i = static_cast<std::int32_t>(rng.below(E));
  const auto al = triton::moe_align_block_size(ids.data(), T, K, E, BM);
  // Buffer size formula (moe_align_block_size.py).
  EXPECT_EQ(static_cast<std::int64_t>(al.sorted_token_ids.size()), T * K + E * (BM - 1));
  std::map<int, std::vector<int>> want;
  for (int i = 0; i < T * K; ++i) want[ids[i]].push_back(i);
  std::int64_t pos = 0;
  for (int e = 0; e < E; ++e) {
    const auto& v = want[e];
    const std::int64_t padded = (static_cast<std::int64_t>(v.size()) + BM - 1) / BM * BM;
    for (std::int64_t j = 0; j < padded; ++j) {
      const int got = al.sorted_token_ids[pos + j];
      if (j < static_cast<std::int64_t>(v.size())) EXPECT_EQ(got, v[j]);
      else EXPECT_EQ(got, T * K);  // sentinel numel
      if (j % BM == 0) {
        EXPECT_EQ(al.expert_ids[(pos + j) / BM], e);
      }
    }
    pos += padded;
  }
  EXPECT_EQ(al.num_tokens_post_padded, pos);
  for (std::size_t b = pos / BM; b < al.expert_ids.size(); ++b) EXPECT_EQ(al.expert_ids[b], -1);
}

TEST(MoeSum, Bf16ChainForTopk2To4AndSingleRoundingOtherwise) {
  // 1 + 2^-8 + 2^-8 in bf16: chained bf16 adds lose both halves (ties to even at each add),
  // one fp32 sum keeps them and rounds once.
  const std::uint16_t one = 0x3F80, tiny = h_of(0x1p-8f);
  const std::uint16_t v3[] = {one, tiny, tiny};
  EXPECT_EQ(triton::moe_sum(v3, 3, 1), one);  // bf16(bf16(1 + 2^-8) + 2^-8) = 1
  const std::uint16_t v5[] = {one, tiny, tiny, 0, 0};
  EXPECT_EQ(triton::moe_sum(v5, 5, 1), bf16_rne(1.0f + 0x1p-7f));  // at::sum_out: fp32, one rounding
  const std::uint16_t v1[] = {0x1234};
  EXPECT_EQ(triton::moe_sum(v1, 1, 1), 0x1234);
}

TEST(SiluAndMul, DoubleRoundingFormula) {
  Rng rng(5);
  for (int i = 0; i < 2000; ++i) {
    const std::uint16_t g = bf16_rne(static_cast<float>(rng.normal() * 3)), u = bf16_rne(static_cast<float>(rng.normal()));
    const double gd = f(g);
    const float silu = bf16_to_f32(bf16_rne(static_cast<float>(gd / (1.0 + std::exp(-gd)))));
    // Independent: silu in double rounded to bf16 agrees with the fp32 formula except within
    // an fp32 ulp of a bf16 tie; the product step is exact in fp32 then rounded once.
    const std::uint16_t got = triton::silu_and_mul(g, u);
    const float s_emul = f(triton::silu_bf16(g));
    EXPECT_LE(std::fabs(s_emul - silu), std::ldexp(1.0f, -7) * std::fabs(silu) + 1e-30f);
    EXPECT_EQ(got, bf16_rne(s_emul * f(u)));
  }
}

}  // namespace
}  // namespace moesim::kernels
