#include "sim/core/rng.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace moesim {

// Reference values of xoshiro256** seeded with SplitMix64(0) are published by Vigna
// (https://prng.di.unimi.it/splitmix64.c): the first SplitMix64 output from state 0.
TEST(Rng, SplitMix64MatchesPublishedFirstOutput) {
  std::uint64_t s = 0;
  EXPECT_EQ(splitmix64(s), 0xE220A8397B1DCDAFull);
}

TEST(Rng, SameSeedSameStreamDifferentStreamsDiffer) {
  Rng a(42), b(42), c(42, 1);
  for (int i = 0; i < 100; ++i) {
    auto x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
  }
}

TEST(Rng, BelowIsInRangeAndRoughlyUniform) {
  Rng r(7);
  std::array<int, 10> hist{};
  for (int i = 0; i < 100000; ++i) {
    auto v = r.below(10);
    ASSERT_LT(v, 10u);
    ++hist[v];
  }
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);
}

}  // namespace moesim
