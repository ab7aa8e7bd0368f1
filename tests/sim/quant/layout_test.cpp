// Scale layouts: forward/inverse are exact inverses on every shape tried; swizzled layouts
// agree with the libraries' reshape/permute descriptions (TE _recover_swizzled_scales, vLLM
// convert_swizzled_to_linear: view (M/128, K/4, 32, 4, 4), permute (0,3,2,1,4)); the
// SM90 interleaves agree with the reshape/permute of the FlashInfer docstring and invert.
#include "sim/quant/layout.hpp"

#include <gtest/gtest.h>

#include <set>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

namespace moesim::quant {
namespace {

const SfLayout kAll[] = {SfLayout::Linear, SfLayout::Swizzled128x4, SfLayout::Swizzled8x4,
                         SfLayout::TrtllmR128c4, SfLayout::TrtllmR8c4, SfLayout::TrtllmR8c16};

TEST(Layout, ForwardInverseRoundtripAndPaddingIsZero) {
  for (SfLayout l : kAll)
    for (std::int64_t rows : {1, 7, 8, 127, 128, 129, 300})
      for (std::int64_t cols : {1, 3, 4, 16, 17, 28, 64}) {
        const bool injective_expected =
            !((l == SfLayout::TrtllmR128c4 || l == SfLayout::TrtllmR8c4) && cols % 4) && !(l == SfLayout::TrtllmR8c16 && cols % 16);
        const std::int64_t coll = sf_layout_collisions(l, rows, cols);
        if (!injective_expected) continue;  // covered by the collision test below
        ASSERT_EQ(coll, 0) << layout_tag(l) << " " << rows << "x" << cols;
        std::vector<std::uint8_t> lin(static_cast<std::size_t>(rows * cols));
        for (std::size_t i = 0; i < lin.size(); ++i) lin[i] = static_cast<std::uint8_t>(1 + i % 251);
        const auto laid = sf_to_layout(lin.data(), rows, cols, l);
        ASSERT_EQ(static_cast<std::int64_t>(laid.size()), sf_layout_size(l, rows, cols));
        std::int64_t data_bytes = 0;
        for (std::int64_t o = 0; o < static_cast<std::int64_t>(laid.size()); ++o) {
          const auto rc = sf_inverse(l, rows, cols, o);
          if (!rc) {
            ASSERT_EQ(laid[o], 0) << "padding must be 0";
            continue;
          }
          ++data_bytes;
          ASSERT_EQ(sf_offset(l, rows, cols, rc->first, rc->second), o);
          ASSERT_EQ(laid[o], lin[rc->first * cols + rc->second]);
        }
        ASSERT_EQ(data_bytes, rows * cols);
        ASSERT_EQ(sf_from_layout(laid.data(), rows, cols, l), lin);
      }
}

TEST(Layout, Swizzled128x4MatchesLibraryReshapePermute) {
  const std::int64_t M = 256, K = 8;  // padded sizes
  std::vector<std::uint8_t> lin(M * K);
  for (std::size_t i = 0; i < lin.size(); ++i) lin[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const auto sw = sf_to_layout(lin.data(), M, K, SfLayout::Swizzled128x4);
  // recover: tmp[a][b][c][d][e] = sw[((((a*(K/4)+b)*32+c)*4+d)*4+e)], linear[a*128 + d*32 + c][b*4 + e]
  for (std::int64_t a = 0; a < M / 128; ++a)
    for (std::int64_t b = 0; b < K / 4; ++b)
      for (std::int64_t c = 0; c < 32; ++c)
        for (std::int64_t d = 0; d < 4; ++d)
          for (std::int64_t e = 0; e < 4; ++e)
            ASSERT_EQ(sw[(((a * (K / 4) + b) * 32 + c) * 4 + d) * 4 + e], lin[(a * 128 + d * 32 + c) * K + b * 4 + e]);
}

TEST(Layout, TrtllmLayoutsEqualSwizzledWhenColsAlignedAndCollideOtherwise) {
  for (std::int64_t rows : {128, 256, 300})
    for (std::int64_t cols : {4, 8, 64}) {
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          ASSERT_EQ(sf_offset(SfLayout::TrtllmR128c4, rows, cols, r, c), sf_offset(SfLayout::Swizzled128x4, rows, cols, r, c));
    }
  EXPECT_GT(sf_layout_collisions(SfLayout::TrtllmR128c4, 256, 6), 0);
  EXPECT_EQ(sf_layout_collisions(SfLayout::Swizzled128x4, 256, 6), 0);
}

TEST(Layout, TagsParseAndUnknownIsInputError) {
  for (SfLayout l : kAll) EXPECT_EQ(parse_layout(layout_tag(l)), l);
  EXPECT_THROW(parse_layout("swizzled_64x4"), InputError);
}

TEST(Sm90Interleave, ScalesMatchDocstringPermuteAndInvert) {
  const std::int64_t E = 2, rows = 6, kg = 8;
  std::vector<std::uint8_t> in(E * rows * kg);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i);
  const auto out = sm90_interleave_scales_v0610(in.data(), E, rows, kg, 32);
  // reshape(E, rows, kg/4, 4).permute(0, 2, 1, 3).reshape(E, kg/4, rows*4)
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t j = 0; j < kg / 4; ++j)
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t f = 0; f < 4; ++f) ASSERT_EQ(out[((e * (kg / 4) + j) * rows + r) * 4 + f], in[((e * rows + r) * kg) + j * 4 + f]);
  EXPECT_EQ(sm90_deinterleave_scales_v0610(out.data(), E, rows, kg, 32), in);
  EXPECT_THROW(sm90_interleave_scales_v0610(in.data(), E, rows, 6, 32), InputError);
  EXPECT_THROW(sm90_interleave_scales_v0610(in.data(), E, rows, kg, 48), InputError);
}

TEST(Sm90Interleave, WeightsArePermutationsThatInvert) {
  Rng rng(2);
  for (Sm90WeightType t : {Sm90WeightType::Fp4, Sm90WeightType::Int4}) {
    const std::int64_t E = 2, n = 32, k = 128;
    std::vector<std::uint8_t> in(E * n * k / 2);
    for (auto& b : in) b = static_cast<std::uint8_t>(rng.next_u32());
    const auto out = sm90_interleave_weights_v0610(in.data(), E, n, k, t);
    EXPECT_NE(out, in);
    EXPECT_EQ(sm90_deinterleave_weights_v0610(out.data(), E, n, k, t), in);
    // 4-bit values are only moved: the multiset of nibbles (fp4) / words (int4) is preserved
    std::multiset<int> a, b;
    for (std::size_t i = 0; i < in.size(); ++i) {
      a.insert(in[i] & 15), a.insert(in[i] >> 4);
      b.insert(out[i] & 15), b.insert(out[i] >> 4);
    }
    EXPECT_EQ(a, b);
    EXPECT_THROW(sm90_interleave_weights_v0610(in.data(), 1, 24, 128, t), InputError);
  }
  // One hand-checked fp4 case from the kernel formula: byte c=5 of row 0 (h=0,q=0,p=1,r=1)
  // with row 8's byte goes to dst row 0, cols 4*1+2*1 = 6 and 7.
  std::vector<std::uint8_t> w(16 * 32, 0);
  w[0 * 32 + 5] = 0xBA;  // a: lo=A, hi=B
  w[8 * 32 + 5] = 0xDC;  // b: lo=C, hi=D
  const auto o = sm90_interleave_weights_v0610(w.data(), 1, 16, 64, Sm90WeightType::Fp4);
  EXPECT_EQ(o[0 * 32 + 6], 0xCA);
  EXPECT_EQ(o[0 * 32 + 7], 0xDB);
}

}  // namespace
}  // namespace moesim::quant
