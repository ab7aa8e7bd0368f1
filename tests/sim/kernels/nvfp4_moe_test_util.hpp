#pragma once
// Test harness for the NVFP4 MoE variants: ModelOpt-quantized random weights in memory, a
// minimal stage runner on emulated memory (the variant JSON lists stages in dependency order),
// and an independent fp64 reference with a derived error bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/nvfp4.hpp"

namespace moesim::kernels::nvfp4test {

inline double e2m1v(std::uint8_t c) {
  static const double v[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};
  return v[c & 0xF];
}
inline double e4m3v(std::uint8_t b) {
  const int e = (b >> 3) & 0xF, m = b & 7;
  return e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
}

// Per expert: ModelOpt NVFP4 of bf16 master weights (global decode scale amax/2688), kept as
// stored bytes and as exactly dequantized doubles for the reference.
class Nvfp4MemWeights final : public WeightProvider {
 public:
  struct Mat {
    std::int64_t rows, cols;
    std::vector<std::uint8_t> packed, sf;
    float g;
    std::vector<double> deq;  // [rows, cols]
  };
  Nvfp4MemWeights(const MoeProblem& p, std::uint64_t seed) {
    for (std::int64_t e = 0; e < p.num_experts; ++e)
      for (int which = 0; which < 2; ++which) {
        const std::int64_t rows = which == 0 ? p.n1() : p.hidden, cols = which == 0 ? p.hidden : p.intermediate;
        Rng r(seed, static_cast<std::uint64_t>(e * 2 + which));
        std::vector<float> x(static_cast<std::size_t>(rows * cols));
        for (auto& v : x) v = fmt::fast::bf16_to_f32(fmt::fast::f32_to_bf16_rn(static_cast<float>(r.normal() / std::sqrt(double(cols)))));
        quant::GlobalScale gs;
        gs.values = {quant::global_scale_from_amax(quant::Nvfp4Rule::ModelOpt, quant::amax_abs(x.data(), rows * cols))};
        auto q = quant::quantize_nvfp4(x.data(), rows, cols, gs, quant::Nvfp4Rule::ModelOpt);
        Mat m{rows, cols, std::move(q.packed), std::move(q.scales), gs.values[0], {}};
        m.deq.resize(x.size());
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < cols; ++j) {
            const std::uint8_t byte = m.packed[static_cast<std::size_t>(i * (cols / 2) + j / 2)];
            m.deq[static_cast<std::size_t>(i * cols + j)] =
                e2m1v(j % 2 ? byte >> 4 : byte & 0xF) * e4m3v(m.sf[static_cast<std::size_t>(i * (cols / 16) + j / 16)]) * m.g;
          }
        (which == 0 ? w13_ : w2_).push_back(std::move(m));
      }
  }
  ExpertMatrix read(const std::string& which, std::int64_t expert) const override {
    const Mat& m = (which == "w13" ? w13_ : w2_).at(static_cast<std::size_t>(expert));
    ExpertMatrix out;
    out.dtype = "e2m1x2";
    out.rows = m.rows;
    out.cols = m.cols / 2;
    out.bytes = m.packed;
    out.scale_dtype = "ue4m3";
    out.scale_layout = layout;
    out.scale_bytes = quant::sf_to_layout(m.sf.data(), m.rows, m.cols / 16, quant::parse_layout(layout));
    out.global_scale = m.g;
    return out;
  }
  const Mat& mat(const std::string& which, std::int64_t e) const { return (which == "w13" ? w13_ : w2_).at(static_cast<std::size_t>(e)); }
  std::string layout = "linear";  // scale layout served to the kernel (values must not depend on it)

 private:
  std::vector<Mat> w13_, w2_;
};

struct Call {
  MoeProblem p;
  std::vector<std::uint16_t> hidden;
  std::vector<std::int32_t> ids;
  std::vector<float> weights;
};

inline Call make_call(std::int64_t T, std::int64_t E, std::int64_t K, std::int64_t H, std::int64_t I, std::uint64_t seed) {
  Call c;
  c.p.num_tokens = T;
  c.p.num_experts = E;
  c.p.top_k = K;
  c.p.hidden = H;
  c.p.intermediate = I;
  Rng r(seed, 99);
  c.hidden.resize(static_cast<std::size_t>(T * H));
  for (auto& h : c.hidden) h = fmt::fast::f32_to_bf16_rn(static_cast<float>(r.normal()));
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<std::int32_t> chosen;
    float sum = 0;
    std::vector<float> w;
    while (static_cast<std::int64_t>(chosen.size()) < K) {
      const auto e = static_cast<std::int32_t>(r.below(static_cast<std::uint64_t>(E)));
      if (std::find(chosen.begin(), chosen.end(), e) != chosen.end()) continue;
      chosen.push_back(e);
      w.push_back(static_cast<float>(0.1 + r.uniform()));
      sum += w.back();
    }
    for (std::int64_t k = 0; k < K; ++k) {
      c.ids.push_back(chosen[static_cast<std::size_t>(k)]);
      c.weights.push_back(w[static_cast<std::size_t>(k)] / sum);
    }
  }
  return c;
}

struct Run {
  std::map<std::string, EmuBuffer> buffers;
  std::map<std::string, std::int64_t> unwritten;  // declared outputs with unwritten elements
  std::vector<MemoryEvent> events;
  const EmuBuffer& at(const std::string& n) const { return buffers.at(n); }
};

// Runs the stages in listed order (each variant JSON lists them topologically) the way the
// replay executor does: poisoned outputs, written-mask check after each stage.
inline Run run_variant(const VariantSpec& spec, const Call& c, const WeightProvider& w, int threads = 1) {
  Run out;
  MemoryLog log;
  auto& b = out.buffers;
  EmuBuffer h("hidden_states", ElemType::BF16, {c.p.num_tokens, c.p.hidden});
  std::memcpy(h.mutable_data<std::uint16_t>(), c.hidden.data(), c.hidden.size() * 2);
  h.mark_all_written();
  b.emplace("hidden_states", std::move(h));
  EmuBuffer ids("topk_ids", ElemType::I32, {c.p.num_tokens, c.p.top_k});
  std::memcpy(ids.mutable_data<std::int32_t>(), c.ids.data(), c.ids.size() * 4);
  ids.mark_all_written();
  b.emplace("topk_ids", std::move(ids));
  EmuBuffer tw("topk_weights", ElemType::F32, {c.p.num_tokens, c.p.top_k});
  std::memcpy(tw.mutable_data<float>(), c.weights.data(), c.weights.size() * 4);
  tw.mark_all_written();
  b.emplace("topk_weights", std::move(tw));
  auto impl = make_variant_impl(spec);
  for (const StageSpec& st : spec.stages) {
    StageContext ctx{c.p, w, b, log, st, threads};
    impl->run_stage(ctx);
    if (!st.check_written) continue;
    for (const auto& o : st.outputs) {
      const auto it = b.find(o);
      const std::int64_t n = it == b.end() ? -1 : it->second.count_unwritten();
      if (n != 0) out.unwritten[o] = n;
    }
  }
  out.events = log.events();
  return out;
}

// fp64 reference on the dequantized weights and the unquantized bf16 activations, plus a
// per-element error bound derived from the NVFP4 activation quantizations:
//  * an element quantized in a block with amax m and decode global 1/g errs by at most one
//    e2m1 spacing unit at the top binade (m/6, half the spacing 2 between 4 and 6), with the
//    e4m3 scale rounding (2^-4 relative) and e4m3 subnormal scales (2^-10 absolute of the
//    scale, i.e. 6*2^-10/g for elements) on top;
//  * errors propagate linearly through GEMM1 (sum |W1| dx), through SwiGLU with
//    |d(silu(g) u)| <= 1.1 |u| dg + |silu(g)| du + dg du, through GEMM2 (sum |W2| da), times the
//    router weight; each bf16 store adds 2^-8 relative; the fp32 GEMM arithmetic adds 2^-20
//    relative of the sums of |terms|.
struct Reference {
  std::vector<double> out, bound;  // [T, H]
};
inline Reference reference(const Call& c, const Nvfp4MemWeights& w, double a1_scale_decode, double a2_scale_decode) {
  const MoeProblem& p = c.p;
  const std::int64_t H = p.hidden, I = p.intermediate;
  Reference ref;
  ref.out.assign(static_cast<std::size_t>(p.num_tokens * H), 0.0);
  ref.bound.assign(ref.out.size(), 0.0);
  auto quant_err = [](const double* v, std::int64_t n, double decode_g, std::vector<double>& err) {
    err.assign(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t b = 0; b < n / 16; ++b) {
      double m = 0;
      for (int j = 0; j < 16; ++j) m = std::max(m, std::fabs(v[b * 16 + j]));
      const double e = m / 6 * (1 + 0.07) + 6 * std::ldexp(1.0, -10) * decode_g;
      for (int j = 0; j < 16; ++j) err[static_cast<std::size_t>(b * 16 + j)] = e;
    }
  };
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    std::vector<double> x(static_cast<std::size_t>(H)), dx;
    for (std::int64_t j = 0; j < H; ++j) x[static_cast<std::size_t>(j)] = fmt::fast::bf16_to_f32(c.hidden[static_cast<std::size_t>(t * H + j)]);
    quant_err(x.data(), H, a1_scale_decode, dx);
    for (std::int64_t k = 0; k < p.top_k; ++k) {
      const std::int64_t e = c.ids[static_cast<std::size_t>(t * p.top_k + k)];
      const double rw = c.weights[static_cast<std::size_t>(t * p.top_k + k)];
      const auto& w1 = w.mat("w13", e);
      const auto& w2 = w.mat("w2", e);
      std::vector<double> g1(static_cast<std::size_t>(2 * I)), dg1(static_cast<std::size_t>(2 * I));
      for (std::int64_t n = 0; n < 2 * I; ++n) {
        double s = 0, ds = 0, as = 0;
        for (std::int64_t j = 0; j < H; ++j) {
          const double wv = w1.deq[static_cast<std::size_t>(n * H + j)];
          s += wv * x[static_cast<std::size_t>(j)];
          ds += std::fabs(wv) * dx[static_cast<std::size_t>(j)];
          as += std::fabs(wv) * (std::fabs(x[static_cast<std::size_t>(j)]) + dx[static_cast<std::size_t>(j)]);
        }
        g1[static_cast<std::size_t>(n)] = s;
        dg1[static_cast<std::size_t>(n)] = ds + std::ldexp(as, -20);
      }
      std::vector<double> act(static_cast<std::size_t>(I)), dact(static_cast<std::size_t>(I)), qerr;
      for (std::int64_t j = 0; j < I; ++j) {
        const double g = g1[static_cast<std::size_t>(j)], u = g1[static_cast<std::size_t>(I + j)];
        const double dg = dg1[static_cast<std::size_t>(j)], du = dg1[static_cast<std::size_t>(I + j)];
        const double s = g / (1 + std::exp(-g));
        act[static_cast<std::size_t>(j)] = s * u;
        // |silu'| <= 1.1; SFU / fp32 activation arithmetic: 2^-18 relative; bf16 C store (batched): 2^-8.
        dact[static_cast<std::size_t>(j)] = 1.1 * std::fabs(u) * dg + (std::fabs(s) + 1.1 * dg) * du +
                                            std::ldexp(std::fabs(s * u), -18) + std::ldexp((std::fabs(g) + dg) * (std::fabs(u) + du) * 1.1, -7);
      }
      std::vector<double> actp(static_cast<std::size_t>(I));
      for (std::int64_t j = 0; j < I; ++j) actp[static_cast<std::size_t>(j)] = std::fabs(act[static_cast<std::size_t>(j)]) + dact[static_cast<std::size_t>(j)];
      quant_err(actp.data(), I, a2_scale_decode, qerr);
      for (std::int64_t n = 0; n < H; ++n) {
        double s = 0, ds = 0, as = 0;
        for (std::int64_t j = 0; j < I; ++j) {
          const double wv = w2.deq[static_cast<std::size_t>(n * I + j)];
          s += wv * act[static_cast<std::size_t>(j)];
          ds += std::fabs(wv) * (dact[static_cast<std::size_t>(j)] + qerr[static_cast<std::size_t>(j)]);
          as += std::fabs(wv) * actp[static_cast<std::size_t>(j)];
        }
        const std::size_t o = static_cast<std::size_t>(t * H + n);
        ref.out[o] += rw * s;
        // gemm2 bf16 store (2^-8 relative of the row value), router weight in bf16 (2^-8).
        ref.bound[o] += rw * (ds + std::ldexp(as, -20) + std::ldexp(std::fabs(s) + ds, -7));
      }
    }
  }
  for (std::size_t o = 0; o < ref.out.size(); ++o)  // final bf16 cast (and bf16 adds in CuteDSL's scatter-add)
    ref.bound[o] += std::ldexp(std::fabs(ref.out[o]) + ref.bound[o], -7) * static_cast<double>(c.p.top_k);
  return ref;
}

// An ideal NVFP4 pipeline in double, independent of the kernels' fp32 op orders: activations
// quantized per 16-block with global scale 2688/amax (amax over the whole call), e4m3 scale =
// RNE of blockmax*g/6, element = nearest e2m1 (ties to even code) of x*g/scale clamped to 6;
// GEMMs, SwiGLU, router weighting and the top-k sum in double. What remains between a kernel
// emulation and this is near-tie code flips and the kernels' fp32/bf16 roundings, so the
// relative L2 distance must be small (a wrong scale, packing or index gives O(1)).
inline double e2m1_rne(double v) {
  static const double grid[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  const double a = std::min(std::fabs(v), 6.0);
  int best = 0;
  for (int i = 1; i < 8; ++i) {
    const double d = std::fabs(a - grid[i]), db = std::fabs(a - grid[best]);
    if (d < db || (d == db && i % 2 == 0)) best = i;
  }
  return std::copysign(grid[best], v);
}
inline void quantize_ideal(std::vector<double>& v, double g) {
  for (std::size_t b = 0; b + 16 <= v.size(); b += 16) {
    double m = 0;
    for (int j = 0; j < 16; ++j) m = std::max(m, std::fabs(v[b + j]));
    const double sf = e4m3v(fmt::fast::f32_to_e4m3_satfinite(static_cast<float>(m * g / 6)));
    for (int j = 0; j < 16; ++j) v[b + j] = sf == 0 ? 0.0 : e2m1_rne(v[b + j] * g / sf) * sf / g;
  }
}
inline std::vector<double> reference_nvfp4(const Call& c, const Nvfp4MemWeights& w) {
  const MoeProblem& p = c.p;
  const std::int64_t H = p.hidden, I = p.intermediate;
  double xmax = 0;
  for (auto h : c.hidden) xmax = std::max(xmax, std::fabs(static_cast<double>(fmt::fast::bf16_to_f32(h))));
  std::vector<std::vector<double>> act(static_cast<std::size_t>(p.slots()));
  double amax = 0;
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    std::vector<double> x(static_cast<std::size_t>(H));
    for (std::int64_t j = 0; j < H; ++j) x[static_cast<std::size_t>(j)] = fmt::fast::bf16_to_f32(c.hidden[static_cast<std::size_t>(t * H + j)]);
    quantize_ideal(x, 2688 / xmax);
    for (std::int64_t k = 0; k < p.top_k; ++k) {
      const auto& w1 = w.mat("w13", c.ids[static_cast<std::size_t>(t * p.top_k + k)]);
      auto& a = act[static_cast<std::size_t>(t * p.top_k + k)];
      a.resize(static_cast<std::size_t>(I));
      for (std::int64_t j = 0; j < I; ++j) {
        double g = 0, u = 0;
        for (std::int64_t h = 0; h < H; ++h) {
          g += w1.deq[static_cast<std::size_t>(j * H + h)] * x[static_cast<std::size_t>(h)];
          u += w1.deq[static_cast<std::size_t>((I + j) * H + h)] * x[static_cast<std::size_t>(h)];
        }
        a[static_cast<std::size_t>(j)] = g / (1 + std::exp(-g)) * u;
        amax = std::max(amax, std::fabs(a[static_cast<std::size_t>(j)]));
      }
    }
  }
  std::vector<double> out(static_cast<std::size_t>(p.num_tokens * H), 0.0);
  for (std::int64_t s = 0; s < p.slots(); ++s) {
    auto& a = act[static_cast<std::size_t>(s)];
    quantize_ideal(a, 2688 / amax);
    const auto& w2 = w.mat("w2", c.ids[static_cast<std::size_t>(s)]);
    for (std::int64_t n = 0; n < H; ++n) {
      double acc = 0;
      for (std::int64_t j = 0; j < I; ++j) acc += w2.deq[static_cast<std::size_t>(n * I + j)] * a[static_cast<std::size_t>(j)];
      out[static_cast<std::size_t>((s / p.top_k) * H + n)] += c.weights[static_cast<std::size_t>(s)] * acc;
    }
  }
  return out;
}

inline double rel_l2(const EmuBuffer& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < got.size(); ++i) {
    const double d = got.as_double(i) - ref[static_cast<std::size_t>(i)];
    num += d * d;
    den += ref[static_cast<std::size_t>(i)] * ref[static_cast<std::size_t>(i)];
  }
  return std::sqrt(num / den);
}

}  // namespace moesim::kernels::nvfp4test
