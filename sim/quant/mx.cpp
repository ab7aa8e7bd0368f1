#include "sim/quant/mx.hpp"

#include <cmath>
#include <string>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/casts.hpp"
#include "sim/formats/fast.hpp"
#include "sim/quant/e2m1.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::quant {

namespace {

struct ElemInfo {
  int emax;
  int mbits;
  float max;
};
ElemInfo info(MxElem e) {
  switch (e) {
    case MxElem::E2M1: return {2, 1, 6.0f};
    case MxElem::E4M3: return {8, 3, 448.0f};
    case MxElem::E5M2: return {15, 2, 57344.0f};
  }
  return {0, 0, 0};
}

std::uint8_t floor_code(std::uint32_t amax_bits, int emax) {
  int e = static_cast<int>((amax_bits >> 23) & 0xFF) - 127 - emax;
  e = e < -127 ? -127 : (e > 128 ? 128 : e);
  return static_cast<std::uint8_t>(e + 127);
}

std::uint8_t e8m0_rp(float v) {
  static const fmt::Cast& c = fmt::find_cast("cvt.rp.satfinite.ue8m0x2.f32");
  return static_cast<std::uint8_t>(fmt::apply(c, f32_bits(v)));
}

std::uint8_t encode_elem(float v, MxElem e) {
  static const fmt::Cast& e5 = fmt::find_cast("cvt.rn.satfinite.e5m2x2.f32");
  switch (e) {
    case MxElem::E2M1: return e2m1_code(v, E2m1Sign::SignBit);
    case MxElem::E4M3: return fmt::fast::f32_to_e4m3_satfinite(v);
    case MxElem::E5M2: return static_cast<std::uint8_t>(fmt::apply(e5, f32_bits(v)));
  }
  return 0;
}

struct Named {
  MxScaleRule r;
  std::string_view n;
};
constexpr Named kNames[] = {{MxScaleRule::OcpFloor, "ocp-floor"},
                            {MxScaleRule::Rceil, "rceil"},
                            {MxScaleRule::Even, "even"},
                            {MxScaleRule::FlashinferRoundUp, "flashinfer-roundup"},
                            {MxScaleRule::VllmExpTrunc, "vllm-exp-trunc"}};

}  // namespace

std::string_view mx_rule_name(MxScaleRule r) {
  for (const auto& n : kNames)
    if (n.r == r) return n.n;
  return "?";
}
MxScaleRule parse_mx_rule(std::string_view name) {
  std::string known;
  for (const auto& n : kNames) {
    if (n.n == name) return n.r;
    known += (known.empty() ? "" : ", ") + std::string(n.n);
  }
  throw InputError("--rule", "unknown MX scale rule '" + std::string(name) + "' (known: " + known + ")");
}
std::string_view mx_elem_name(MxElem e) { return e == MxElem::E2M1 ? "e2m1" : (e == MxElem::E4M3 ? "e4m3" : "e5m2"); }
MxElem parse_mx_elem(std::string_view name) {
  if (name == "e2m1") return MxElem::E2M1;
  if (name == "e4m3") return MxElem::E4M3;
  if (name == "e5m2") return MxElem::E5M2;
  throw InputError("--elem", "unknown MX element format '" + std::string(name) + "' (known: e2m1, e4m3, e5m2)");
}

std::uint8_t mx_scale_code(float amax, MxElem elem, MxScaleRule rule, float g) {
  const ElemInfo ei = info(elem);
  if (amax != amax) return 0xFF;
  switch (rule) {
    case MxScaleRule::OcpFloor: return floor_code(f32_bits(amax), ei.emax);
    case MxScaleRule::Rceil: return e8m0_rp(amax / ei.max);
    case MxScaleRule::Even: {
      const std::uint32_t add = 1u << (23 - ei.mbits - 1);
      return floor_code((f32_bits(amax) + add) & 0x7F800000u, ei.emax);
    }
    case MxScaleRule::FlashinferRoundUp: return e8m0_rp(amax * rcp_approx_ftz(ei.max));
    case MxScaleRule::VllmExpTrunc: {
      const float sf = g * (amax * rcp_approx_ftz(6.0f));
      return static_cast<std::uint8_t>((f32_bits(sf) >> 23) & 0xFF);
    }
  }
  return 0xFF;
}

MxResult quantize_mx(const float* x, std::int64_t rows, std::int64_t cols, MxElem elem, MxScaleRule rule, int block, float g) {
  if (block != 16 && block != 32) throw InputError("mx", "block size must be 16 or 32, got " + std::to_string(block));
  if (cols % block != 0) throw InputError("mx", "cols=" + std::to_string(cols) + " is not a multiple of the block size " + std::to_string(block));
  if (elem != MxElem::E2M1 && rule == MxScaleRule::VllmExpTrunc) throw InputError("mx", "vllm-exp-trunc is an FP4 (e2m1) rule");
  load_sfu_tables();
  const bool fp4 = elem == MxElem::E2M1;
  MxResult r;
  const std::int64_t kb = cols / block;
  r.data.assign(static_cast<std::size_t>(fp4 ? rows * cols / 2 : rows * cols), 0);
  r.scales.assign(static_cast<std::size_t>(rows * kb), 0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t b = 0; b < kb; ++b) {
      const float* v = x + row * cols + b * block;
      float amax = 0.0f;
      bool nan = false;
      for (int j = 0; j < block; ++j) {
        const float a = std::fabs(v[j]);
        nan |= a != a;
        amax = a > amax ? a : amax;
      }
      const std::uint8_t code = mx_scale_code(nan ? f32_from_bits(0x7FC00000u) : amax, elem, rule, g);
      r.scales[static_cast<std::size_t>(row * kb + b)] = code;
      std::uint8_t q[32];
      for (int j = 0; j < block; ++j) {
        float s;
        switch (rule) {
          case MxScaleRule::FlashinferRoundUp:
            // exp2f_rcp(e) = e == 0 ? 1 : exp2f(127 - e); exact powers of two
            s = amax == 0.0f ? 0.0f : (code == 0 ? 1.0f : std::ldexp(1.0f, 127 - code));
            q[j] = encode_elem(v[j] * s, elem);
            break;
          case MxScaleRule::VllmExpTrunc: {
            const float sfv = f32_from_bits(std::uint32_t(code) << 23);
            s = sfv != 0.0f ? rcp_approx_ftz(sfv * rcp_approx_ftz(g)) : 0.0f;
            q[j] = encode_elem(v[j] * s, elem);
            break;
          }
          default: {
            // torchao to_mx: data / 2^E (a power of two: exact up to fp32 underflow rounding)
            const float scale = code == 0xFF ? f32_from_bits(0x7FC00000u) : fmt::fast::ue8m0_to_f32(code);
            q[j] = encode_elem(v[j] / scale, elem);
            break;
          }
        }
      }
      if (fp4) {
        for (int j = 0; j < block; j += 2)
          r.data[static_cast<std::size_t>((row * cols + b * block + j) / 2)] = static_cast<std::uint8_t>(q[j] | (q[j + 1] << 4));
      } else {
        for (int j = 0; j < block; ++j) r.data[static_cast<std::size_t>(row * cols + b * block + j)] = q[j];
      }
    }
  return r;
}

std::vector<float> dequantize_mx(const MxResult& q, std::int64_t rows, std::int64_t cols, MxElem elem, int block) {
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    const float s = fmt::fast::ue8m0_to_f32(q.scales[static_cast<std::size_t>(i / block)]);
    float v;
    if (elem == MxElem::E2M1) {
      const std::uint8_t byte = q.data[static_cast<std::size_t>(i / 2)];
      v = fmt::fast::e2m1_to_f32((i & 1) ? byte >> 4 : byte & 0xF);
    } else if (elem == MxElem::E4M3) {
      v = fmt::fast::e4m3_to_f32(q.data[static_cast<std::size_t>(i)]);
    } else {
      v = static_cast<float>(fmt::to_double(fmt::kE5M2, q.data[static_cast<std::size_t>(i)]));
    }
    out[static_cast<std::size_t>(i)] = v * s;
  }
  return out;
}

}  // namespace moesim::quant
