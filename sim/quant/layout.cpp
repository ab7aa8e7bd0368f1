#include "sim/quant/layout.hpp"

#include <string>

#include "sim/core/error.hpp"

namespace moesim::quant {

namespace {

std::int64_t pad(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

struct Tag {
  SfLayout l;
  std::string_view tag;
};
constexpr Tag kTags[] = {{SfLayout::Linear, "linear"},           {SfLayout::Swizzled128x4, "swizzled_128x4"},
                         {SfLayout::Swizzled8x4, "swizzled_8x4"}, {SfLayout::TrtllmR128c4, "trtllm_r128c4"},
                         {SfLayout::TrtllmR8c4, "trtllm_r8c4"},   {SfLayout::TrtllmR8c16, "trtllm_r8c16"}};

struct Trt {
  std::int64_t R, C;
};
Trt trt(SfLayout l) {
  switch (l) {
    case SfLayout::TrtllmR128c4: return {128, 4};
    case SfLayout::TrtllmR8c4: return {8, 4};
    default: return {8, 16};
  }
}

}  // namespace

std::string_view layout_tag(SfLayout l) {
  for (const Tag& t : kTags)
    if (t.l == l) return t.tag;
  return "?";
}

SfLayout parse_layout(std::string_view tag) {
  std::string known;
  for (const Tag& t : kTags) {
    if (t.tag == tag) return t.l;
    known += (known.empty() ? "" : ", ") + std::string(t.tag);
  }
  throw InputError("layout '" + std::string(tag) + "'", "unknown scale layout (known: " + known + ")");
}

std::int64_t sf_layout_size(SfLayout l, std::int64_t rows, std::int64_t cols) {
  switch (l) {
    case SfLayout::Linear: return rows * cols;
    case SfLayout::Swizzled128x4:
    case SfLayout::TrtllmR128c4: return pad(rows, 128) * pad(cols, 4);
    case SfLayout::Swizzled8x4:
    case SfLayout::TrtllmR8c4: return pad(rows, 8) * pad(cols, 4);
    case SfLayout::TrtllmR8c16: return pad(rows, 8) * pad(cols, 16);
  }
  return 0;
}

std::int64_t sf_offset(SfLayout l, std::int64_t rows, std::int64_t cols, std::int64_t r, std::int64_t c) {
  switch (l) {
    case SfLayout::Linear: return r * cols + c;
    case SfLayout::Swizzled128x4: {
      const std::int64_t k4 = (cols + 3) / 4;
      return (r / 128) * (k4 * 512) + (c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + c % 4;
    }
    case SfLayout::Swizzled8x4: {
      const std::int64_t k4 = (cols + 3) / 4;
      return (r / 8) * (k4 * 32) + (c / 4) * 32 + (r % 8) * 4 + c % 4;
    }
    case SfLayout::TrtllmR128c4: {
      const std::int64_t blk = ((r / 128) * cols) / 4 + c / 4;
      return blk * 512 + ((r % 32) * 4 + (r % 128) / 32) * 4 + c % 4;
    }
    case SfLayout::TrtllmR8c4:
    case SfLayout::TrtllmR8c16: {
      const Trt t = trt(l);
      const std::int64_t blk = ((r / t.R) * cols) / t.C + c / t.C;
      return blk * (t.R * t.C) + (r % t.R) * t.C + c % t.C;
    }
  }
  (void)rows;
  return 0;
}

std::optional<std::pair<std::int64_t, std::int64_t>> sf_inverse(SfLayout l, std::int64_t rows, std::int64_t cols,
                                                                 std::int64_t off) {
  if (off < 0 || off >= sf_layout_size(l, rows, cols)) return std::nullopt;
  std::int64_t r = 0, c = 0;
  switch (l) {
    case SfLayout::Linear:
      r = off / cols;
      c = off % cols;
      break;
    case SfLayout::Swizzled128x4: {
      const std::int64_t k4 = (cols + 3) / 4, tile = k4 * 512;
      const std::int64_t mt = off / tile, rem = off % tile, kt = rem / 512, w = rem % 512;
      r = mt * 128 + ((w % 16) / 4) * 32 + w / 16;
      c = kt * 4 + w % 4;
      break;
    }
    case SfLayout::Swizzled8x4: {
      const std::int64_t k4 = (cols + 3) / 4, tile = k4 * 32;
      const std::int64_t mt = off / tile, rem = off % tile, kt = rem / 32, w = rem % 32;
      r = mt * 8 + w / 4;
      c = kt * 4 + w % 4;
      break;
    }
    default: {
      // Not analytically invertible when cols % C != 0: search the (few) candidate rows.
      const Trt t = trt(l);
      std::optional<std::pair<std::int64_t, std::int64_t>> last;
      const std::int64_t blk = off / (t.R * t.C), inner = off % (t.R * t.C);
      std::int64_t ri, cc;
      if (l == SfLayout::TrtllmR128c4) {
        const std::int64_t q = inner / 4;  // (r%32)*4 + (r%128)/32
        ri = (q % 4) * 32 + q / 4;
        cc = inner % 4;
      } else {
        ri = inner / t.C;
        cc = inner % t.C;
      }
      // blk = ((r/R)*cols)/C + c/C: try every row tile whose first block is <= blk.
      for (std::int64_t rt = 0; rt * t.R < pad(rows, t.R); ++rt) {
        const std::int64_t base = (rt * cols) / t.C;
        if (base > blk) break;
        const std::int64_t cb = blk - base;
        const std::int64_t rr = rt * t.R + ri, c2 = cb * t.C + cc;
        if (rr < rows && c2 < cols) last = std::make_pair(rr, c2);
      }
      return last;
    }
  }
  if (r >= rows || c >= cols) return std::nullopt;
  return std::make_pair(r, c);
}

std::int64_t sf_layout_collisions(SfLayout l, std::int64_t rows, std::int64_t cols) {
  std::vector<std::uint8_t> seen(static_cast<std::size_t>(sf_layout_size(l, rows, cols) + 1), 0);
  std::int64_t n = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t o = sf_offset(l, rows, cols, r, c);
      if (o < 0 || o >= static_cast<std::int64_t>(seen.size())) {
        ++n;
        continue;
      }
      if (seen[static_cast<std::size_t>(o)]++) ++n;
    }
  return n;
}

std::vector<std::uint8_t> sf_to_layout(const std::uint8_t* linear, std::int64_t rows, std::int64_t cols, SfLayout l) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(sf_layout_size(l, rows, cols)), 0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t o = sf_offset(l, rows, cols, r, c);
      if (o >= 0 && o < static_cast<std::int64_t>(out.size())) out[static_cast<std::size_t>(o)] = linear[r * cols + c];
    }
  return out;
}

std::vector<std::uint8_t> sf_from_layout(const std::uint8_t* laid, std::int64_t rows, std::int64_t cols, SfLayout l) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows * cols), 0);
  const std::int64_t size = sf_layout_size(l, rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t o = sf_offset(l, rows, cols, r, c);
      if (o >= 0 && o < size) out[static_cast<std::size_t>(r * cols + c)] = laid[o];
    }
  return out;
}

// ------------------------------------------------------------------ SM90 interleaves

namespace {
void check_scales(std::int64_t kg, int group_size) {
  if (group_size <= 0 || 128 % group_size != 0)
    throw InputError("interleave_moe_scales_for_sm90_mixed_gemm", "group_size=" + std::to_string(group_size) + " must divide 128");
  const std::int64_t factor = 128 / group_size;
  if (kg % factor != 0)
    throw InputError("interleave_moe_scales_for_sm90_mixed_gemm",
                     "K/group_size=" + std::to_string(kg) + " must be divisible by interleave factor " + std::to_string(factor));
}
}  // namespace

std::vector<std::uint8_t> sm90_interleave_scales_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                       std::int64_t kg, int group_size) {
  check_scales(kg, group_size);
  const std::int64_t f = 128 / group_size;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * rows * kg));
  for (std::int64_t e = 0; e < experts; ++e)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < kg / f; ++j)
        for (std::int64_t q = 0; q < f; ++q)
          out[static_cast<std::size_t>(e * rows * kg + j * rows * f + r * f + q)] = in[e * rows * kg + r * kg + j * f + q];
  return out;
}

std::vector<std::uint8_t> sm90_deinterleave_scales_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                         std::int64_t kg, int group_size) {
  check_scales(kg, group_size);
  const std::int64_t f = 128 / group_size;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * rows * kg));
  for (std::int64_t e = 0; e < experts; ++e)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < kg / f; ++j)
        for (std::int64_t q = 0; q < f; ++q)
          out[static_cast<std::size_t>(e * rows * kg + r * kg + j * f + q)] = in[e * rows * kg + j * rows * f + r * f + q];
  return out;
}

namespace {
void check_weights(std::int64_t n, std::int64_t k, Sm90WeightType t) {
  if (t == Sm90WeightType::Fp4ForFp8)
    throw InputError("interleave_moe_weights_for_sm90_mixed_gemm (v0.6.10 algorithm)",
                     "quant_type 'fp4_fp8' does not exist before FlashInfer v0.6.16 (PR #3738)");
  if (n % 16 != 0 || k % 64 != 0)
    throw InputError("interleave_moe_weights_for_sm90_mixed_gemm",
                     "needs n % 16 == 0 and k % 64 == 0 (got n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                         "); the upstream kernel does not check and would read out of bounds");
}

// Calls fn(src_row_a, src_row_b, src_col, dst_row, dst_col) for each unit moved; units are
// bytes (fp4) or 16-bit words (int4), columns in those units.
template <class Fn>
void sm90_weight_map(std::int64_t n, std::int64_t k, Sm90WeightType t, Fn fn) {
  for (std::int64_t R = 0; R < n; R += 16)
    for (std::int64_t i = 0; i < 8; ++i) {
      if (t == Sm90WeightType::Fp4) {
        for (std::int64_t P = 0; P < k / 64; ++P)
          for (std::int64_t c = 0; c < 32; ++c) {
            const std::int64_t h = c / 16, q = (c / 8) % 2, p = (c / 4) % 2, r = c % 4;
            fn(R + i, R + i + 8, 32 * P + c, R + i + 8 * q, 32 * P + 16 * h + 4 * r + 2 * p);
          }
      } else {
        for (std::int64_t P = 0; P < k / 64; ++P)
          for (std::int64_t w = 0; w < 16; ++w) {
            const std::int64_t m = w / 8, p = (w / 4) % 2, r = w % 4;
            fn(R + i, R + i + 8, 16 * P + w, R + i + 8 * p, 16 * P + 8 * m + 2 * r);
          }
      }
    }
}
}  // namespace

std::vector<std::uint8_t> sm90_interleave_weights_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                        std::int64_t k, Sm90WeightType t) {
  check_weights(n, k, t);
  const std::int64_t row_bytes = k / 2, per_e = n * row_bytes;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * per_e));
  for (std::int64_t e = 0; e < experts; ++e) {
    const std::uint8_t* s = in + e * per_e;
    std::uint8_t* d = out.data() + e * per_e;
    sm90_weight_map(n, k, t, [&](std::int64_t ra, std::int64_t rb, std::int64_t sc, std::int64_t dr, std::int64_t dc) {
      if (t == Sm90WeightType::Fp4) {
        const std::uint8_t a = s[ra * row_bytes + sc], b = s[rb * row_bytes + sc];
        d[dr * row_bytes + dc] = static_cast<std::uint8_t>((a & 0x0F) | ((b & 0x0F) << 4));
        d[dr * row_bytes + dc + 1] = static_cast<std::uint8_t>((a >> 4) | (b & 0xF0));
      } else {  // 16-bit words: bytes 2w, 2w+1
        for (int byte = 0; byte < 2; ++byte) {
          d[dr * row_bytes + 2 * dc + byte] = s[ra * row_bytes + 2 * sc + byte];
          d[dr * row_bytes + 2 * (dc + 1) + byte] = s[rb * row_bytes + 2 * sc + byte];
        }
      }
    });
  }
  return out;
}

std::vector<std::uint8_t> sm90_deinterleave_weights_v0610(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                          std::int64_t k, Sm90WeightType t) {
  check_weights(n, k, t);
  const std::int64_t row_bytes = k / 2, per_e = n * row_bytes;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * per_e));
  for (std::int64_t e = 0; e < experts; ++e) {
    const std::uint8_t* s = in + e * per_e;
    std::uint8_t* d = out.data() + e * per_e;
    sm90_weight_map(n, k, t, [&](std::int64_t ra, std::int64_t rb, std::int64_t sc, std::int64_t dr, std::int64_t dc) {
      if (t == Sm90WeightType::Fp4) {
        const std::uint8_t x0 = s[dr * row_bytes + dc], x1 = s[dr * row_bytes + dc + 1];
        d[ra * row_bytes + sc] = static_cast<std::uint8_t>((x0 & 0x0F) | ((x1 & 0x0F) << 4));
        d[rb * row_bytes + sc] = static_cast<std::uint8_t>((x0 >> 4) | (x1 & 0xF0));
      } else {
        for (int byte = 0; byte < 2; ++byte) {
          d[ra * row_bytes + 2 * sc + byte] = s[dr * row_bytes + 2 * dc + byte];
          d[rb * row_bytes + 2 * sc + byte] = s[dr * row_bytes + 2 * (dc + 1) + byte];
        }
      }
    });
  }
  return out;
}

}  // namespace moesim::quant
