#include "sim/kernels/threshold.hpp"

#include <algorithm>

namespace moesim::kernels {

std::optional<std::int64_t> first_failing(const std::function<bool(std::int64_t)>& fires,
                                          std::vector<std::int64_t> starts, std::int64_t lo, std::int64_t hi) {
  if (hi < lo) return std::nullopt;
  starts.push_back(lo);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  starts.erase(std::remove_if(starts.begin(), starts.end(), [&](std::int64_t s) { return s < lo || s > hi; }),
               starts.end());
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::int64_t a = starts[i];
    const std::int64_t b = i + 1 < starts.size() ? starts[i + 1] - 1 : hi;
    if (!fires(b)) continue;
    std::int64_t l = a, r = b;  // fires(r) is true
    while (l < r) {
      const std::int64_t m = l + (r - l) / 2;
      if (fires(m)) r = m; else l = m + 1;
    }
    return l;
  }
  return std::nullopt;
}

std::optional<std::int64_t> first_at_least(const std::function<std::int64_t(std::int64_t)>& key,
                                           std::int64_t target, std::int64_t lo, std::int64_t hi) {
  if (hi < lo || key(hi) < target) return std::nullopt;
  std::int64_t l = lo, r = hi;
  while (l < r) {
    const std::int64_t m = l + (r - l) / 2;
    if (key(m) >= target) r = m; else l = m + 1;
  }
  return l;
}

}  // namespace moesim::kernels
