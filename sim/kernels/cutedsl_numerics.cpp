#include "sim/kernels/cutedsl_numerics.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "sim/core/error.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/nvfp4_moe_common.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::kernels::cutedsl {

namespace {

using nvfp4::kBlock;

OutputBinding parse_binding(const std::string& s, const std::string& where) {
  if (s == "caller_buffer") return OutputBinding::CallerBuffer;
  if (s == "fresh_allocation") return OutputBinding::FreshAllocation;
  throw InputError(where, "unknown output_binding '" + s + "' (expected caller_buffer | fresh_allocation)");
}

// cute_dsl_fused_moe_nvfp4 (flashinfer/fused_moe/cute_dsl/fused_moe.py _moe_core_impl,
// v0.6.11.post2): moe_sort -> GEMM1 gather + SwiGLU + FP4 quant (one kernel) -> zero the
// output -> GEMM2 + finalize with atomic scatter-add into moe_output.
class CuteDslStandard final : public nvfp4::Nvfp4MoeBase {
 public:
  explicit CuteDslStandard(const VariantSpec& spec) : Nvfp4MoeBase(spec) {
    binding_ = parse_binding(spec.param_string("output_binding", "caller_buffer"), spec.file + ":/params/output_binding");
    const std::string z = spec.param_string("output_zeroing", "dense_active_slice");
    if (z != "dense_active_slice" && z != "sparse_first_topk")
      throw InputError(spec.file + ":/params/output_zeroing", "expected dense_active_slice | sparse_first_topk, got '" + z + "'");
    dense_zero_ = z == "dense_active_slice";
  }

 protected:
  // blockscaled_contiguous_gather_grouped_gemm_swiglu_fusion epilogue (vectorized_f32):
  // swiglu_cutedsl with alpha = w1_alpha[expert], then the generate_sfc quantization with
  // norm_const = fc2_input_scale (= a2_gscale).
  void activation(StageContext& ctx) override {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    const std::int64_t I = p.intermediate;
    // Named references, not a structured binding: clang 14 cannot capture bindings in the
    // OpenMP region below.
    const ActivationBuffers bufs = activation_buffers(ctx);
    EmuBuffer &acc = bufs.acc, &alpha = bufs.alpha, &deq = bufs.deq, &codes = bufs.codes, &sf = bufs.sf, &a2 = bufs.a2;
    const auto amax = slot_amax(ctx, acc, alpha, [](float g, float u, float a) { return nvfp4::swiglu_cutedsl(g, u, a); });
    const std::vector<float> a2_scale = calibrate_per_slot(p, amax);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!alpha.written(s)) continue;
      const float* a = acc.read_span<float>(s * 2 * I, 2 * I, ctx.log, st);
      if (!a) continue;
      const float g1 = alpha.get<float>(s, ctx.log, st);
      const float a2s = a2_scale[static_cast<std::size_t>(s)];
      const float nc = 1.0f / a2s;  // fc2_input_scale = a2_gscale
      std::vector<float> v(static_cast<std::size_t>(I));
      for (std::int64_t j = 0; j < I; ++j) v[static_cast<std::size_t>(j)] = nvfp4::swiglu_cutedsl(a[j], a[I + j], g1);
      std::vector<std::uint8_t> packed(static_cast<std::size_t>(I / 2)), sfb(static_cast<std::size_t>(I / kBlock));
      for (std::int64_t b = 0; b < I / kBlock; ++b)
        sfb[static_cast<std::size_t>(b)] = nvfp4::requant_block_cutedsl(v.data() + b * kBlock, nc, packed.data() + b * kBlock / 2);
      nvfp4::store_nvfp4_row(codes, sf, s, packed.data(), sfb.data(), I, ctx.log, st);
      a2.set<float>(s, a2s, ctx.log, st);
      double* d = deq.write_span<double>(s * I, I, ctx.log, st);
      if (d)
        for (std::int64_t j = 0; j < I; ++j) {
          const std::uint8_t c = (packed[static_cast<std::size_t>(j / 2)] >> (4 * (j % 2))) & 0xF;
          d[j] = static_cast<double>(fmt::fast::e2m1_to_f32(c)) * fmt::fast::e4m3_to_f32(sfb[static_cast<std::size_t>(j / kBlock)]) / nc;
        }
    }
  }

  // blockscaled_contiguous_grouped_gemm_finalize_fusion epilogue: alpha_val = alpha[expert] *
  // token_final_scales[token, k] (fp32), acc_final = alpha_val * acc, .to(bf16) (RNE).
  std::uint16_t gemm2_epilogue(float acc, float g2_alpha, float router_weight) const override {
    return bf16_rne((g2_alpha * router_weight) * acc);
  }

  // Zeroing, then vectorized_atomic_add_bf16x8 of every slot's bf16 row into the row of token
  // (m // top_k), m the reverse-map entry of the slot's permuted row; each add is bf16 + bf16
  // rounded to bf16 (red.global.add.noftz.bf16x2). Zeroing per params.output_zeroing:
  //  dense_active_slice (v0.6.7+): moe_output[:num_tokens].zero_();
  //  sparse_first_topk (v0.6.4..v0.6.6): moeOutputMemsetKernel zeroes the row of (m // top_k)
  //    for the permuted rows whose k = m % top_k is the first routed k of that token.
  // MODELLED ORDER: the GPU's atomic order is not deterministic; this replays ascending slots.
  void finalize(StageContext& ctx) override {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& e2p = ctx.in(ctx.stage.inputs.at(2));
    EmuBuffer* rev = ctx.stage.inputs.size() > 3 ? &ctx.in(ctx.stage.inputs.at(3)) : nullptr;
    const std::int64_t H = p.hidden, T = p.num_tokens, K = p.top_k;
    // outputs[0] is the caller's moe_output (allocated by the caller, e.g. vLLM's `output`);
    // outputs[1] is the tensor the API returns. With the caller-buffer binding they alias.
    EmuBuffer& caller = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {T, H});
    EmuBuffer& returned = ctx.create(ctx.stage.outputs.at(1), ElemType::BF16, {T, H});
    EmuBuffer& target = binding_ == OutputBinding::CallerBuffer ? caller : returned;
    std::vector<std::vector<std::int64_t>> by_row(static_cast<std::size_t>(T));
    std::vector<char> zero(static_cast<std::size_t>(T), dense_zero_ ? 1 : 0);
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (e2p.get<std::int32_t>(s, ctx.log, st) < 0) continue;  // not a local expert: no permuted row
      const std::int64_t m = rev ? rev->get<std::int32_t>(s, ctx.log, st) : s;
      const std::int64_t row = m / K, kk = m % K;
      if (m < 0 || row >= T) {
        ctx.log.record({MemoryEvent::Kind::OobWrite, target.name(), st, row * H, T * H});
        continue;
      }
      by_row[static_cast<std::size_t>(row)].push_back(s);
      if (!dense_zero_) {
        bool first = true;
        for (std::int64_t k = 0; k < kk; ++k) first = first && e2p.get<std::int32_t>(row * K + k, ctx.log, st) < 0;
        if (first) zero[static_cast<std::size_t>(row)] = 1;
      }
    }
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t t = 0; t < T; ++t) {
      const auto& slots = by_row[static_cast<std::size_t>(t)];
      if (!zero[static_cast<std::size_t>(t)] && slots.empty()) continue;  // no kernel touches this row
      std::vector<std::uint16_t> row(static_cast<std::size_t>(H));
      for (std::int64_t j = 0; j < H; ++j)  // what the memory holds: zeros, or whatever was there (poison)
        row[static_cast<std::size_t>(j)] = zero[static_cast<std::size_t>(t)] ? 0 : target.get<std::uint16_t>(t * H + j, ctx.log, st);
      for (std::int64_t s : slots) {
        const std::uint16_t* src = in.read_span<std::uint16_t>(s * H, H, ctx.log, st);
        if (!src) continue;
        for (std::int64_t j = 0; j < H; ++j)
          row[static_cast<std::size_t>(j)] = bf16_rne(bf16_to_f32(row[static_cast<std::size_t>(j)]) + bf16_to_f32(src[j]));
      }
      std::uint16_t* dst = target.write_span<std::uint16_t>(t * H, H, ctx.log, st);
      if (dst) std::copy(row.begin(), row.end(), dst);
    }
    if (binding_ == OutputBinding::CallerBuffer) {  // the returned tensor is moe_output itself
      for (std::int64_t i = 0; i < caller.size(); ++i)
        if (caller.written(i)) returned.set<std::uint16_t>(i, caller.get<std::uint16_t>(i, ctx.log, st), ctx.log, st);
    }
  }

 private:
  OutputBinding binding_ = OutputBinding::CallerBuffer;
  bool dense_zero_ = true;
};

// vLLM FlashInferCuteDSLBatchedExperts / flashinfer_cutedsl_moe_masked: per-expert batched
// layout [E, max_m, H] with masked_m rows valid, FlashInfer grouped_gemm_nt_masked (bf16 C,
// per-expert alpha) -> silu_and_mul_scaled_nvfp4_experts_quantize -> grouped_gemm_nt_masked.
// Canonical per-slot buffers here; the batched row of a slot is (expert, rank in expert).
class CuteDslBatched final : public nvfp4::Nvfp4MoeBase {
 public:
  explicit CuteDslBatched(const VariantSpec& spec) : Nvfp4MoeBase(spec) {}

 protected:
  // GEMM1 C store: bf16(acc * alpha) (MODELLED epilogue order); then
  // silu_and_mul_scaled_nvfp4_experts_quantize (quantization.cuh cvt_fp16_to_fp4_expert with
  // use_silu_and_mul): x = silu(g) * u with silu(v) = v / (1 + __expf(-v)) in fp32 on the bf16
  // inputs, rounded to bf16 (__float22bfloat162_rn), then cvt_warp_fp16_to_fp4 with the
  // expert's a2 global scale (vllm-kernel rule).
  void activation(StageContext& ctx) override {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    const std::int64_t I = p.intermediate;
    // Named references, not a structured binding: clang 14 cannot capture bindings in the
    // OpenMP region below.
    const ActivationBuffers bufs = activation_buffers(ctx);
    EmuBuffer &acc = bufs.acc, &alpha = bufs.alpha, &deq = bufs.deq, &codes = bufs.codes, &sf = bufs.sf, &a2 = bufs.a2;
    auto act = [](float g, float u, float a) {
      const float gb = bf16_to_f32(bf16_rne(g * a)), ub = bf16_to_f32(bf16_rne(u * a));
      return bf16_to_f32(bf16_rne(gb / (1.0f + quant::expf_fast(-gb)) * ub));
    };
    const auto amax = slot_amax(ctx, acc, alpha, act);
    const std::vector<float> a2_scale = calibrate_per_slot(p, amax);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!alpha.written(s)) continue;
      const float* a = acc.read_span<float>(s * 2 * I, 2 * I, ctx.log, st);
      if (!a) continue;
      const float g1 = alpha.get<float>(s, ctx.log, st);
      const float a2s = a2_scale[static_cast<std::size_t>(s)];
      const float a2g = 1.0f / a2s;
      std::vector<float> v(static_cast<std::size_t>(I));
      for (std::int64_t j = 0; j < I; ++j) v[static_cast<std::size_t>(j)] = act(a[j], a[I + j], g1);
      const nvfp4::Nvfp4Matrix q = nvfp4::quantize_rows(v.data(), 1, I, a2g, quant::Nvfp4Rule::VllmKernel);
      nvfp4::store_nvfp4_row(codes, sf, s, q.packed.data(), q.sf.data(), I, ctx.log, st);
      a2.set<float>(s, a2s, ctx.log, st);
      double* d = deq.write_span<double>(s * I, I, ctx.log, st);
      if (d)
        for (std::int64_t j = 0; j < I; ++j) d[j] = static_cast<double>(nvfp4::dequant_element(q, 0, j)) / a2g;
    }
  }

  // GEMM2 C store: bf16(acc * w2_alpha); no router weight (applied by the combine).
  std::uint16_t gemm2_epilogue(float acc, float g2_alpha, float) const override { return bf16_rne(acc * g2_alpha); }

  // The combine is not a FlashInfer kernel (DeepEP low-latency combine or vLLM's
  // TopKWeightAndReduce). MODELLED: fp32 fma chain over k ascending of fp32 router weight *
  // bf16 expert output, one RNE cast to bf16.
  void finalize(StageContext& ctx) override { finalize_fma_chain(ctx, /*bf16_router_weight=*/false); }
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) {
  if (spec.quant != "nvfp4")
    throw InputError(spec.file + ":/quant", "family flashinfer_cutedsl implements quant 'nvfp4' only, got '" + spec.quant + "'");
  const std::string layout = spec.param_string("layout", "contiguous");
  if (layout == "contiguous") return std::make_unique<CuteDslStandard>(spec);
  if (layout == "batched_masked") return std::make_unique<CuteDslBatched>(spec);
  throw InputError(spec.file + ":/params/layout", "unknown CuteDSL layout '" + layout + "' (expected contiguous | batched_masked)");
}

}  // namespace moesim::kernels::cutedsl
