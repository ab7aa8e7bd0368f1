// FlashInfer CUTLASS NVFP4 (SM100) variant replayed end to end on a small synthetic problem:
// every stage against an fp64 formula on that stage's own inputs with derived bounds, the
// weight scale layout read back through the inverse map, thread determinism.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <boost/json.hpp>

#include "replay/executor.hpp"
#include "replay/inputs.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/nvfp4.hpp"

namespace moesim::replay {
namespace {

using kernels::EmuBuffer;
using kernels::ExpertMatrix;

constexpr double kBf16Half = 0x1p-8;  // RNE to bf16 (7 fraction bits)
constexpr double kTiny = 0x1p-120;

// ModelOpt-quantized NVFP4 weights (per-expert global decode scale amax/2688), block scales
// stored in `layout`.
class Nvfp4Weights final : public kernels::WeightProvider {
 public:
  Nvfp4Weights(const kernels::MoeProblem& p, std::uint64_t seed, quant::SfLayout layout)
      : p_(p), seed_(seed), layout_(layout) {}

  struct Logical {
    quant::Nvfp4Result q;
    float gs = 0;
    std::int64_t n = 0, k = 0;
    double at(std::int64_t r, std::int64_t c) const {
      const std::uint8_t b = q.packed[static_cast<std::size_t>(r * k / 2 + c / 2)];
      return double(fmt::fast::e2m1_to_f32(c % 2 ? b >> 4 : b & 0xF)) *
             fmt::fast::e4m3_to_f32(q.scales[static_cast<std::size_t>(r * k / 16 + c / 16)]) * gs;
    }
  };
  Logical logical(const std::string& which, std::int64_t e) const {
    const bool w13 = which == "w13";
    Logical l;
    l.n = w13 ? p_.n1() : p_.hidden;
    l.k = w13 ? p_.hidden : p_.intermediate;
    Rng r(seed_ + static_cast<std::uint64_t>(e) * 2 + (w13 ? 0 : 1));
    std::vector<float> x(static_cast<std::size_t>(l.n * l.k));
    for (auto& v : x) v = fmt::fast::bf16_to_f32(fmt::fast::f32_to_bf16_rn(static_cast<float>(r.normal() / std::sqrt(double(l.k)))));
    quant::GlobalScale gs;
    gs.values = {quant::global_scale_from_amax(quant::Nvfp4Rule::ModelOpt, quant::amax_abs(x.data(), l.n * l.k))};
    l.gs = gs.values[0];
    l.q = quant::quantize_nvfp4(x.data(), l.n, l.k, gs, quant::Nvfp4Rule::ModelOpt);
    return l;
  }
  ExpertMatrix read(const std::string& which, std::int64_t e) const override {
    Logical l = logical(which, e);
    ExpertMatrix m;
    m.dtype = "e2m1x2";
    m.rows = l.n;
    m.cols = l.k / 2;
    m.bytes = std::move(l.q.packed);
    m.scale_dtype = "ue4m3";
    m.scale_layout = std::string(quant::layout_tag(layout_));
    m.scale_bytes = quant::sf_to_layout(l.q.scales.data(), l.n, l.k / 16, layout_);
    m.global_scale = l.gs;
    return m;
  }

 private:
  kernels::MoeProblem p_;
  std::uint64_t seed_;
  quant::SfLayout layout_;
};

// Value of element (r, c) of an NVFP4 code/scale buffer pair, times the global decode scale.
double nvfp4_value(const EmuBuffer& codes, const EmuBuffer& sf, std::int64_t r, std::int64_t c, double decode) {
  const std::int64_t cols = codes.cols();
  const auto code = static_cast<std::uint8_t>(codes.data<std::int32_t>()[r * cols + c]);
  const auto s = static_cast<std::uint8_t>(sf.data<std::int32_t>()[r * (cols / 16) + c / 16]);
  return double(fmt::fast::e2m1_to_f32(code)) * fmt::fast::e4m3_to_f32(s) * decode;
}

// NVFP4 quantization error of x in a block with absolute maximum M (derivation): the unit
// s = decode * e4m3(SF) with SF ~ M/6 rounded to e4m3 (<= 2^-4 relative) through rcp.approx
// (<= 2^-20 relative, generously), so s <= (M/6)(1 + 2^-4 + 2^-20); rounding x/s to the e2m1
// grid errs by at most half its widest spacing (2, between 4 and 6), i.e. <= s; saturation at 6
// errs by <= M - 6s_min <= M (2^-4 + 2^-20). Both are below 0.2 M.
constexpr double kNvfp4BlockRel = 0.2;

TEST(CutlassNvfp4Replay, StagesWithinDerivedBoundsAndLayoutReadBack) {
  kernels::MoeProblem p;
  p.num_tokens = 6;
  p.top_k = 2;
  p.num_experts = 3;
  p.hidden = 64;
  p.intermediate = 48;
  const CallInputs call = synth_call(p, 12);
  const Nvfp4Weights w(p, 31, quant::SfLayout::Swizzled128x4), wl(p, 31, quant::SfLayout::Linear);
  auto spec = kernels::find_variant("flashinfer_cutlass_nvfp4");
  std::vector<float> hx(call.hidden_states.size());
  for (std::size_t i = 0; i < hx.size(); ++i) hx[i] = fmt::fast::bf16_to_f32(call.hidden_states[i]);
  const float a1 = quant::amax_abs(hx.data(), static_cast<std::int64_t>(hx.size())) / 2688.0f;  // calibrated input_scale
  const float a2 = 8.0f / 2688.0f;
  spec.params["a1_global_decode"] = a1;
  spec.params["a2_global_decode"] = a2;
  ReplayOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const ReplayResult r = run_replay(spec, call, w, two);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().id << ": " << r.findings.front().formula;
  EXPECT_EQ(r.output().bytes(), run_replay(spec, call, w, one).output().bytes());
  EXPECT_EQ(r.output().bytes(), run_replay(spec, call, wl, one).output().bytes());  // scale layout read back
  const auto& b = r.buffers;
  const EmuBuffer &pc = b.at("permuted_fp4_codes"), &ps = b.at("permuted_fp4_sf"), &g1 = b.at("gemm1_out"),
                  &ac = b.at("act_fp4_codes"), &as = b.at("act_fp4_sf"), &fc2 = b.at("fc2_out");
  const EmuBuffer& perm = b.at("permuted_row_to_unpermuted_row");
  // expand_quantize: permuted row r holds token (unperm % T), quantized.
  for (std::int64_t row = 0; row < pc.rows(); ++row) {
    const std::int64_t t = perm.data<std::int32_t>()[row] % p.num_tokens;
    for (std::int64_t c0 = 0; c0 < p.hidden; c0 += 16) {
      double m = 0;
      for (std::int64_t c = c0; c < c0 + 16; ++c) m = std::max(m, std::fabs(double(hx[t * p.hidden + c])));
      for (std::int64_t c = c0; c < c0 + 16; ++c)
        ASSERT_LE(std::fabs(nvfp4_value(pc, ps, row, c, a1) - hx[t * p.hidden + c]), kNvfp4BlockRel * m + kTiny);
    }
  }
  // GEMMs on the stage's own quantized operands: GST-FDPA over K=64 steps keeps 35 bits below
  // e_max for 4 exact group sums + C (5 terms, 5 * 2^-35 each) and rounds toward zero to fp32
  // (2^-23); alpha is one fp32 product and one fp32 multiply (2 * 2^-24); then bf16.
  auto gemm_check = [&](const EmuBuffer& codes, const EmuBuffer& sf, bool first, const EmuBuffer& out) {
    const std::int64_t n = first ? p.n1() : p.hidden, k = first ? p.hidden : p.intermediate;
    const double adec = first ? a1 : a2;
    const double gamma = double((k + 63) / 64) * (5 * 0x1p-35 + 0x1p-22) + 2 * 0x1p-24;
    for (std::int64_t e = 0; e < p.num_experts; ++e) {
      const auto lw = w.logical(first ? "w13" : "w2", e);
      for (std::int64_t s = 0; s < p.slots(); ++s) {
        if (call.topk_ids[s] != e) continue;
        std::int64_t arow = s;
        if (first)  // permuted row of this slot
          for (std::int64_t rr = 0; rr < codes.rows(); ++rr) {
            const std::int64_t u = perm.data<std::int32_t>()[rr];
            if ((u % p.num_tokens) * p.top_k + u / p.num_tokens == s) arow = rr;
          }
        for (std::int64_t c = 0; c < n; ++c) {
          double exact = 0, abs_sum = 0;
          for (std::int64_t j = 0; j < k; ++j) {
            const double t = nvfp4_value(codes, sf, arow, j, adec) * lw.at(c, j);
            exact += t;
            abs_sum += std::fabs(t);
          }
          const double got = out.as_double(s * n + c);
          const double bound = gamma * abs_sum + kBf16Half * (std::fabs(exact) + gamma * abs_sum) + kTiny;
          ASSERT_LE(std::fabs(got - exact), bound) << (first ? "gemm1" : "fc2") << " slot " << s << " col " << c;
        }
      }
    }
  };
  gemm_check(pc, ps, true, g1);
  // Activation: swiglu on the bf16 gemm1 output (fast-math error, see the bf16 test), cast to
  // bf16, then NVFP4 with the fc2 global scale: per 16-block error <= 0.2 * block max.
  const std::int64_t d = p.intermediate;
  for (std::int64_t s = 0; s < p.slots(); ++s)
    for (std::int64_t c0 = 0; c0 < d; c0 += 16) {
      std::vector<double> ex(16);
      double m = 0;
      for (std::int64_t j = 0; j < 16; ++j) {
        const double g = g1.as_double(s * 2 * d + c0 + j), u = g1.as_double(s * 2 * d + d + c0 + j);
        ex[j] = g / (1.0 + std::exp(-g)) * u;
        m = std::max(m, std::fabs(ex[j]));
      }
      for (std::int64_t j = 0; j < 16; ++j)
        ASSERT_LE(std::fabs(nvfp4_value(ac, as, s, c0 + j, a2) - ex[j]), kNvfp4BlockRel * m * (1 + 0x1p-7) + 0x1p-7 * m + kTiny)
            << "activation slot " << s << " j " << c0 + j;
    }
  gemm_check(ac, as, false, fc2);
  // finalize: fma chain in k order (K * 2^-24 of the absolute sum) then bf16.
  for (std::int64_t t = 0; t < p.num_tokens; ++t)
    for (std::int64_t h = 0; h < p.hidden; ++h) {
      double exact = 0, abs_sum = 0;
      for (std::int64_t k = 0; k < p.top_k; ++k) {
        const double v = call.topk_weights[t * p.top_k + k] * fc2.as_double((t * p.top_k + k) * p.hidden + h);
        exact += v;
        abs_sum += std::fabs(v);
      }
      const double pre = p.top_k * 0x1p-24 * abs_sum;
      ASSERT_LE(std::fabs(r.output().as_double(t * p.hidden + h) - exact), pre + kBf16Half * (std::fabs(exact) + pre) + kTiny);
    }
}

// `moesim synth` writes NVFP4 (ModelOpt, per-expert global scale, linear ue4m3 scales) and
// MXFP4 (linear ue8m0) traces; both replay through the CUTLASS variants from the CLI.
std::string run_cli(const std::string& args, int* rc) {
  const std::string cmd = std::string(MOESIM_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> b{};
  while (std::size_t n = fread(b.data(), 1, b.size(), pipe)) out.append(b.data(), n);
  *rc = WEXITSTATUS(pclose(pipe));
  return out;
}

TEST(CutlassNvfp4Replay, SynthesisedQuantizedTracesReplayFromTheCli) {
  const auto dir = std::filesystem::temp_directory_path() / "moesim_cutlass_cli";
  std::filesystem::create_directories(dir);
  struct Case {
    const char* weights;
    const char* variant;
    const char* extra;
  };
  for (const Case c : {Case{"nvfp4", "flashinfer_cutlass_nvfp4", ""}, Case{"mxfp4", "flashinfer_cutlass_mxfp4_bf16_sm90", ""}}) {
    SCOPED_TRACE(c.weights);
    const std::string trace = (dir / (std::string(c.weights) + ".h5")).string();
    int rc = 0;
    std::string out = run_cli("synth --preset deepseek-v3 -o " + trace + " -t 5 --activations --weights " + c.weights +
                                  " --experts 4 --top-k 2 --hidden 128 --intermediate 128",
                              &rc);
    ASSERT_EQ(rc, 0) << out;
    out = run_cli("replay " + trace + " --variant " + c.variant + " --against none --json" + c.extra, &rc);
    ASSERT_EQ(rc, 0) << out;
    const auto v = boost::json::parse(out).as_object();
    EXPECT_EQ(v.at("variant").as_string(), c.variant);
    EXPECT_TRUE(v.at("calls").as_array().at(0).as_object().at("findings").as_array().empty()) << out;
  }
}

}  // namespace
}  // namespace moesim::replay
