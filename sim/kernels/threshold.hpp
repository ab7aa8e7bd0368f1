#pragma once
// Exact first-failing search over token counts. A check is monotone (false ... false true ...
// true) inside each segment [starts[i], starts[i+1]) but may drop back to false at a segment
// start (e.g. the TRTLLM-gen tile doubles, halving the CTA count). Searching each segment in
// ascending order with a binary search is exact under that assumption, which each check
// documents and tests against a brute-force scan.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace moesim::kernels {

std::optional<std::int64_t> first_failing(const std::function<bool(std::int64_t)>& fires,
                                          std::vector<std::int64_t> segment_starts, std::int64_t lo,
                                          std::int64_t hi);

// Smallest t in [lo, hi] with key(t) >= target for a non-decreasing key (binary search);
// nullopt when key(hi) < target.
std::optional<std::int64_t> first_at_least(const std::function<std::int64_t(std::int64_t)>& key,
                                           std::int64_t target, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels
