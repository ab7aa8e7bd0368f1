// fmt::convert against an independent reference written differently: enumerate every finite
// value of the target format (through fmt::to_double), sort them, and pick the neighbour the
// rounding mode asks for by comparing exact double distances. Exhaustive over every input of
// every <=16-bit source format, for every target, rounding mode and saturation policy; a
// strided + random sample of fp32 inputs (the full 2^32 sweep is bench_formats_exhaustive).
#include "sim/formats/convert.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "sim/core/bits.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"

namespace moesim::fmt {
namespace {

const Semantics* const kNarrow[] = {&kBF16, &kFP16, &kE4M3FN, &kE5M2, &kE2M1, &kUE8M0, &kUE4M3};
const Semantics* const kTargets[] = {&kFP32, &kBF16, &kFP16, &kE4M3FN, &kE5M2, &kE2M1, &kUE8M0, &kUE4M3};
const Rounding kModes[] = {Rounding::RNE, Rounding::RZ, Rounding::RP, Rounding::RM, Rounding::RNA};
const Saturation kSats[] = {Saturation::SatFinite, Saturation::NaNOnOverflow, Saturation::IEEEInf};

struct Entry {
  double v;
  std::uint32_t code;
};

// The reference's view of a target: its non-negative finite values, ascending.
struct RefFormat {
  const Semantics* s;
  std::vector<Entry> pos;
  std::uint32_t nan_code = 0;  // largest positive code decoding to NaN (0 if none)
  std::uint32_t inf_code = 0;  // positive Inf code (0 if none)
  bool has_nan = false, has_inf = false;
  std::uint32_t sign = 0;

  explicit RefFormat(const Semantics& t) : s(&t) {
    const std::uint32_t ncodes = 1u << t.bits;
    sign = t.has_sign ? (1u << (t.bits - 1)) : 0u;
    for (std::uint32_t c = 0; c < ncodes; ++c) {
      if (c & sign) continue;
      const double v = to_double(t, c);
      if (std::isnan(v)) {
        has_nan = true;
        nan_code = std::max(nan_code, c);
      } else if (std::isinf(v)) {
        has_inf = true;
        inf_code = c;
      } else {
        pos.push_back({v, c});
      }
    }
    std::sort(pos.begin(), pos.end(), [](const Entry& a, const Entry& b) { return a.v < b.v; });
  }

  std::uint32_t nan(const ConvertOptions& o, bool neg) const {
    std::uint32_t b = o.nan.bits ? o.nan.bits : (has_nan ? nan_code : pos.back().code);
    if (o.nan.keep_sign && neg) b |= sign;
    return b;
  }

  // IEEE overflow: the result rounded with an unbounded exponent range exceeds the max.
  // toward_zero: the rounding direction pointed at the max (IEEE then delivers the max).
  std::uint32_t overflow(const ConvertOptions& o, bool neg, bool toward_zero) const {
    const std::uint32_t sg = neg ? sign : 0u;
    if (!has_nan) return sg | pos.back().code;
    if (o.saturation == Saturation::SatFinite) return sg | pos.back().code;
    if (o.saturation == Saturation::NaNOnOverflow) return nan(o, neg);
    if (!has_inf) return nan(o, neg);
    return sg | (toward_zero ? pos.back().code : inf_code);
  }

  // x: the exact input value (double holds every format here exactly).
  std::uint32_t convert(double x, const ConvertOptions& o) const {
    const bool neg = std::signbit(x);
    if (std::isnan(x)) return nan(o, neg);
    if (neg && !s->has_sign && x != 0) return has_nan ? nan(o, false) : 0u;
    const std::uint32_t sg = neg ? sign : 0u;
    const double a = std::fabs(x);
    if (std::isinf(a)) {
      if (has_nan && o.saturation == Saturation::IEEEInf && has_inf) return sg | inf_code;
      return overflow(o, neg, false);
    }
    // Neighbours lo <= a <= hi; beyond the max the upper neighbour is the virtual "next" value
    // the exponent range would give (its code is max+1, for the parity of ties).
    const Entry& mx = pos.back();
    const double next = s->man_bits == 0 ? 2 * mx.v : mx.v + (mx.v - pos[pos.size() - 2].v);
    auto it = std::upper_bound(pos.begin(), pos.end(), a, [](double val, const Entry& e) { return val < e.v; });
    // it: first entry > a
    if (it == pos.begin()) return pos.front().code;  // below the smallest value (ue8m0 has no 0)
    const Entry lo = *(it - 1);
    if (lo.v == a) return (lo.v == 0 && !s->has_sign) ? lo.code : (sg | lo.code);
    const bool hi_virtual = it == pos.end();
    const double hv = hi_virtual ? next : it->v;
    const std::uint32_t hc = hi_virtual ? mx.code + 1 : it->code;
    bool up = false;  // pick hi (away from zero in magnitude)?
    switch (o.rounding) {
      case Rounding::RZ: up = false; break;
      case Rounding::RP: up = !neg; break;
      case Rounding::RM: up = neg; break;
      case Rounding::RNE:
      case Rounding::RNA: {
        const double dl = a - lo.v, dh = hv - a;
        if (dl < dh) up = false;
        else if (dh < dl) up = true;
        else up = o.rounding == Rounding::RNA ? true : (lo.code & 1u) != 0;
        break;
      }
    }
    if (up && hi_virtual) return overflow(o, neg, false);
    if (!up && a >= next) return overflow(o, neg, true);  // only reachable with directed rounding
    const std::uint32_t c = up ? hc : lo.code;
    if (c == 0 && !s->has_sign) return 0u;
    return sg | c;
  }
};

std::uint32_t ref_to_fp32(double v, const ConvertOptions& o) {
  if (std::isnan(v)) {
    std::uint32_t b = o.nan.bits ? o.nan.bits : 0x7FFFFFFFu;
    if (o.nan.keep_sign && std::signbit(v)) b |= 0x80000000u;
    return b;
  }
  if (std::isinf(v)) {  // Inf input: the saturation policy applies to Inf as to overflow
    const std::uint32_t sg = std::signbit(v) ? 0x80000000u : 0u;
    if (o.saturation == Saturation::SatFinite) return sg | 0x7F7FFFFFu;
    if (o.saturation == Saturation::NaNOnOverflow) return o.nan.keep_sign ? (sg | 0x7FFFFFFFu) : 0x7FFFFFFFu;
  }
  return f32_bits(static_cast<float>(v));  // exact for every narrow format
}

TEST(Convert, ExhaustiveNarrowSourcesAllTargetsModesSaturations) {
  std::vector<RefFormat> refs;
  for (const Semantics* t : kTargets)
    if (t->bits <= 16) refs.emplace_back(*t);
  for (const Semantics* from : kNarrow) {
    const std::uint32_t n = 1u << from->bits;
    for (std::uint32_t b = 0; b < n; ++b) {
      const double v = to_double(*from, b);
      // to_double gives a positive NaN; the reference needs the input's sign for keep_sign.
      const bool nan_neg = std::isnan(v) && from->has_sign && ((b >> (from->bits - 1)) & 1u);
      const double vs = nan_neg ? -v : v;
      for (Rounding r : kModes)
        for (Saturation sat : kSats) {
          for (bool keep : {false, true}) {
            ConvertOptions o{r, sat, NanPolicy{0, keep}, false};
            ASSERT_EQ(convert(*from, kFP32, b, o), ref_to_fp32(std::isnan(v) ? std::copysign(v, nan_neg ? -1.0 : 1.0) : v, o))
                << from->name << " " << b;
            for (const RefFormat& rf : refs) {
              const std::uint32_t got = convert(*from, *rf.s, b, o);
              const std::uint32_t want = rf.convert(vs, o);
              ASSERT_EQ(got, want) << from->name << "->" << rf.s->name << " in=0x" << std::hex << b << " v=" << v
                                   << " mode=" << rounding_name(r) << " sat=" << saturation_name(sat);
            }
          }
        }
    }
  }
}

TEST(Convert, Fp32SourceStridedAndRandomAgainstReference) {
  std::vector<RefFormat> refs;
  for (const Semantics* t : kTargets)
    if (t->bits <= 16) refs.emplace_back(*t);
  std::vector<std::uint32_t> inputs;
  for (std::uint64_t u = 0; u < (1ull << 32); u += 65537) inputs.push_back(static_cast<std::uint32_t>(u));
  Rng rng(3);
  for (int i = 0; i < 65536; ++i) inputs.push_back(rng.next_u32());
  // Boundary neighbourhoods: every fp32 within 64 ulps of each target value's midpoints.
  for (const RefFormat& rf : refs)
    for (std::size_t i = 0; i + 1 < rf.pos.size(); i += std::max<std::size_t>(1, rf.pos.size() / 512)) {
      const float mid = static_cast<float>((rf.pos[i].v + rf.pos[i + 1].v) / 2);
      for (int d = -3; d <= 3; ++d) {
        inputs.push_back(f32_bits(mid) + d);
        inputs.push_back((f32_bits(mid) + d) | 0x80000000u);
      }
    }
  for (std::uint32_t u : inputs) {
    const float f = f32_from_bits(u);
    const double v = static_cast<double>(f);
    for (Rounding r : kModes)
      for (Saturation sat : kSats) {
        ConvertOptions o{r, sat, NanPolicy{0, true}, false};
        for (const RefFormat& rf : refs)
          ASSERT_EQ(convert(kFP32, *rf.s, u, o), rf.convert(v, o))
              << "fp32->" << rf.s->name << " in=0x" << std::hex << u << " mode=" << rounding_name(r)
              << " sat=" << saturation_name(sat);
      }
  }
}

TEST(Convert, Fp32ToFp16MatchesCompilerConversionStrided) {
  // The compiler's float->_Float16 conversion is IEEE RNE with Inf overflow: a third path.
#ifndef __FLT16_MANT_DIG__
  GTEST_SKIP() << "this compiler has no _Float16 (clang < 15 on x86)";
#else
  const ConvertOptions o{Rounding::RNE, Saturation::IEEEInf, NanPolicy{}, false};
  for (std::uint64_t u = 0; u < (1ull << 32); u += 251) {
    const float f = f32_from_bits(static_cast<std::uint32_t>(u));
    if (f != f) continue;
    const _Float16 h = static_cast<_Float16>(f);
    ASSERT_EQ(convert(kFP32, kFP16, static_cast<std::uint32_t>(u), o), std::bit_cast<std::uint16_t>(h)) << std::hex << u;
  }
#endif
}

TEST(Convert, FastPathsMatchGenericStrided) {
  const ConvertOptions sat{Rounding::RNE, Saturation::SatFinite, NanPolicy{}, false};
  const ConvertOptions ieee{Rounding::RNE, Saturation::IEEEInf, NanPolicy{}, false};
  for (std::uint64_t u64 = 0; u64 < (1ull << 32); u64 += 1021) {
    const auto u = static_cast<std::uint32_t>(u64);
    const float f = f32_from_bits(u);
    ASSERT_EQ(fast::f32_to_e4m3_satfinite(f), convert(kFP32, kE4M3FN, u, sat)) << std::hex << u;
    ASSERT_EQ(fast::f32_to_e2m1_satfinite(f), convert(kFP32, kE2M1, u, sat)) << std::hex << u;
    ASSERT_EQ(fast::f32_to_bf16_rn(f), convert(kFP32, kBF16, u, ieee)) << std::hex << u;
  }
  for (std::uint32_t b = 0; b < 256; ++b) {
    const float f = fast::e4m3_to_f32(static_cast<std::uint8_t>(b));
    const double d = to_double(kE4M3FN, b);
    if (std::isnan(d)) EXPECT_TRUE(std::isnan(f));
    else EXPECT_EQ(static_cast<double>(f), d) << b;
    const float g = fast::ue8m0_to_f32(static_cast<std::uint8_t>(b));
    const double e = to_double(kUE8M0, b);
    if (std::isnan(e)) EXPECT_TRUE(std::isnan(g));
    else EXPECT_EQ(static_cast<double>(g), e) << b;
  }
  for (std::uint32_t c = 0; c < 16; ++c) EXPECT_EQ(static_cast<double>(fast::e2m1_to_f32(static_cast<std::uint8_t>(c))), to_double(kE2M1, c));
}

TEST(Convert, LandmarksFromSpecifications) {
  const ConvertOptions sat{Rounding::RNE, Saturation::SatFinite, NanPolicy{}, false};
  const ConvertOptions torch{Rounding::RNE, Saturation::NaNOnOverflow, NanPolicy{0, true}, false};
  auto e4 = [](float f, const ConvertOptions& o) { return convert(kFP32, kE4M3FN, f32_bits(f), o); };
  EXPECT_EQ(e4(448.0f, sat), 0x7Eu);
  EXPECT_EQ(e4(1e9f, sat), 0x7Eu);
  EXPECT_EQ(e4(-1e9f, sat), 0xFEu);
  EXPECT_EQ(e4(464.0f, torch), 0x7Eu);   // tie -> even (448)
  EXPECT_EQ(e4(464.5f, torch), 0x7Fu);   // rounds to 480: not representable -> NaN
  EXPECT_EQ(e4(-500.0f, torch), 0xFFu);  // sign kept on NaN
  EXPECT_EQ(e4(0x1p-10f, sat), 0x00u);   // half of min subnormal: tie -> even (0)
  EXPECT_EQ(e4(0x1.8p-10f, sat), 0x01u);
  // e2m1 RNE ties from the OCP table: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4.
  const float ties[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
  const std::uint32_t want[] = {0, 2, 2, 4, 4, 6, 6};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(convert(kFP32, kE2M1, f32_bits(ties[i]), sat), want[i]) << ties[i];
  // ue8m0: RZ = floor(log2), RP = ceil(log2)
  const ConvertOptions rz{Rounding::RZ, Saturation::SatFinite, NanPolicy{}, false};
  const ConvertOptions rp{Rounding::RP, Saturation::SatFinite, NanPolicy{}, false};
  EXPECT_EQ(convert(kFP32, kUE8M0, f32_bits(3.0f), rz), 128u);
  EXPECT_EQ(convert(kFP32, kUE8M0, f32_bits(3.0f), rp), 129u);
  EXPECT_EQ(convert(kFP32, kUE8M0, f32_bits(4.0f), rp), 129u);
  EXPECT_EQ(convert(kFP32, kUE8M0, 0x7F7FFFFFu, rp), 0xFEu);  // satfinite: 2^128 not representable
}

}  // namespace
}  // namespace moesim::fmt
