#pragma once
// The seeded bf16 test tensor of the NVFP4 GPU anchor (scripts/gpu/quant_nvfp4_anchor.cu,
// recorded results in tests/data/quant/nvfp4_vllm_anchor.txt). Shared by tests, bench and CLI.
//
// Element i (row-major) of [rows, cols] from z = splitmix64 output of SEED + (i+1)*golden:
//   sign = z >> 63; exp = 118 + ((z >> 32) % 16) + (row % 3); man = (z >> 8) & 0x7F;
//   ((z >> 24) & 0xFFFF) == 0 -> exp = 140 (outlier); ((z >> 16) & 0x3FF) == 0 -> +0;
//   (row*(cols/16) + col/16) % 1009 == 0 -> the whole 16-block is +0.
#include <cstdint>
#include <vector>

namespace moesim::quant {

inline constexpr std::uint64_t kAnchorSeed = 0x6D6F6573696D3033ull;  // "moesim03"
inline constexpr std::int64_t kAnchorRows = 4096, kAnchorCols = 7168;

inline std::uint16_t anchor_bf16(std::int64_t rows_unused, std::int64_t cols, std::uint64_t i) {
  (void)rows_unused;
  const std::uint64_t row = i / static_cast<std::uint64_t>(cols), col = i % static_cast<std::uint64_t>(cols);
  if ((row * static_cast<std::uint64_t>(cols / 16) + col / 16) % 1009 == 0) return 0;
  std::uint64_t z = kAnchorSeed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  if (((z >> 16) & 0x3FF) == 0) return 0;
  std::uint32_t e = 118 + static_cast<std::uint32_t>((z >> 32) % 16) + static_cast<std::uint32_t>(row % 3);
  if (((z >> 24) & 0xFFFF) == 0) e = 140;
  return static_cast<std::uint16_t>((static_cast<std::uint32_t>(z >> 63) << 15) | (e << 7) | static_cast<std::uint32_t>((z >> 8) & 0x7F));
}

inline std::vector<std::uint16_t> anchor_tensor(std::int64_t rows = kAnchorRows, std::int64_t cols = kAnchorCols) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = anchor_bf16(rows, cols, i);
  return v;
}

}  // namespace moesim::quant
