#include "sim/kernels/reference_numerics.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "sim/core/error.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/kernels/weight_dequant.hpp"
#include "sim/mma/gemm.hpp"

namespace moesim::kernels::reference {
namespace {

// R slots x one 8-column panel of W (k-major, [k][8]): every lane is one output's sum in k
// order, acc = acc + a*w with both operations rounded as the scalar loop rounds them (no
// FMA), so the bits equal the scalar loop's; the lanes only run side by side.
template <int R>
__attribute__((target("avx512f"))) void panel_sums(const double* const* a, const double* wp, std::int64_t k, double* out) {
  __m512d acc[R];
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_pd();
  for (std::int64_t j = 0; j < k; ++j) {
    const __m512d w = _mm512_loadu_pd(wp + j * 8);
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r] = _mm512_add_pd(acc[r], _mm512_mul_pd(_mm512_set1_pd(a[r][j]), w));
  }
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) _mm512_storeu_pd(out + r * 8, acc[r]);
}

void panel_sums_n(int R, const double* const* a, const double* wp, std::int64_t k, double* out) {
  switch (R) {
    case 8: return panel_sums<8>(a, wp, k, out);
    case 7: return panel_sums<7>(a, wp, k, out);
    case 6: return panel_sums<6>(a, wp, k, out);
    case 5: return panel_sums<5>(a, wp, k, out);
    case 4: return panel_sums<4>(a, wp, k, out);
    case 3: return panel_sums<3>(a, wp, k, out);
    case 2: return panel_sums<2>(a, wp, k, out);
    default: return panel_sums<1>(a, wp, k, out);
  }
}

class ReferenceVariant final : public VariantImpl {
 public:
  explicit ReferenceVariant(const VariantSpec& spec) : spec_(spec) {}

  void run_stage(StageContext& ctx) override {
    const std::string& kind = ctx.stage.kind;
    const MoeProblem& p = ctx.problem;
    if (kind == "gemm1") return gemm(ctx, "w13", p.n1(), p.hidden, true, false);
    if (kind == "gemm2") return gemm(ctx, "w2", p.hidden, p.intermediate, false, true);
    if (kind == "activation") return activation(ctx);
    if (kind == "finalize") return finalize(ctx);
    throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by the reference_fp64 family");
  }

 private:
  static double load(const EmuBuffer& b, std::int64_t i, StageContext& ctx) {
    if (i < 0 || i >= b.size()) {
      ctx.log.record({MemoryEvent::Kind::OobRead, b.name(), ctx.stage.id, i, b.size()});
      return std::nan("");
    }
    return b.as_double(i);
  }

  // out[slot, n] = sum_k A[row(slot), k] * W_e[n, k] (* weight), e = topk_ids[slot].
  void gemm(StageContext& ctx, const char* which, std::int64_t n, std::int64_t k, bool a_is_tokens,
            bool weighted) {
    const MoeProblem& p = ctx.problem;
    EmuBuffer& a = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer* tw = weighted ? &ctx.in(ctx.stage.inputs.at(2)) : nullptr;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::F64, {p.slots(), n});
    std::vector<std::vector<std::int64_t>> slots_of(static_cast<std::size_t>(p.num_experts));
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      const std::int32_t e = ids.get<std::int32_t>(s, ctx.log, ctx.stage.id);
      if (e >= 0 && e < p.num_experts) slots_of[e].push_back(s);
      else ctx.log.record({MemoryEvent::Kind::OobRead, which, ctx.stage.id, std::int64_t(e) * n * k, p.num_experts * n * k});
    }
    for (std::int64_t e = 0; e < p.num_experts; ++e) {
      const auto& slots = slots_of[e];
      if (slots.empty()) continue;
      // Weights enter as the exact real values they stand for (bf16, fp8 x scale, FP4 x block
      // scale x global scale); activations stay the bf16 the layer received.
      const std::string where = std::string(which) + "[" + std::to_string(e) + "]";
      const ExpertMatrix m = ctx.weights.read(which, e);
      const std::vector<double> wd = dequantize_exact(m, n, k, where);
      // Expert biases (gpt-oss): the f32 values exactly, added to the GEMM's sum before the
      // activation (GEMM1) or before the router weight (GEMM2), as the kernels' epilogues do
      // (triton_kernels _matmul_ogs.py:383-422: acc + bias, then swiglu / * gammas).
      std::vector<double> bias;
      if (p.has_bias) {
        if (static_cast<std::int64_t>(m.bias.size()) != n)
          throw InputError(where, "expected " + std::to_string(n) + " bias values, got " + std::to_string(m.bias.size()));
        bias.assign(m.bias.begin(), m.bias.end());
      }
      const double* bp = bias.empty() ? nullptr : bias.data();
      if (mma::best_path() == mma::SimdPath::AVX512) {
        gemm_lanes(ctx, a, tw, out, slots, wd, bp, n, k, a_is_tokens, weighted);
        continue;
      }
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (std::size_t si = 0; si < slots.size(); ++si) {
        const std::int64_t s = slots[si];
        const std::int64_t row = a_is_tokens ? s / p.top_k : s;
        std::vector<double> av(static_cast<std::size_t>(k));
        for (std::int64_t j = 0; j < k; ++j) av[j] = load(a, row * k + j, ctx);
        const double wgt = tw ? tw->as_double(s) : 1.0;
        double* dst = out.write_span<double>(s * n, n, ctx.log, ctx.stage.id);
        if (!dst) continue;
        for (std::int64_t c = 0; c < n; ++c) {
          const double* wr = wd.data() + c * k;
          double acc = 0.0;
          for (std::int64_t j = 0; j < k; ++j) acc += av[j] * wr[j];
          if (bp) acc += bp[c];
          dst[c] = weighted ? acc * wgt : acc;
        }
      }
    }
  }

  // The same sums, 8 output columns per AVX-512 register and 8 slots per W load (W repacked
  // k-major in 8-column panels); bit-identical to the scalar loop above (MOESIM_SIMD=scalar
  // selects that one; tests/sim/kernels/reference_numerics_test.cpp compares them).
  void gemm_lanes(StageContext& ctx, EmuBuffer& a, EmuBuffer* tw, EmuBuffer& out, const std::vector<std::int64_t>& slots,
                  const std::vector<double>& wd, const double* bp, std::int64_t n, std::int64_t k, bool a_is_tokens, bool weighted) {
    const MoeProblem& p = ctx.problem;
    const std::int64_t panels = (n + 7) / 8;
    std::vector<double> wp(static_cast<std::size_t>(panels * k * 8), 0.0);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t q = 0; q < panels; ++q)
      for (std::int64_t lane = 0; lane < 8 && q * 8 + lane < n; ++lane)
        for (std::int64_t j = 0; j < k; ++j) wp[(q * k + j) * 8 + lane] = wd[(q * 8 + lane) * k + j];
    const std::int64_t groups = (static_cast<std::int64_t>(slots.size()) + 7) / 8;
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t gi = 0; gi < groups; ++gi) {
      const int R = static_cast<int>(std::min<std::int64_t>(8, static_cast<std::int64_t>(slots.size()) - gi * 8));
      std::vector<double> av(static_cast<std::size_t>(R * k));
      const double* arow[8];
      double* dst[8];
      double wgt[8];
      for (int r = 0; r < R; ++r) {
        const std::int64_t s = slots[static_cast<std::size_t>(gi * 8 + r)];
        const std::int64_t row = a_is_tokens ? s / p.top_k : s;
        for (std::int64_t j = 0; j < k; ++j) av[r * k + j] = load(a, row * k + j, ctx);
        arow[r] = av.data() + r * k;
        wgt[r] = tw ? tw->as_double(s) : 1.0;
        dst[r] = out.write_span<double>(s * n, n, ctx.log, ctx.stage.id);
      }
      double sums[64];
      for (std::int64_t q = 0; q < panels; ++q) {
        panel_sums_n(R, arow, wp.data() + q * k * 8, k, sums);
        for (int r = 0; r < R; ++r) {
          if (!dst[r]) continue;
          for (std::int64_t lane = 0; lane < 8 && q * 8 + lane < n; ++lane) {
            const double acc = bp ? sums[r * 8 + lane] + bp[q * 8 + lane] : sums[r * 8 + lane];  // no bias: bits unchanged (-0 stays -0)
            dst[r][q * 8 + lane] = weighted ? acc * wgt[r] : acc;
          }
        }
      }
    }
  }

  // gpt-oss's clamped SwiGLU in double: gate = min(gate, limit), up = clamp(up, -limit, limit),
  // out = gate * sigmoid(alpha * gate) * (up + 1), alpha 1.702, limit 7.0 (GOSS:
  // gpt_oss/torch/model.py:249-256 `swiglu`; the kernel's form is triton_kernels
  // swiglu_details/_swiglu.py:39-53 with the same constants, models/kernels/triton_kernels_mxfp4_sm90.json).
  // Gate and up are the canonical [gate; up] halves of GEMM1's output (the checkpoint's
  // interleaved rows are de-interleaved on import).
  static double swigluoai(double gate, double up, double alpha, double limit) {
    const double g = std::min(gate, limit), u = std::clamp(up, -limit, limit);
    return g / (1.0 + std::exp(-alpha * g)) * (u + 1.0);
  }


  void activation(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const bool oai = p.activation == "swigluoai";
    if (!p.gated || (p.activation != "silu" && !oai))
      throw InputError(spec_.file, "reference_fp64 activation implements gated silu and swigluoai only, trace has " +
                                       std::string(p.gated ? "gated " : "non-gated ") + p.activation);
    const double alpha = spec_.param_double("swiglu_alpha", 1.702), limit = spec_.param_double("swiglu_limit", 7.0);
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t d = p.intermediate;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::F64, {p.slots(), d});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      double* dst = out.write_span<double>(s * d, d, ctx.log, ctx.stage.id);
      if (!dst) continue;
      for (std::int64_t j = 0; j < d; ++j) {
        const double g = load(in, s * 2 * d + j, ctx), u = load(in, s * 2 * d + d + j, ctx);
        dst[j] = oai ? swigluoai(g, u, alpha, limit) : g / (1.0 + std::exp(-g)) * u;
      }
    }
  }

  void finalize(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t h = p.hidden;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::F64, {p.num_tokens, h});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t t = 0; t < p.num_tokens; ++t) {
      double* dst = out.write_span<double>(t * h, h, ctx.log, ctx.stage.id);
      if (!dst) continue;
      for (std::int64_t j = 0; j < h; ++j) {
        double acc = 0.0;
        for (std::int64_t k = 0; k < p.top_k; ++k) acc += load(in, (t * p.top_k + k) * h + j, ctx);
        dst[j] = acc;
      }
    }
  }

  VariantSpec spec_;
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) { return std::make_unique<ReferenceVariant>(spec); }

}  // namespace moesim::kernels::reference
