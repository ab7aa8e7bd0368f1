// first_failing: exact on piecewise-monotone predicates, compared with a brute-force scan.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>

#include "sim/core/rng.hpp"
#include "sim/kernels/threshold.hpp"

using namespace moesim::kernels;

TEST(Threshold, MatchesBruteForceOnRandomPiecewiseMonotonePredicates) {
  moesim::Rng rng(1234, 0);
  for (int trial = 0; trial < 300; ++trial) {
    const std::int64_t hi = 1 + static_cast<std::int64_t>(rng.next() % 2000);
    std::vector<std::int64_t> starts = {1};
    const int nseg = static_cast<int>(rng.next() % 6);
    for (int i = 0; i < nseg; ++i) starts.push_back(1 + static_cast<std::int64_t>(rng.next() % hi));
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    // Each segment: fires from an offset onwards (or never).
    std::vector<std::int64_t> on(starts.size());
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const std::int64_t end = i + 1 < starts.size() ? starts[i + 1] - 1 : hi;
      const std::int64_t len = end - starts[i] + 1;
      on[i] = (rng.next() % 3 == 0) ? INT64_MAX : starts[i] + static_cast<std::int64_t>(rng.next() % (len + 1));
    }
    auto fires = [&](std::int64_t t) {
      std::size_t i = std::upper_bound(starts.begin(), starts.end(), t) - starts.begin() - 1;
      return t >= on[i];
    };
    std::optional<std::int64_t> brute;
    for (std::int64_t t = 1; t <= hi; ++t)
      if (fires(t)) {
        brute = t;
        break;
      }
    EXPECT_EQ(first_failing(fires, starts, 1, hi), brute) << "trial " << trial;
  }
}

TEST(Threshold, FirstAtLeast) {
  auto sq = [](std::int64_t t) { return t * t; };
  EXPECT_EQ(first_at_least(sq, 50, 1, 100), 8);
  EXPECT_EQ(first_at_least(sq, 1, 1, 100), 1);
  EXPECT_FALSE(first_at_least(sq, 100000, 1, 100).has_value());
}
