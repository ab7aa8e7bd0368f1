#include "sim/quant/sm90_interleave.hpp"

#include <array>
#include <string>

#include "sim/core/error.hpp"

namespace moesim::quant {

namespace {

// ------------------------------------------------------------------ tags

struct Tag {
  Sm90Interleave a;
  std::string_view tag;
};
constexpr Tag kTags[] = {{Sm90Interleave::V0610, "sm90_interleave_v0.6.10"}, {Sm90Interleave::V0616, "sm90_interleave_v0.6.16"}};

// ------------------------------------------------------------------ scales

constexpr const char* kScaleWhere = "interleave_moe_scales_for_sm90_mixed_gemm (v0.6.16) scales";

void check_scale_shape(std::int64_t experts, std::int64_t rows, std::int64_t kg, const Sm90ScaleFold& f) {
  if (experts < 0 || rows < 0 || kg < 0) throw InputError(kScaleWhere, "negative shape");
  if (rows % 64 != 0) throw InputError(kScaleWhere, "scale rows=" + std::to_string(rows) + " must be divisible by 64");
  if (kg % f.spk != 0)
    throw InputError(kScaleWhere, "K/group_size=" + std::to_string(kg) + " must be divisible by scale groups per K128 block " +
                                      std::to_string(f.spk));
}

template <bool kForward>
std::vector<std::uint8_t> move_scales(const std::uint8_t* in, std::int64_t experts, std::int64_t rows, std::int64_t kg,
                                      int group_size, int elem_bytes) {
  const Sm90ScaleFold f = sm90_scale_fold_v0616(group_size, elem_bytes);
  check_scale_shape(experts, rows, kg, f);
  const std::int64_t per_e = rows * kg;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * per_e * elem_bytes));
  for (std::int64_t e = 0; e < experts; ++e)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < kg; ++c) {
        const std::int64_t lin = e * per_e + r * kg + c;
        const std::int64_t fol = e * per_e + sm90_scale_offset_v0616(rows, kg, f, r, c);
        const std::int64_t from = kForward ? lin : fol, to = kForward ? fol : lin;
        for (int b = 0; b < elem_bytes; ++b) out[static_cast<std::size_t>(to * elem_bytes + b)] = in[from * elem_bytes + b];
      }
  return out;
}

// ------------------------------------------------------------------ weights

// interleave_fp4_weights_for_sm90_mixed_gemm_kernel: destination bit of each bit of the
// gathered word (byte s of the word = gather slot s), read off its 20 mask/shift lines.
constexpr std::array<int, 32> kFp4BitPerm = {6, 7, 8, 15, 22, 23, 24, 31, 3,  4,  5,  12, 19, 20, 21, 28,
                                             0, 1, 2, 9,  16, 17, 18, 25, 13, 10, 11, 14, 29, 26, 27, 30};

// preprocess_fp4x8_signs_for_fp8: sign bit of nibble j of a|b<<16 moves to nibble kSignTo[j].
constexpr std::array<int, 8> kSignTo = {1, 3, 5, 7, 0, 2, 4, 6};

std::array<int, 32> bit_perm(Sm90WeightType t) {
  std::array<int, 32> p{};
  for (int b = 0; b < 32; ++b) p[b] = b;
  if (t == Sm90WeightType::Fp4) return kFp4BitPerm;
  if (t == Sm90WeightType::Fp4ForFp8)
    for (int j = 0; j < 8; ++j) p[4 * j + 3] = 4 * kSignTo[j] + 3;
  return p;
}

std::array<int, 32> inverse_perm(const std::array<int, 32>& p) {
  std::array<int, 32> q{};
  for (int b = 0; b < 32; ++b) q[p[b]] = b;
  return q;
}

// One 32-bit unit: four gathered source bytes (slot order) and the first of the four
// consecutive destination bytes. Offsets inside one expert.
struct Unit {
  std::int64_t src[4];
  std::int64_t dst;
};

Unit make_unit(std::int64_t k, Sm90WeightType t, std::int64_t R, std::int64_t i, std::int64_t P, std::int64_t l) {
  const std::int64_t rb = k / 2, ra = (R + i) * rb, rbw = (R + i + 8) * rb;
  Unit u{};
  if (t == Sm90WeightType::Fp4) {
    const std::int64_t m = l / 4, c0 = 32 * P + 8 * m + l % 4;
    u.src[0] = ra + c0;
    u.src[1] = rbw + c0;
    u.src[2] = ra + c0 + 4;
    u.src[3] = rbw + c0 + 4;
    u.dst = (R + i + 8 * (m % 2)) * rb + 32 * P + 16 * (l / 8) + 4 * (l % 4);
  } else {
    const std::int64_t wc = 16 * P + l;
    u.src[0] = ra + 2 * wc;
    u.src[1] = ra + 2 * wc + 1;
    u.src[2] = rbw + 2 * wc;
    u.src[3] = rbw + 2 * wc + 1;
    u.dst = (R + i + 8 * ((l % 8) / 4)) * rb + 2 * (16 * P + 8 * (l / 8) + 2 * (l % 4));
  }
  return u;
}

struct Located {
  Unit unit;
  int slot;  // gather slot (source side) or byte position (destination side)
};

Located locate_src_byte(std::int64_t k, Sm90WeightType t, std::int64_t byte) {
  const std::int64_t rb = k / 2, row = byte / rb, bc = byte % rb;
  const std::int64_t R = row / 16 * 16, i = row % 8, hi = (row % 16) / 8;
  if (t == Sm90WeightType::Fp4) {
    const std::int64_t P = bc / 32, c = bc % 32, m = c / 8, w = c % 8;
    return {make_unit(k, t, R, i, P, 4 * m + w % 4), static_cast<int>((w / 4) * 2 + hi)};
  }
  const std::int64_t wc = bc / 2;
  return {make_unit(k, t, R, i, wc / 16, wc % 16), static_cast<int>(2 * hi + bc % 2)};
}

Located locate_dst_byte(std::int64_t k, Sm90WeightType t, std::int64_t byte) {
  const std::int64_t rb = k / 2, dr = byte / rb, dc = byte % rb;
  const std::int64_t R = dr / 16 * 16, i = dr % 8, q = (dr % 16) / 8;
  if (t == Sm90WeightType::Fp4) {
    const std::int64_t P = dc / 32, u = dc % 32, m = 2 * (u / 16) + q;
    return {make_unit(k, t, R, i, P, 4 * m + (u % 16) / 4), static_cast<int>(u % 4)};
  }
  const std::int64_t dw = dc / 2, P = dw / 16, u = dw % 16;
  const std::int64_t l = 8 * (u / 8) + 4 * q + (u % 8) / 2;
  return {make_unit(k, t, R, i, P, l), static_cast<int>((u % 2) * 2 + dc % 2)};
}

constexpr const char* kWeightWhere = "interleave_moe_weights_for_sm90_mixed_gemm (v0.6.16) weight [E, n, k/2]";

void check_weight_shape(std::int64_t experts, std::int64_t n, std::int64_t k) {
  if (experts < 0 || n < 0 || k < 0) throw InputError(kWeightWhere, "negative shape");
  if (n % 16 != 0)
    throw InputError(kWeightWhere, "weight n dimension must be divisible by 16 for SM90 mixed-gemm interleave (n=" +
                                       std::to_string(n) + ")");
  if (k % 64 != 0)
    throw InputError(kWeightWhere, "logical K dimension must be divisible by 64 for SM90 mixed-gemm interleave (k=" +
                                       std::to_string(k) + ")");
}

// Per-slot byte tables: table[s][byte] = the byte's bits at their permuted positions.
using ByteTables = std::array<std::array<std::uint32_t, 256>, 4>;
ByteTables byte_tables(const std::array<int, 32>& perm) {
  ByteTables t{};
  for (int s = 0; s < 4; ++s)
    for (int v = 0; v < 256; ++v) {
      std::uint32_t w = 0;
      for (int b = 0; b < 8; ++b)
        if (v >> b & 1) w |= 1u << perm[s * 8 + b];
      t[s][v] = w;
    }
  return t;
}

template <bool kForward>
std::vector<std::uint8_t> move_weights(const std::uint8_t* in, std::int64_t experts, std::int64_t n, std::int64_t k,
                                       Sm90WeightType t) {
  check_weight_shape(experts, n, k);
  const auto perm = bit_perm(t);
  const ByteTables tab = byte_tables(kForward ? perm : inverse_perm(perm));
  const std::int64_t per_e = n * (k / 2);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(experts * per_e));
  for (std::int64_t e = 0; e < experts; ++e) {
    const std::uint8_t* s = in + e * per_e;
    std::uint8_t* d = out.data() + e * per_e;
    for (std::int64_t R = 0; R < n; R += 16)
      for (std::int64_t i = 0; i < 8; ++i)
        for (std::int64_t P = 0; P < k / 64; ++P)
          for (std::int64_t l = 0; l < 16; ++l) {
            const Unit u = make_unit(k, t, R, i, P, l);
            std::uint32_t w = 0;
            for (int b = 0; b < 4; ++b) w |= tab[b][kForward ? s[u.src[b]] : s[u.dst + b]];
            for (int b = 0; b < 4; ++b) {
              const auto byte = static_cast<std::uint8_t>(w >> (8 * b));
              if (kForward)
                d[u.dst + b] = byte;
              else
                d[u.src[b]] = byte;
            }
          }
  }
  return out;
}

}  // namespace

std::string_view sm90_interleave_tag(Sm90Interleave a) {
  for (const Tag& t : kTags)
    if (t.a == a) return t.tag;
  return "?";
}

Sm90Interleave parse_sm90_interleave(std::string_view tag) {
  std::string known;
  for (const Tag& t : kTags) {
    if (t.tag == tag) return t.a;
    known += (known.empty() ? "" : ", ") + std::string(t.tag);
  }
  throw InputError("layout '" + std::string(tag) + "'", "unknown SM90 interleave layout (known: " + known + ")");
}

Sm90ScaleFold sm90_scale_fold_v0616(int group_size, int elem_bytes) {
  if (group_size <= 0 || 128 % group_size != 0)
    throw InputError(kScaleWhere, "group_size=" + std::to_string(group_size) + " must be positive and divide 128");
  Sm90ScaleFold f;
  f.spk = 128 / group_size;
  const int element_bits = elem_bytes * 8;
  if (element_bits <= 0 || element_bits > 128 || 128 % element_bits != 0)
    throw InputError(kScaleWhere, "scale dtype has unsupported element size " + std::to_string(element_bits) + " bits");
  f.physical_cols = 128 / element_bits;
  if (f.physical_cols % f.spk != 0)
    throw InputError(kScaleWhere, "scale element size " + std::to_string(element_bits) + " bits and group_size=" +
                                      std::to_string(group_size) + " do not form an integer folded M slice");
  f.m_slices = f.physical_cols / f.spk;
  if (64 % f.m_slices != 0)
    throw InputError(kScaleWhere, "folded M slices " + std::to_string(f.m_slices) + " must divide the logical M64 block");
  f.folded_m = 64 / f.m_slices;
  return f;
}

std::int64_t sm90_scale_offset_v0616(std::int64_t rows, std::int64_t kg, const Sm90ScaleFold& f, std::int64_t r,
                                     std::int64_t c) {
  (void)rows;
  const std::int64_t k128 = kg / f.spk;
  const std::int64_t R = r / 64, s = (r % 64) / f.folded_m, fm = (r % 64) % f.folded_m;
  const std::int64_t j = c / f.spk, q = c % f.spk;
  return ((R * k128 + j) * f.folded_m + fm) * f.physical_cols + s * f.spk + q;
}

std::pair<std::int64_t, std::int64_t> sm90_scale_inverse_v0616(std::int64_t rows, std::int64_t kg,
                                                               const Sm90ScaleFold& f, std::int64_t off) {
  (void)rows;
  const std::int64_t k128 = kg / f.spk;
  const std::int64_t pc = off % f.physical_cols;
  std::int64_t t = off / f.physical_cols;
  const std::int64_t fm = t % f.folded_m;
  t /= f.folded_m;
  const std::int64_t j = t % k128, R = t / k128;
  return {64 * R + f.folded_m * (pc / f.spk) + fm, f.spk * j + pc % f.spk};
}

std::vector<std::uint8_t> sm90_interleave_scales_v0616(const std::uint8_t* in, std::int64_t experts, std::int64_t rows,
                                                       std::int64_t kg, int group_size, int elem_bytes) {
  return move_scales<true>(in, experts, rows, kg, group_size, elem_bytes);
}

std::vector<std::uint8_t> sm90_deinterleave_scales_v0616(const std::uint8_t* in, std::int64_t experts,
                                                         std::int64_t rows, std::int64_t kg, int group_size,
                                                         int elem_bytes) {
  return move_scales<false>(in, experts, rows, kg, group_size, elem_bytes);
}

std::int64_t sm90_weight_bit_dest_v0616(std::int64_t n, std::int64_t k, Sm90WeightType t, std::int64_t src_bit) {
  check_weight_shape(1, n, k);
  const Located loc = locate_src_byte(k, t, src_bit / 8);
  const int p = bit_perm(t)[loc.slot * 8 + static_cast<int>(src_bit % 8)];
  return (loc.unit.dst + p / 8) * 8 + p % 8;
}

std::int64_t sm90_weight_bit_src_v0616(std::int64_t n, std::int64_t k, Sm90WeightType t, std::int64_t dst_bit) {
  check_weight_shape(1, n, k);
  const Located loc = locate_dst_byte(k, t, dst_bit / 8);
  const int p = inverse_perm(bit_perm(t))[loc.slot * 8 + static_cast<int>(dst_bit % 8)];
  return loc.unit.src[p / 8] * 8 + p % 8;
}

std::vector<std::uint8_t> sm90_interleave_weights_v0616(const std::uint8_t* in, std::int64_t experts, std::int64_t n,
                                                        std::int64_t k, Sm90WeightType t) {
  return move_weights<true>(in, experts, n, k, t);
}

std::vector<std::uint8_t> sm90_deinterleave_weights_v0616(const std::uint8_t* in, std::int64_t experts,
                                                          std::int64_t n, std::int64_t k, Sm90WeightType t) {
  return move_weights<false>(in, experts, n, k, t);
}

namespace {
void require_uint8_v0610(int elem_bytes) {
  if (elem_bytes != 1)
    throw InputError("interleave_moe_scales_for_sm90_mixed_gemm (v0.6.10) scales",
                     "scales must be uint8 (E8M0); got " + std::to_string(elem_bytes) + "-byte elements");
}
}  // namespace

std::vector<std::uint8_t> sm90_interleave_scales(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                 std::int64_t rows, std::int64_t kg, int group_size, int elem_bytes) {
  if (a == Sm90Interleave::V0616) return sm90_interleave_scales_v0616(in, experts, rows, kg, group_size, elem_bytes);
  require_uint8_v0610(elem_bytes);
  return sm90_interleave_scales_v0610(in, experts, rows, kg, group_size);
}

std::vector<std::uint8_t> sm90_deinterleave_scales(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                   std::int64_t rows, std::int64_t kg, int group_size, int elem_bytes) {
  if (a == Sm90Interleave::V0616) return sm90_deinterleave_scales_v0616(in, experts, rows, kg, group_size, elem_bytes);
  require_uint8_v0610(elem_bytes);
  return sm90_deinterleave_scales_v0610(in, experts, rows, kg, group_size);
}

std::vector<std::uint8_t> sm90_interleave_weights(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                  std::int64_t n, std::int64_t k, Sm90WeightType t) {
  if (a == Sm90Interleave::V0616) return sm90_interleave_weights_v0616(in, experts, n, k, t);
  return sm90_interleave_weights_v0610(in, experts, n, k, t);
}

std::vector<std::uint8_t> sm90_deinterleave_weights(Sm90Interleave a, const std::uint8_t* in, std::int64_t experts,
                                                    std::int64_t n, std::int64_t k, Sm90WeightType t) {
  if (a == Sm90Interleave::V0616) return sm90_deinterleave_weights_v0616(in, experts, n, k, t);
  return sm90_deinterleave_weights_v0610(in, experts, n, k, t);
}

}  // namespace moesim::quant
