#include "sim/kernels/triton_kernels_moe.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/quant/sfu.hpp"
#include "sim/quant/tk_hopper_layout.hpp"

namespace moesim::kernels::tk {

std::uint16_t mxfp4_to_bf16(std::uint8_t code, std::uint8_t scale) {
  // _unpack_fp4_to_bf16_triton: (x & 0b1000000111000000) puts sign -> bit 15, e1e0m0 -> bits 8..6;
  // mul.bf16x2 by 0x7E80 (2^126) turns that pattern into the e2m1 value exactly (subnormal bf16
  // inputs kept). Every e2m1 value is a bf16, so the value itself is what the multiply yields.
  static constexpr float kE2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float mag = kE2m1[code & 7];
  const float v = (code & 8) ? -mag : mag;
  // scale: prmt + shl 7 = the ue8m0 byte as a bf16 exponent field (0 -> +0.0, 255 -> +inf).
  const float s = bf16_to_f32(static_cast<std::uint16_t>(std::uint16_t{scale} << 7));
  // x * scale in bf16 (mul.bf16x2, RNE): the fp32 product is exact (<= 3 significant bits times
  // a power of two, same exponent range), so one RNE to bf16 is the bf16 product. Results in
  // bf16's subnormal range are assumed kept (not exercised by the captured scales >= 112).
  return bf16_rne(v * s);
}

float div_full(float a, float b) {
  if (b > 0x1p126f) {  // FSETP.GT b, 8.507059e37; @P FMUL a, a, 0.25; @P FMUL b, b, 0.25
    a *= 0.25f;
    b *= 0.25f;
  }
  return a * quant::rcp_approx_ftz(b);  // MUFU.RCP; FMUL (b in [1, 2^126] or inf: no flush involved)
}

std::uint16_t swiglu(float gate, float linear, float alpha, float limit) {
  const float g = std::fmin(gate, limit);                      // min.f32 (clip, clip_lower=False)
  const float l = std::fmin(std::fmax(linear, -limit), limit);  // tl.clamp -> max.f32, min.f32
  const float t = (0.0f - alpha) * g;                           // sub.f32 0, alpha; mul.f32
  const float e = quant::ex2_approx(t * std::bit_cast<float>(0x3FB8AA3Bu));  // tl.exp: mul.f32 log2e, ex2.approx.f32
  const float s = div_full(g, e + 1.0f);                        // gelu / (1 + exp(..)): add.f32, div.full.f32
  return bf16_rne(std::fma(s, l, s));                           // tl.fma(s, linear, s); cvt.rn.bf16x2.f32
}

namespace {

std::string shape_str(std::int64_t a, std::int64_t b) { return "[" + std::to_string(a) + ", " + std::to_string(b) + "]"; }

// One expert's weight matrix upcast to bf16 [n][k] and packed for the wgmma chains, its bias.
struct PreparedWeights {
  mma::PackedB pb;
  std::vector<float> bias;  // [n], zeros when the layer has none (acc + 0.0 still runs: -0 -> +0)
};

class TkVariant final : public VariantImpl {
 public:
  explicit TkVariant(const VariantSpec& spec) : spec_(spec) {
    if (spec.quant != "mxfp4_w4a16")
      throw InputError(spec.file + ":/quant", "triton_kernels implements quant mxfp4_w4a16 only, got '" + spec.quant + "'");
    alpha_ = static_cast<float>(spec_.param_double("swiglu_alpha", 1.702));
    limit_ = static_cast<float>(spec_.param_double("swiglu_limit", 7.0));
    // swiglu_math: "ptx_sm90" (what the kernel runs: ex2.approx + div.full) or "ieee" (expf and
    // an IEEE division: a counterfactual, kept to show the goldens tell them apart).
    const std::string math = spec.param_string("swiglu_math", "ptx_sm90");
    if (math != "ptx_sm90" && math != "ieee")
      throw InputError(spec.file + ":/params/swiglu_math", "'" + math + "' is not modelled (ptx_sm90 | ieee)");
    ieee_ = math == "ieee";
    const std::string tactic = spec.param_string("opt_flags", "");
    const std::string want = "block_n=256,block_k=128,num_warps=8,split_k=1,is_persistent=false";
    if (!tactic.empty() && tactic.find(want) == std::string::npos)
      throw InputError(spec.file + ":/params/opt_flags",
                       "opt_flags '" + tactic + "' are not modelled; modelled on SM90: block_m in {16,32,64,128}," + want +
                           " (split_k > 1 adds an fp32 reduce, a persistent kernel another K loop)");
  }

  void run_stage(StageContext& ctx) override {
    const std::string& kind = ctx.stage.kind;
    if (kind == "route_align") return route(ctx);
    if (kind == "gemm1") return gemm(ctx, true);
    if (kind == "activation") return activation(ctx);
    if (kind == "gemm2") return gemm(ctx, false);
    if (kind == "finalize") return finalize(ctx);
    throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by the triton_kernels family");
  }

 private:

  void check_problem(const MoeProblem& p) const {
    if (!p.gated || p.activation != "swigluoai")
      throw InputError(spec_.file, "triton_kernels matmul_ogs is modelled with the fused swiglu of gpt-oss (activation swigluoai, gated) only, trace has " +
                                       std::string(p.gated ? "gated " : "non-gated ") + p.activation);
  }

  // SparseMatrix(indx, vals, mask).mask_metadata (tensor_details/bitmatrix.py:110-150): slots
  // sorted by expert, ascending slot index inside an expert (the kernel's sort of
  // (expert << 16 | local offset) per 32-token block plus per-expert partial offsets).
  // dispatch[slot] = row_sorted_indx, the slot's row in the expert-grouped order; gate[slot] =
  // the router weight as vLLM's make_routing_data casts it (topk_weights.to(bfloat16)).
  void route(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    check_problem(p);
    const std::string& st = ctx.stage.id;
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& tw = ctx.in(ctx.stage.inputs.at(1));
    const std::int64_t n = p.slots();
    EmuBuffer& dispatch = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {n});
    EmuBuffer& gate = ctx.create(ctx.stage.outputs.at(1), ElemType::F32, {n});
    std::vector<std::int64_t> count(static_cast<std::size_t>(p.num_experts) + 1, 0);
    std::vector<std::int32_t> expert(static_cast<std::size_t>(n));
    for (std::int64_t s = 0; s < n; ++s) {
      expert[s] = ids.get<std::int32_t>(s, ctx.log, st);
      if (expert[s] < 0 || expert[s] >= p.num_experts)
        throw InputError(spec_.file, "triton_kernels routing: slot " + std::to_string(s) + " names expert " +
                                         std::to_string(expert[s]) + " outside [0, " + std::to_string(p.num_experts) +
                                         ") (masked -1 slots and expert maps are not modelled)");
      ++count[expert[s] + 1];
    }
    for (std::int64_t e = 0; e < p.num_experts; ++e) count[e + 1] += count[e];
    for (std::int64_t s = 0; s < n; ++s) {
      dispatch.set<std::int32_t>(s, static_cast<std::int32_t>(count[expert[s]]++), ctx.log, st);
      gate.set<float>(s, bf16_to_f32(bf16_rne(tw.get<float>(s, ctx.log, st))), ctx.log, st);
    }
  }

  PreparedWeights prepare(const StageContext& ctx, const char* which, std::int64_t expert, std::int64_t n,
                          std::int64_t k) const {
    const std::string where = std::string(which) + "[" + std::to_string(expert) + "]";
    const ExpertMatrix w = ctx.weights.read(which, expert);
    if ((w.dtype != "e2m1x2" && w.dtype != "mxfp4") || w.rows != n || w.cols * 2 != k || k % 32 != 0)
      throw InputError(where, "expected e2m1x2 " + shape_str(n, k / 2) + " with K a multiple of 32, got " + w.dtype + " " +
                                  shape_str(w.rows, w.cols));
    const bool swz = w.scale_layout == quant::kTkHopperMxW8;
    if (!swz && w.scale_layout != "linear")
      throw InputError(where, "MXFP4 layout '" + w.scale_layout + "' is not modelled (linear | " + std::string(quant::kTkHopperMxW8) + ")");
    const std::int64_t vbytes = swz ? quant::tk_hopper_value_bytes(n, k) : n * k / 2;
    const std::int64_t sbytes = swz ? quant::tk_hopper_scale_bytes(n, k / 32, 8) : n * k / 32;
    if (w.bytes.size() != static_cast<std::size_t>(vbytes))
      throw InputError(where, "expected " + std::to_string(vbytes) + " bytes (" + w.scale_layout + "), got " + std::to_string(w.bytes.size()));
    if (w.scale_dtype != "ue8m0" || w.scale_bytes.size() != static_cast<std::size_t>(sbytes))
      throw InputError(where, "MXFP4 weights need " + std::to_string(sbytes) + " raw ue8m0 scale bytes (" + w.scale_layout + "), got " +
                                  std::to_string(w.scale_bytes.size()) + " '" + w.scale_dtype + "'");
    std::vector<std::uint8_t> packed, scales;
    if (!swz) {
      packed = w.bytes;
      scales = w.scale_bytes;
    } else {
      packed = quant::tk_hopper_value_unswizzle(w.bytes.data(), n, k);
      scales = quant::tk_hopper_scale_unswizzle(w.scale_bytes.data(), n, k / 32, 8);
    }
    std::vector<std::uint16_t> bf(static_cast<std::size_t>(n * k));
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t c = 0; c < k; ++c) {
        const std::uint8_t byte = packed[static_cast<std::size_t>(r * (k / 2) + c / 2)];
        const std::uint8_t code = (c % 2 == 0) ? (byte & 0xF) : (byte >> 4);
        bf[static_cast<std::size_t>(r * k + c)] = mxfp4_to_bf16(code, scales[static_cast<std::size_t>(r * (k / 32) + c / 32)]);
      }
    PreparedWeights pw;
    pw.pb.init(hopper_bf16_params(), static_cast<int>(n), static_cast<int>(k));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (int q = 0; q < pw.pb.panels(); ++q) pw.pb.pack_panels(bf.data(), k, q, q + 1);
    if (ctx.problem.has_bias) {
      if (static_cast<std::int64_t>(w.bias.size()) != n)
        throw InputError(where, "expected " + std::to_string(n) + " bias values, got " + std::to_string(w.bias.size()));
      pw.bias = w.bias;
    } else {
      pw.bias.assign(static_cast<std::size_t>(n), 0.0f);
    }
    return pw;
  }

  // _matmul_ogs (matmul_ogs_details/_matmul_ogs.py): per expert, the slots' rows (gathered
  // token rows for GEMM1) against the upcast weights; tl.dot(w, x, acc) over the K tiles in
  // order from acc = 0 is one wgmma chain of k16 steps (m64nBLOCK_Mk16.f32.bf16.bf16 with the
  // weights as operand A, read from the captured PTX); the masked K tail loads zeros.
  // Epilogue (lines 383-472): acc + bias (add.f32; bias * betas with betas = 1), GEMM1 keeps
  // the fp32 value for the fused swiglu, GEMM2 multiplies by the router weight (gammas) and
  // rounds to bf16 (RNE).
  void gemm(StageContext& ctx, bool first) {
    const MoeProblem& p = ctx.problem;
    check_problem(p);
    const std::string& st = ctx.stage.id;
    EmuBuffer& a = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& dispatch = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer* gate = first ? nullptr : &ctx.in(ctx.stage.inputs.at(2));
    const std::int64_t n = first ? p.n1() : p.hidden, k = first ? p.hidden : p.intermediate;
    EmuBuffer& c = ctx.create(ctx.stage.outputs.at(0), first ? ElemType::F32 : ElemType::BF16, {p.slots(), n});
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.back());  // topk_ids
    std::map<std::int32_t, std::vector<std::int64_t>> slots_of;  // expert -> slots in dispatch order
    {
      std::vector<std::pair<std::int64_t, std::int64_t>> order;  // (dispatch row, slot)
      for (std::int64_t s = 0; s < p.slots(); ++s) order.emplace_back(dispatch.get<std::int32_t>(s, ctx.log, st), s);
      std::sort(order.begin(), order.end());
      for (const auto& [row, s] : order) slots_of[ids.get<std::int32_t>(s, ctx.log, st)].push_back(s);
    }
    const mma::FdpaParams& prm = hopper_bf16_params();
    const mma::SimdPath path = mma::best_path();
    const std::vector<std::uint16_t> poison(static_cast<std::size_t>(k), kPoisonBF16);
    constexpr std::int64_t kRows = 64, kCols = 256;
    for (const auto& [expert, slots] : slots_of) {
      const PreparedWeights w = prepare(ctx, first ? "w13" : "w2", expert, n, k);
      const int kp = w.pb.k_padded();
      for (std::size_t r0 = 0; r0 < slots.size(); r0 += kRows) {
        const std::size_t r1 = std::min(slots.size(), r0 + static_cast<std::size_t>(kRows));
        std::vector<const std::uint16_t*> rows;
        for (std::size_t i = r0; i < r1; ++i) {
          const std::int64_t arow = first ? slots[i] / p.top_k : slots[i];  // GatherIndx: token = slot / top_k
          const std::uint16_t* src = a.read_span<std::uint16_t>(arow * k, k, ctx.log, st);
          rows.push_back(src ? src : poison.data());
        }
        mma::PackedA pa;
        pa.pack(prm, static_cast<int>(k), rows);
        const std::int64_t m = static_cast<std::int64_t>(rows.size());
        std::vector<std::uint32_t> acc(static_cast<std::size_t>(m * n));
        const std::int64_t blocks = (n + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
        for (std::int64_t b = 0; b < blocks; ++b) {
          const std::int64_t n0 = b * kCols, n1 = std::min(n, n0 + kCols);
          mma::gemm_packed(prm, path, pa, w.pb, static_cast<int>(n0), static_cast<int>(n1), 0, kp, nullptr, 0,
                           acc.data() + n0, n);
        }
        for (std::int64_t i = 0; i < m; ++i) {
          const std::int64_t s = slots[r0 + static_cast<std::size_t>(i)];
          const float g = first ? 1.0f : gate->get<float>(s, ctx.log, st);
          if (first) {
            float* dst = c.write_span<float>(s * n, n, ctx.log, st);
            if (!dst) continue;
            for (std::int64_t j = 0; j < n; ++j) dst[j] = std::bit_cast<float>(acc[static_cast<std::size_t>(i * n + j)]) + w.bias[static_cast<std::size_t>(j)];
          } else {
            std::uint16_t* dst = c.write_span<std::uint16_t>(s * n, n, ctx.log, st);
            if (!dst) continue;
            for (std::int64_t j = 0; j < n; ++j)
              dst[j] = bf16_rne((std::bit_cast<float>(acc[static_cast<std::size_t>(i * n + j)]) + w.bias[static_cast<std::size_t>(j)]) * g);
          }
        }
      }
    }
  }

  // The fused swiglu on GEMM1's fp32 epilogue values; gate = column j, linear = column I + j of
  // the canonical [gate; up] rows (the kernel reads them interleaved, 2j and 2j + 1).
  void activation(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    check_problem(p);
    const std::string& st = ctx.stage.id;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t d = p.intermediate;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), d});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      const float* src = in.read_span<float>(s * 2 * d, 2 * d, ctx.log, st);
      std::uint16_t* dst = out.write_span<std::uint16_t>(s * d, d, ctx.log, st);
      if (!src || !dst) continue;
      for (std::int64_t j = 0; j < d; ++j) dst[j] = ieee_ ? swiglu_ieee(src[j], src[d + j]) : swiglu(src[j], src[d + j], alpha_, limit_);
    }
  }

  // reduce (reduce.py:19-95; matmul_ogs.py:657-674) over the top_k slots of a token: y = 0 (fp32); y += float(x_k) for
  // k = 0..top_k-1 in slot order (the scatter puts slot t*K + k at row t*K + k of the scratch);
  // one RNE cast to bf16.
  void finalize(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t h = p.hidden;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.num_tokens, h});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t t = 0; t < p.num_tokens; ++t) {
      std::uint16_t* dst = out.write_span<std::uint16_t>(t * h, h, ctx.log, st);
      const std::uint16_t* src = in.read_span<std::uint16_t>(t * p.top_k * h, p.top_k * h, ctx.log, st);
      if (!dst || !src) continue;
      for (std::int64_t j = 0; j < h; ++j) {
        float y = 0.0f;
        for (std::int64_t kk = 0; kk < p.top_k; ++kk) y += bf16_to_f32(src[kk * h + j]);
        dst[j] = bf16_rne(y);
      }
    }
  }

  std::uint16_t swiglu_ieee(float gate, float linear) const {
    const float g = std::fmin(gate, limit_), l = std::fmin(std::fmax(linear, -limit_), limit_);
    const float s = g / (1.0f + std::exp((0.0f - alpha_) * g));
    return bf16_rne(std::fma(s, l, s));
  }

  VariantSpec spec_;
  float alpha_ = 1.702f, limit_ = 7.0f;
  bool ieee_ = false;
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) { return std::make_unique<TkVariant>(spec); }

}  // namespace moesim::kernels::tk
