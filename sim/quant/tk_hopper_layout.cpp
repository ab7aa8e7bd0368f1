#include "sim/quant/tk_hopper_layout.hpp"

#include <string>

#include "sim/core/error.hpp"

namespace moesim::quant {
namespace {

std::int64_t pad(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

void check_shape(std::int64_t n, std::int64_t k, const char* what) {
  if (n <= 0 || k <= 0 || k % 2 != 0 || n > (std::int64_t{1} << 20) || k > (std::int64_t{1} << 20))
    throw InputError(kTkHopperMxW8, std::string(what) + ": shape [" + std::to_string(n) + ", " + std::to_string(k) +
                                        "] out of range (need n, k > 0, k even, both <= 2^20)");
}

// Half-word of _pack_bits from the four nibbles (byte0..byte3 low or high nibbles).
std::uint32_t pack_half(std::uint32_t v0, std::uint32_t v1, std::uint32_t v2, std::uint32_t v3) {
  return ((v0 & 8) << 12) | ((v0 & 7) << 6) | ((v1 & 8) << 9) | ((v1 & 7) << 3) | ((v2 & 8) << 6) | (v2 & 7) |
         ((v3 & 8) << 11) | ((v3 & 6) << 9) | ((v3 & 1) << 13);
}
void unpack_half(std::uint32_t h, std::uint32_t v[4]) {
  v[0] = ((h >> 15) & 1) << 3 | ((h >> 6) & 7);
  v[1] = ((h >> 12) & 1) << 3 | ((h >> 3) & 7);
  v[2] = ((h >> 9) & 1) << 3 | (h & 7);
  v[3] = ((h >> 14) & 1) << 3 | ((h >> 10) & 3) << 1 | ((h >> 13) & 1);
}

// Canonical (n, kb) of physical row R, group q, position p (see the header).
void value_src(std::int64_t R, std::int64_t q, int p, std::int64_t& n, std::int64_t& kb) {
  const std::int64_t r0 = R / 4, t0 = R % 4;
  const std::int64_t r1 = q / 32, s0 = (q / 16) % 2, t1 = (q / 4) % 4, k1 = q % 4;
  const std::int64_t w1 = p / 2, w0 = p % 2;
  n = 16 * r0 + 8 * w0 + 2 * t0 + s0;
  kb = 32 * r1 + 8 * k1 + 4 * w1 + t1;
}

void scale_src(std::int64_t R, std::int64_t z, int num_warps, std::int64_t& n, std::int64_t& g) {
  const std::int64_t a = R / num_warps, w = R % num_warps;
  const std::int64_t h = z / 64, b = (z / 32) % 2, d = (z / 4) % 8, f = (z / 2) % 2, c = z % 2;
  n = a * (2 * num_warps * 2 * 8) + b * (num_warps * 2 * 8) + w * 16 + c * 8 + d;
  g = 2 * h + f;
}

void check_warps(int num_warps) {
  if (num_warps <= 0 || num_warps > 32 || (num_warps & (num_warps - 1)) != 0)
    throw InputError(kTkHopperMxW8, "num_warps " + std::to_string(num_warps) + " must be a power of 2 (HopperMXScaleLayout)");
}

}  // namespace

std::int64_t tk_hopper_value_bytes(std::int64_t n, std::int64_t k) {
  check_shape(n, k, "values");
  return pad(n, 64) * pad(k / 2, 64);
}

std::vector<std::uint8_t> tk_hopper_value_swizzle(const std::uint8_t* canonical, std::int64_t n, std::int64_t k) {
  const std::int64_t np = pad(n, 64), kbp = pad(k / 2, 64), kb_n = k / 2;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(tk_hopper_value_bytes(n, k)), 0);
  for (std::int64_t R = 0; R < np / 4; ++R)
    for (std::int64_t q = 0; q < kbp; ++q) {
      std::uint32_t b[4];
      for (int p = 0; p < 4; ++p) {
        std::int64_t sn, skb;
        value_src(R, q, p, sn, skb);
        b[p] = (sn < n && skb < kb_n) ? canonical[sn * kb_n + skb] : 0u;
      }
      const std::uint32_t word = pack_half(b[0] & 15, b[1] & 15, b[2] & 15, b[3] & 15) |
                                 pack_half(b[0] >> 4, b[1] >> 4, b[2] >> 4, b[3] >> 4) << 16;
      std::uint8_t* dst = out.data() + R * 4 * kbp + 4 * q;
      for (int i = 0; i < 4; ++i) dst[i] = static_cast<std::uint8_t>(word >> (8 * i));
    }
  return out;
}

std::vector<std::uint8_t> tk_hopper_value_unswizzle(const std::uint8_t* swizzled, std::int64_t n, std::int64_t k) {
  const std::int64_t np = pad(n, 64), kbp = pad(k / 2, 64), kb_n = k / 2;
  (void)tk_hopper_value_bytes(n, k);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n * kb_n), 0);
  for (std::int64_t R = 0; R < np / 4; ++R)
    for (std::int64_t q = 0; q < kbp; ++q) {
      const std::uint8_t* src = swizzled + R * 4 * kbp + 4 * q;
      const std::uint32_t word = std::uint32_t{src[0]} | std::uint32_t{src[1]} << 8 | std::uint32_t{src[2]} << 16 |
                                 std::uint32_t{src[3]} << 24;
      std::uint32_t lo[4], hi[4];
      unpack_half(word & 0xFFFF, lo);
      unpack_half(word >> 16, hi);
      for (int p = 0; p < 4; ++p) {
        std::int64_t sn, skb;
        value_src(R, q, p, sn, skb);
        if (sn < n && skb < kb_n) out[static_cast<std::size_t>(sn * kb_n + skb)] = static_cast<std::uint8_t>(lo[p] | hi[p] << 4);
      }
    }
  return out;
}

std::int64_t tk_hopper_scale_bytes(std::int64_t n, std::int64_t groups, int num_warps) {
  check_warps(num_warps);
  check_shape(n, 2 * groups, "scales");
  return pad(n, 32 * num_warps) * pad(groups, 2);
}

std::vector<std::uint8_t> tk_hopper_scale_swizzle(const std::uint8_t* canonical, std::int64_t n, std::int64_t groups, int num_warps) {
  const std::int64_t size = tk_hopper_scale_bytes(n, groups, num_warps);
  const std::int64_t np = pad(n, 32 * num_warps), gp = pad(groups, 2), cols = 32 * gp;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size), 0);
  for (std::int64_t R = 0; R < np / 32; ++R)
    for (std::int64_t z = 0; z < cols; ++z) {
      std::int64_t sn, sg;
      scale_src(R, z, num_warps, sn, sg);
      if (sn < n && sg < groups) out[static_cast<std::size_t>(R * cols + z)] = canonical[sn * groups + sg];
    }
  return out;
}

std::vector<std::uint8_t> tk_hopper_scale_unswizzle(const std::uint8_t* swizzled, std::int64_t n, std::int64_t groups, int num_warps) {
  (void)tk_hopper_scale_bytes(n, groups, num_warps);
  const std::int64_t np = pad(n, 32 * num_warps), gp = pad(groups, 2), cols = 32 * gp;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n * groups), 0);
  for (std::int64_t R = 0; R < np / 32; ++R)
    for (std::int64_t z = 0; z < cols; ++z) {
      std::int64_t sn, sg;
      scale_src(R, z, num_warps, sn, sg);
      if (sn < n && sg < groups) out[static_cast<std::size_t>(sn * groups + sg)] = swizzled[R * cols + z];
    }
  return out;
}

}  // namespace moesim::quant
