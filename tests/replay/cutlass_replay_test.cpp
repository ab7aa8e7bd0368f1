// FlashInfer CUTLASS fused-MoE variants replayed end to end on small synthetic problems: every
// stage against an fp64 formula on that stage's own inputs with a derived error bound, thread
// determinism, the bf16 GEMM1 against the H100 Triton goldens, the MXFP4 SM90 interleave read
// back through the inverse map, emulated-memory findings, and the CLI.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <boost/json.hpp>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/cutlass_moe_numerics.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/layout.hpp"
#include "traces/trace_io.hpp"

#include "tests/support/cli_run.hpp"

namespace moesim::replay {
namespace {

using kernels::EmuBuffer;
using kernels::ExpertMatrix;

kernels::MoeProblem problem(std::int64_t T, std::int64_t K, std::int64_t E, std::int64_t H, std::int64_t I) {
  kernels::MoeProblem p;
  p.num_tokens = T;
  p.top_k = K;
  p.num_experts = E;
  p.hidden = H;
  p.intermediate = I;
  return p;
}

// ---- Error bounds (derivations in the comments; none is measured from the code under test).
//
// A chained T-FDPA step over L products plus C with F fraction bits kept below 2^e_max
// (e_max = floor(log2 of the largest term)) truncates each of the L+1 terms by less than
// 2^(e_max-F) <= 2^-F * max|term|, then rounds toward zero to the accumulator format with
// p fraction bits (relative error < 2^-p). The terms of a step are bounded by |C| + sum|a*b|,
// and |C| by the absolute sum S of all earlier products (plus earlier errors), so after
// `steps` steps |acc - exact| <= steps * ((L+1) 2^-F + 2^-(p-1)) * S  (first order, the
// factor 2 on the rounding term covers the higher-order part).
double chain_gamma(std::int64_t k, int l, int f, int p) {
  const std::int64_t steps = (k + l - 1) / l;
  return static_cast<double>(steps) * ((l + 1) * std::ldexp(1.0, -f) + std::ldexp(1.0, -(p - 1)));
}
constexpr double kBf16Half = 0x1p-8;  // RNE to bf16 (7 fraction bits): relative error <= 2^-8 (normal range)
constexpr double kTiny = 0x1p-120;    // absolute slack for ftz / subnormal flushes

// Sigmoid under fast-math (see tests/sim/kernels/cutlass_moe_numerics_test.cpp for the
// derivation): relative error <= |x| 2^-24 + 2^-22 + 2^-24 + 2^-23.
double sigmoid_rel(double x) { return std::fabs(x) * 0x1p-24 + 0x1p-22 + 0x1p-24 + 0x1p-23; }

double val(const EmuBuffer& b, std::int64_t i) { return b.as_double(i); }

// Exact weights as doubles, from the provider (the test's own input, not the code under test).
struct DenseWeights {
  std::vector<double> w;  // [n, k]
  std::int64_t n = 0, k = 0;
  double at(std::int64_t r, std::int64_t c) const { return w[static_cast<std::size_t>(r * k + c)]; }
};

// ---- Stage checks shared by the variants --------------------------------------------------

// GEMM rows: out[slot, col] ~ alpha_e * sum_j a[row(slot), j] * W_e[col, j] for routed slots.
// `w13_swap`: none (canonical [gate; up] rows are what the provider gives).
template <class WeightsFn, class AlphaFn>
void check_gemm(const kernels::MoeProblem& p, const CallInputs& call, const EmuBuffer& a, bool a_is_tokens,
                const EmuBuffer& out, std::int64_t n, std::int64_t k, WeightsFn weights_of, AlphaFn alpha_of,
                double gamma, double out_rel, const char* what) {
  for (std::int64_t e = 0; e < p.num_experts; ++e) {
    const DenseWeights w = weights_of(e);
    const double alpha = alpha_of(e);
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (call.topk_ids[s] != e) continue;
      const std::int64_t row = a_is_tokens ? s / p.top_k : s;
      for (std::int64_t c = 0; c < n; ++c) {
        double exact = 0, abs_sum = 0;
        for (std::int64_t j = 0; j < k; ++j) {
          const double t = val(a, row * k + j) * w.at(c, j);
          exact += t;
          abs_sum += std::fabs(t);
        }
        exact *= alpha;
        abs_sum *= alpha;
        const double got = val(out, s * n + c);
        const double bound = gamma * abs_sum + out_rel * (std::fabs(exact) + gamma * abs_sum) + kTiny;
        ASSERT_LE(std::fabs(got - exact), bound) << what << " slot " << s << " col " << c << " exact " << exact;
      }
    }
  }
}

// Swiglu on the stage's own bf16 inputs: out = silu(g) * u * q, then the output rounding
// (relative out_rel plus absolute out_abs for the format's subnormal spacing).
void check_activation(const kernels::MoeProblem& p, const EmuBuffer& g1, const EmuBuffer& act, double q,
                      double out_rel, double out_abs) {
  const std::int64_t d = p.intermediate;
  for (std::int64_t s = 0; s < p.slots(); ++s)
    for (std::int64_t j = 0; j < d; ++j) {
      const double g = val(g1, s * 2 * d + j), u = val(g1, s * 2 * d + d + j);
      const double exact = g / (1.0 + std::exp(-g)) * u * q;
      const double pre = std::fabs(exact) * (sigmoid_rel(g) + 3 * 0x1p-24) * 1.01;  // + three fp32 multiplies
      const double bound = pre + out_rel * (std::fabs(exact) + pre) + out_abs + kTiny;
      ASSERT_LE(std::fabs(val(act, s * d + j) - exact), bound) << "activation slot " << s << " j " << j;
    }
}

// finalize: out[t] = sum_k s_k * fc2[t*K + k] with one fma per k (each rounding < 2^-24 of the
// running |sum|, bounded by the absolute sum), then bf16.
void check_finalize(const kernels::MoeProblem& p, const CallInputs& call, const EmuBuffer& fc2, const EmuBuffer& out) {
  for (std::int64_t t = 0; t < p.num_tokens; ++t)
    for (std::int64_t h = 0; h < p.hidden; ++h) {
      double exact = 0, abs_sum = 0;
      for (std::int64_t k = 0; k < p.top_k; ++k) {
        const double v = call.topk_weights[t * p.top_k + k] * val(fc2, (t * p.top_k + k) * p.hidden + h);
        exact += v;
        abs_sum += std::fabs(v);
      }
      const double pre = p.top_k * 0x1p-24 * abs_sum;
      const double bound = pre + kBf16Half * (std::fabs(exact) + pre) + kTiny;
      ASSERT_LE(std::fabs(val(out, t * p.hidden + h) - exact), bound) << "finalize t " << t << " h " << h;
    }
}

const EmuBuffer& buf(const ReplayResult& r, const std::string& name) {
  auto it = r.buffers.find(name);
  if (it == r.buffers.end()) throw std::runtime_error("no buffer " + name);
  return it->second;
}

// ---- bf16 ---------------------------------------------------------------------------------

DenseWeights dense_bf16(const kernels::WeightProvider& w, const std::string& which, std::int64_t e) {
  const ExpertMatrix m = w.read(which, e);
  DenseWeights d;
  d.n = m.rows;
  d.k = m.cols;
  d.w.resize(static_cast<std::size_t>(m.rows * m.cols));
  for (std::int64_t i = 0; i < m.rows * m.cols; ++i) d.w[i] = fmt::fast::bf16_to_f32(m.bf16()[i]);
  return d;
}

TEST(CutlassReplay, Bf16StagesWithinDerivedBounds) {
  const auto p = problem(13, 3, 5, 64, 48);
  const CallInputs call = synth_call(p, 21);
  const SyntheticWeights w(p, 4, 1.0);
  const auto spec = kernels::find_variant("flashinfer_cutlass_bf16");
  ReplayOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const ReplayResult r = run_replay(spec, call, w, two);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().id << ": " << r.findings.front().formula;
  EXPECT_EQ(r.output().bytes(), run_replay(spec, call, w, one).output().bytes());  // thread count
  EXPECT_EQ(r.stage_order, (std::vector<std::string>{"route", "permute", "gemm1", "activation", "fc2", "finalize"}));
  const double g1 = chain_gamma(p.hidden, 16, 25, 24), g2 = chain_gamma(p.intermediate, 16, 25, 24);
  auto one_alpha = [](std::int64_t) { return 1.0; };
  check_gemm(p, call, buf(r, "hidden_states"), true, buf(r, "gemm1_out"), p.n1(), p.hidden,
             [&](std::int64_t e) { return dense_bf16(w, "w13", e); }, one_alpha, g1, kBf16Half, "gemm1");
  check_activation(p, buf(r, "gemm1_out"), buf(r, "act_out"), 1.0, kBf16Half, 0.0);
  check_gemm(p, call, buf(r, "act_out"), false, buf(r, "fc2_out"), p.hidden, p.intermediate,
             [&](std::int64_t e) { return dense_bf16(w, "w2", e); }, one_alpha, g2, kBf16Half, "fc2");
  check_finalize(p, call, buf(r, "fc2_out"), r.output());
  // Stage-by-stage against the fp64 reference: gemm1 and activation are compared (same
  // semantics), fc2 has no counterpart (unscaled rows), the output is compared.
  const ReplayResult ref = run_replay(kernels::find_variant("reference_fp64"), call, w, two);
  const ReplayDiff d = diff_replays(r, ref, call);
  EXPECT_EQ(*d.first_divergence, "gemm1");
  EXPECT_TRUE(d.output_compared);
}

// The CUTLASS bf16 GEMM1 is the same in-order wgmma chain from K=0 as vLLM's Triton
// fused_moe_kernel (acc_chained), and both epilogues are one RNE cast; the CUTLASS epilogue
// additionally multiplies by alpha = 1 under ftz. So gemm1_out must equal the H100 Triton
// golden bit for bit wherever the accumulator is not subnormal (and there exactly 0).
TEST(CutlassReplay, Bf16Gemm1EqualsTritonH100Goldens) {
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(MOESIM_TEST_DATA_DIR) / "golden"))
    if (e.path().filename().string().rfind("triton_bf16_", 0) == 0) paths.push_back(e.path().string());
  ASSERT_GE(paths.size(), 4u);
  const auto spec = kernels::find_variant("flashinfer_cutlass_bf16");
  std::int64_t compared = 0;
  for (const auto& path : paths) {
    SCOPED_TRACE(path);
    const traces::Trace t = traces::read_trace(path);
    const CallInputs call = call_inputs_from_trace(t, 0);
    const auto golden = golden_from_trace(t, 0);
    const auto weights = open_trace_weights(path);
    const ReplayResult r = run_replay(spec, call, *weights);
    ASSERT_TRUE(r.findings.empty());
    const EmuBuffer& mine = buf(r, "gemm1_out");
    const EmuBuffer& gold = golden.at("gemm1_out");
    ASSERT_EQ(mine.size(), gold.size());
    for (std::int64_t i = 0; i < mine.size(); ++i) {
      const std::uint16_t g = static_cast<std::uint16_t>(gold.raw_bits(i));
      const bool subnormal = (g & 0x7F80) == 0 && (g & 0x7F) != 0;
      if (subnormal) {
        EXPECT_EQ(mine.raw_bits(i), 0u) << i;
        continue;
      }
      ASSERT_EQ(mine.raw_bits(i), gold.raw_bits(i)) << "element " << i;
      ++compared;
    }
  }
  EXPECT_GT(compared, 10000);
}

// ---- fp8 per-tensor (in-memory weights: synth makes 128x128 block scales only) -------------

class Fp8Weights final : public kernels::WeightProvider {
 public:
  Fp8Weights(const kernels::MoeProblem& p, std::uint64_t seed) : p_(p), seed_(seed) {}
  ExpertMatrix read(const std::string& which, std::int64_t e) const override {
    const bool w13 = which == "w13";
    const std::int64_t n = w13 ? p_.n1() : p_.hidden, k = w13 ? p_.hidden : p_.intermediate;
    Rng r(seed_ + static_cast<std::uint64_t>(e) * 2 + (w13 ? 0 : 1));
    std::vector<float> x(static_cast<std::size_t>(n * k));
    for (auto& v : x) v = static_cast<float>((r.uniform() * 2 - 1) / std::sqrt(static_cast<double>(k)));
    const auto q = quant::quantize_fp8(x.data(), n, k, quant::Fp8Granularity::PerTensor);
    ExpertMatrix m;
    m.dtype = "fp8_e4m3fn";
    m.rows = n;
    m.cols = k;
    m.bytes = q.data;
    m.scale = q.scales;
    m.scale_shape = {1};
    return m;
  }

 private:
  kernels::MoeProblem p_;
  std::uint64_t seed_;
};

DenseWeights dense_fp8(const kernels::WeightProvider& w, const std::string& which, std::int64_t e) {
  const ExpertMatrix m = w.read(which, e);
  DenseWeights d;
  d.n = m.rows;
  d.k = m.cols;
  d.w.resize(m.bytes.size());
  for (std::size_t i = 0; i < m.bytes.size(); ++i) d.w[i] = fmt::fast::e4m3_to_f32(m.bytes[i]);
  return d;
}

TEST(CutlassReplay, Fp8PerTensorStagesWithinDerivedBounds) {
  const auto p = problem(11, 2, 4, 96, 48);
  const CallInputs call = synth_call(p, 8);
  const Fp8Weights w(p, 77);
  auto spec = kernels::find_variant("flashinfer_cutlass_fp8");
  const double a1 = 0.03125, a2 = 0.0078125;
  spec.params["a1_scale"] = a1;
  spec.params["a2_scale"] = a2;
  const ReplayResult r = run_replay(spec, call, w);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().id << ": " << r.findings.front().formula;
  // Input quantization: e4m3 keeps 3 fraction bits (relative error <= 2^-4) above 2^-6 and
  // absolute error <= 2^-10 below; saturation at 448 is not reached (|x|/a1 < 448 here).
  const EmuBuffer& q = buf(r, "hidden_fp8");
  for (std::int64_t i = 0; i < q.size(); ++i) {
    const double x = fmt::fast::bf16_to_f32(call.hidden_states[i]) / a1;
    ASSERT_LT(std::fabs(x), 448.0);
    ASSERT_LE(std::fabs(q.as_double(i) - x), std::fabs(x) * 0x1p-4 + 0x1p-10) << i;
  }
  // GEMM1 on the quantized input: FP8FastAccum chain (L=32, F=13, RZ to 13 fraction bits),
  // alpha = w_scale * a1 (one fp32 multiply, 2^-24, folded into the 1.01 factor).
  const double g1 = chain_gamma(p.hidden, 32, 13, 14) * 1.01, g2 = chain_gamma(p.intermediate, 32, 13, 14) * 1.01;
  auto alpha1 = [&](std::int64_t e) { return static_cast<double>(w.read("w13", e).scale[0] * static_cast<float>(a1)); };
  auto alpha2 = [&](std::int64_t e) { return static_cast<double>(w.read("w2", e).scale[0] * static_cast<float>(a2)); };
  check_gemm(p, call, q, true, buf(r, "gemm1_out"), p.n1(), p.hidden, [&](std::int64_t e) { return dense_fp8(w, "w13", e); },
             alpha1, g1, kBf16Half, "gemm1");
  // Activation requantized to e4m3 with fc2_quant = 1/a2 (exact: a power of two here).
  check_activation(p, buf(r, "gemm1_out"), buf(r, "act_fp8"), 1.0 / a2, 0x1p-4, 0x1p-10);
  check_gemm(p, call, buf(r, "act_fp8"), false, buf(r, "fc2_out"), p.hidden, p.intermediate,
             [&](std::int64_t e) { return dense_fp8(w, "w2", e); }, alpha2, g2, kBf16Half, "fc2");
  check_finalize(p, call, buf(r, "fc2_out"), r.output());
}

TEST(CutlassReplay, Fp8RejectsBlockScaledWeights) {
  const auto p = problem(3, 2, 4, 64, 32);
  const CallInputs call = synth_call(p, 8);
  const SyntheticWeights w(p, 4, 1.0);  // bf16 weights where fp8 is expected
  EXPECT_THROW(run_replay(kernels::find_variant("flashinfer_cutlass_fp8"), call, w), InputError);
}

// ---- MXFP4 x bf16 (W4A16, SM90 interleave) --------------------------------------------------

struct Mxfp4Expert {
  std::vector<std::uint8_t> packed;  // [n, k/2] logical
  std::vector<std::uint8_t> scales;  // [n, k/32] logical ue8m0
};

class Mxfp4Weights final : public kernels::WeightProvider {
 public:
  Mxfp4Weights(const kernels::MoeProblem& p, std::uint64_t seed, bool interleaved)
      : p_(p), seed_(seed), interleaved_(interleaved) {}
  Mxfp4Expert logical(const std::string& which, std::int64_t e) const {
    const bool w13 = which == "w13";
    const std::int64_t n = w13 ? p_.n1() : p_.hidden, k = w13 ? p_.hidden : p_.intermediate;
    Rng r(seed_ + static_cast<std::uint64_t>(e) * 2 + (w13 ? 0 : 1));
    Mxfp4Expert x;
    x.packed.resize(static_cast<std::size_t>(n * k / 2));
    for (auto& b : x.packed) b = static_cast<std::uint8_t>(r.next_u32() & 0xFF);
    x.scales.resize(static_cast<std::size_t>(n * k / 32));
    for (auto& s : x.scales) s = static_cast<std::uint8_t>(118 + r.next_u32() % 8);  // 2^-9 .. 2^-2
    return x;
  }
  ExpertMatrix read(const std::string& which, std::int64_t e) const override {
    const bool w13 = which == "w13";
    const std::int64_t n = w13 ? p_.n1() : p_.hidden, k = w13 ? p_.hidden : p_.intermediate;
    Mxfp4Expert x = logical(which, e);
    if (interleaved_) {
      x.packed = quant::sm90_interleave_weights_v0610(x.packed.data(), 1, n, k, quant::Sm90WeightType::Fp4);
      x.scales = quant::sm90_interleave_scales_v0610(x.scales.data(), 1, n, k / 32, 32);
    }
    ExpertMatrix m;
    m.dtype = "e2m1x2";
    m.rows = n;
    m.cols = k / 2;
    m.bytes = std::move(x.packed);
    for (std::uint8_t s : x.scales) m.scale.push_back(fmt::fast::ue8m0_to_f32(s));
    return m;
  }

 private:
  kernels::MoeProblem p_;
  std::uint64_t seed_;
  bool interleaved_;
};

TEST(CutlassReplay, Mxfp4InterleavedWeightsReadBackAndStagesWithinDerivedBounds) {
  const auto p = problem(9, 2, 3, 128, 128);  // interleave: n % 16 == 0, k % 64 == 0, (k/32) % 4 == 0
  const CallInputs call = synth_call(p, 5);
  const Mxfp4Weights inter(p, 9, true), linear(p, 9, false);
  const auto spec = kernels::find_variant("flashinfer_cutlass_mxfp4_bf16_sm90");
  kernels::VariantSpec spec_linear = spec;
  spec_linear.params["weight_layout"] = "linear";
  const ReplayResult r = run_replay(spec, call, inter);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().id << ": " << r.findings.front().formula;
  // The interleaved weights read back through the v0.6.10 inverse give the same bits as the
  // logical weights read directly.
  const ReplayResult rl = run_replay(spec_linear, call, linear);
  EXPECT_EQ(buf(r, "gemm1_out").bytes(), buf(rl, "gemm1_out").bytes());
  EXPECT_EQ(r.output().bytes(), rl.output().bytes());
  // The packed per-group GEMM path equals the one-output helper w4a16_mxfp4_dot bit for bit.
  for (std::int64_t e = 0; e < p.num_experts; ++e) {
    const Mxfp4Expert x = linear.logical("w13", e);
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (call.topk_ids[s] != e) continue;
      kernels::Bf16Row arow, wrow;
      kernels::decode_bf16_row(call.hidden_states.data() + (s / p.top_k) * p.hidden, p.hidden, arow);
      for (std::int64_t col = 0; col < p.n1(); col += 37) {
        std::vector<std::uint16_t> wb(static_cast<std::size_t>(p.hidden));
        for (std::int64_t j = 0; j < p.hidden; ++j) {
          const std::uint8_t byte = x.packed[static_cast<std::size_t>((col * p.hidden + j) / 2)];
          wb[j] = fmt::fast::f32_to_bf16_rn(fmt::fast::e2m1_to_f32(j % 2 ? byte >> 4 : byte & 0xF));
        }
        kernels::decode_bf16_row(wb.data(), p.hidden, wrow);
        const float acc = kernels::cutlass::w4a16_mxfp4_dot(arow, wrow, x.scales.data() + col * (p.hidden / 32), p.hidden);
        ASSERT_EQ(buf(r, "gemm1_out").raw_bits(s * p.n1() + col), kernels::cutlass::epilogue_bf16(acc, 1.0f));
      }
    }
  }
  // Reading interleaved weights as if linear scrambles them: the replay must notice.
  const ReplayResult wrong = run_replay(spec_linear, call, inter);
  EXPECT_NE(buf(wrong, "gemm1_out").bytes(), buf(rl, "gemm1_out").bytes());
  // Dequantized logical weights: w = e2m1 * 2^(s-127) (exact in double).
  auto dense = [&](const std::string& which, std::int64_t e) {
    const Mxfp4Expert x = linear.logical(which, e);
    DenseWeights d;
    d.n = which == "w13" ? p.n1() : p.hidden;
    d.k = which == "w13" ? p.hidden : p.intermediate;
    d.w.resize(static_cast<std::size_t>(d.n * d.k));
    for (std::int64_t rr = 0; rr < d.n; ++rr)
      for (std::int64_t j = 0; j < d.k; ++j) {
        const std::uint8_t byte = x.packed[static_cast<std::size_t>(rr * d.k / 2 + j / 2)];
        const double v = fmt::fast::e2m1_to_f32(j % 2 ? byte >> 4 : byte & 0xF);
        d.w[rr * d.k + j] = std::ldexp(v, x.scales[static_cast<std::size_t>(rr * d.k / 32 + j / 32)] - 127);
      }
    return d;
  };
  // Per 32-group: a 2-step bf16 chain (gamma over 32 elements, relative to that group's
  // absolute sum, which the power-of-two scale multiplies exactly), then one fma per group
  // (2^-24 of the running absolute sum each): gamma = chain_gamma(32) + groups * 2^-24.
  auto one = [](std::int64_t) { return 1.0; };
  const double g1 = chain_gamma(32, 16, 25, 24) + (p.hidden / 32) * 0x1p-24;
  const double g2 = chain_gamma(32, 16, 25, 24) + (p.intermediate / 32) * 0x1p-24;
  check_gemm(p, call, buf(r, "hidden_states"), true, buf(r, "gemm1_out"), p.n1(), p.hidden,
             [&](std::int64_t e) { return dense("w13", e); }, one, g1, kBf16Half, "gemm1");
  check_activation(p, buf(r, "gemm1_out"), buf(r, "act_out"), 1.0, kBf16Half, 0.0);
  check_gemm(p, call, buf(r, "act_out"), false, buf(r, "fc2_out"), p.hidden, p.intermediate,
             [&](std::int64_t e) { return dense("w2", e); }, one, g2, kBf16Half, "fc2");
  check_finalize(p, call, buf(r, "fc2_out"), r.output());
}

TEST(CutlassReplay, Mxfp4ShapeTheInterleaveCannotHoldIsAnInputError) {
  const auto p = problem(3, 2, 3, 64, 40);  // w2 K = 40 is not a multiple of 64
  const CallInputs call = synth_call(p, 5);
  const Mxfp4Weights linear(p, 9, false);
  EXPECT_THROW(run_replay(kernels::find_variant("flashinfer_cutlass_mxfp4_bf16_sm90"), call, linear), InputError);
}

// Routing by hand: T=3, K=2, E=3, ids [[2,0],[0,1],[2,1]]. Kernel rows unpermuted = k*T + t:
// (t0,k0)=0 e2, (t1,k0)=1 e0, (t2,k0)=2 e2, (t0,k1)=3 e0, (t1,k1)=4 e1, (t2,k1)=5 e1.
// Grouped by expert, by token inside an expert: e0: t0 (3), t1 (1); e1: t1 (4), t2 (5);
// e2: t0 (0), t2 (2). Offsets [0, 2, 4, 6].
TEST(CutlassReplay, RoutingPermutationByHand) {
  auto p = problem(3, 2, 3, 16, 16);
  CallInputs call = synth_call(p, 2);
  call.topk_ids = {2, 0, 0, 1, 2, 1};
  const SyntheticWeights w(p, 1, 1.0);
  const ReplayResult r = run_replay(kernels::find_variant("flashinfer_cutlass_bf16"), call, w);
  auto ints = [&](const char* name) {
    const EmuBuffer& b = buf(r, name);
    return std::vector<std::int32_t>(b.data<std::int32_t>(), b.data<std::int32_t>() + b.size());
  };
  EXPECT_EQ(ints("expert_first_token_offset"), (std::vector<std::int32_t>{0, 2, 4, 6}));
  EXPECT_EQ(ints("permuted_row_to_unpermuted_row"), (std::vector<std::int32_t>{3, 1, 4, 5, 0, 2}));
  EXPECT_EQ(ints("unpermuted_row_to_permuted_row"), (std::vector<std::int32_t>{4, 1, 5, 0, 2, 3}));
  // expandInputRows copies token rows: permuted row 0 is token 0, row 1 token 1, row 3 token 2.
  const EmuBuffer& pin = buf(r, "permuted_input");
  for (std::int64_t h = 0; h < p.hidden; ++h) {
    EXPECT_EQ(pin.raw_bits(0 * p.hidden + h), call.hidden_states[0 * p.hidden + h]);
    EXPECT_EQ(pin.raw_bits(1 * p.hidden + h), call.hidden_states[1 * p.hidden + h]);
    EXPECT_EQ(pin.raw_bits(3 * p.hidden + h), call.hidden_states[2 * p.hidden + h]);
  }
}

// ---- Emulated-memory findings --------------------------------------------------------------

class BrokenCutlass final : public kernels::VariantImpl {
 public:
  enum class Fault { ActivationSkipsOddSlots, PermutationPointsOutside };
  BrokenCutlass(const kernels::VariantSpec& spec, Fault f) : inner_(kernels::make_variant_impl(spec)), fault_(f) {}
  void run_stage(kernels::StageContext& ctx) override {
    if (fault_ == Fault::ActivationSkipsOddSlots && ctx.stage.kind == "activation") {
      inner_->run_stage(ctx);
      // Re-create the output as the kernel found it and copy back only even slots: a launch
      // whose grid misses every second row.
      EmuBuffer done = ctx.in(ctx.stage.outputs.at(0));
      EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), done.type(), done.shape());
      for (std::int64_t s = 0; s < out.rows(); s += 2)
        for (std::int64_t j = 0; j < out.cols(); ++j)
          out.set<std::uint16_t>(s * out.cols() + j, done.get<std::uint16_t>(s * out.cols() + j, ctx.log, ctx.stage.id),
                                 ctx.log, ctx.stage.id);
      return;
    }
    inner_->run_stage(ctx);
    if (fault_ == Fault::PermutationPointsOutside && ctx.stage.kind == "route_align")
      ctx.in(ctx.stage.outputs.at(0)).set<std::int32_t>(0, 1000000, ctx.log, ctx.stage.id);
  }

 private:
  std::unique_ptr<kernels::VariantImpl> inner_;
  Fault fault_;
};

TEST(CutlassReplay, UnwrittenActivationRowsAreAFinding) {
  const auto p = problem(7, 2, 4, 32, 16);
  const CallInputs call = synth_call(p, 1);
  const SyntheticWeights w(p, 1, 1.0);
  const auto spec = kernels::find_variant("flashinfer_cutlass_bf16");
  BrokenCutlass impl(spec, BrokenCutlass::Fault::ActivationSkipsOddSlots);
  const ReplayResult r = run_replay(spec, impl, call, w);
  bool found = false;
  for (const auto& f : r.findings)
    if (f.id == "OUTPUT_NOT_WRITTEN" && f.stage == "activation" && f.buffer == "act_out") {
      found = true;
      EXPECT_EQ(f.count, (p.slots() / 2) * p.intermediate);  // slots 1, 3, ..., 13
      EXPECT_EQ(f.index, 1 * p.intermediate);
    }
  EXPECT_TRUE(found);
}

TEST(CutlassReplay, PermutationOutOfRangeIsAFindingNotACrash) {
  const auto p = problem(7, 2, 4, 32, 16);
  const CallInputs call = synth_call(p, 1);
  const SyntheticWeights w(p, 1, 1.0);
  const auto spec = kernels::find_variant("flashinfer_cutlass_bf16");
  BrokenCutlass impl(spec, BrokenCutlass::Fault::PermutationPointsOutside);
  const ReplayResult r = run_replay(spec, impl, call, w);
  // Permuted row 0 now claims unpermuted row 1000000: expandInputRows reads token
  // 1000000 % T and GEMM1 writes slot (1000000 % T) * K + 1000000 / T, far past the buffer.
  const std::int64_t slot = (1000000 % p.num_tokens) * p.top_k + 1000000 / p.num_tokens;
  bool oob = false, unwritten = false;
  for (const auto& f : r.findings) {
    oob |= f.id == "EMULATED_OOB_ACCESS" && f.stage == "gemm1" && f.buffer == "gemm1_out" && f.index == slot * p.n1();
    unwritten |= f.id == "OUTPUT_NOT_WRITTEN" && f.stage == "gemm1";
  }
  EXPECT_TRUE(oob);
  EXPECT_TRUE(unwritten);
}

// ---- CLI -----------------------------------------------------------------------------------

using moesim::testing::CliRun;
CliRun run_cli(const std::string& args) { return moesim::testing::run_moesim(args); }

TEST(CutlassReplay, CliReplaysGoldenTraceAgainstTriton) {
  const std::string trace = std::string(MOESIM_TEST_DATA_DIR) + "/golden/triton_bf16_odd_e7k3.h5";
  const CliRun r = run_cli("replay " + trace + " --variant flashinfer_cutlass_bf16 --against triton_bf16 --json --threads 2");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("variant").as_string(), "flashinfer_cutlass_bf16");
  const auto& stages = v.at("calls").as_array().at(0).as_object().at("diff").as_object().at("stages").as_array();
  bool gemm1 = false;
  for (const auto& s : stages) {
    const auto& o = s.as_object();
    if (o.at("stage").as_string() != "gemm1") continue;
    gemm1 = true;
    ASSERT_TRUE(o.at("compared").as_bool());
    EXPECT_EQ(o.at("diff").as_object().at("bit_identical_pct").as_double(), 100.0) << r.out;
  }
  EXPECT_TRUE(gemm1) << r.out;
  const CliRun list = run_cli("replay --list-variants");
  EXPECT_NE(list.out.find("flashinfer_cutlass_mxfp4_bf16_sm90"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace moesim::replay
