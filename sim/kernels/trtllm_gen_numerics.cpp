#include "sim/kernels/trtllm_gen_numerics.hpp"

#include <omp.h>

#include <cmath>
#include <cstring>

#include "sim/core/error.hpp"
#include "sim/kernels/nvfp4_moe_common.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels::trtllm_gen {

namespace {

using nvfp4::kBlock;

// trtllm_fp4_block_scale_routed_moe (FlashInfer v0.6.11.post2) as vLLM's modular
// TrtLlmNvFp4ExpertsModular calls it: packed top-k (expert id << 16 | bf16 weight), NVFP4
// activations from fp4_quantize(x, a1_gscale), output1_scale_scalar = g1_alphas * a2_gscale,
// output1_scale_gate_scalar = g1_alphas, output2_scale_scalar = g2_alphas, do_finalize=True.
class TrtllmNvfp4 final : public nvfp4::Nvfp4MoeBase {
 public:
  explicit TrtllmNvfp4(const VariantSpec& spec) : Nvfp4MoeBase(spec) {}

 protected:
  // GEMM1 epilogue (inside the trtllm-gen cubin; MODELLED): gate' = acc_g * scale_gate,
  // up' = acc_u * scale_c with scale_c = g1_alpha * a2_gscale (fp32, computed once by the
  // framework), act = silu(gate') * up' in fp32 (IEEE expf/division stand-in), then NVFP4
  // quantization of the already-scaled values (global scale folded in: SF = e4m3(amax/6) by
  // the FlashInfer cvt_warp_fp16_to_fp4 arithmetic with global scale 1).
  void activation(StageContext& ctx) override {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    const std::int64_t I = p.intermediate;
    // Named references, not a structured binding: clang 14 cannot capture bindings in the
    // OpenMP region below.
    const ActivationBuffers bufs = activation_buffers(ctx);
    EmuBuffer &acc = bufs.acc, &alpha = bufs.alpha, &deq = bufs.deq, &codes = bufs.codes, &sf = bufs.sf, &a2 = bufs.a2;
    // Calibration of the fc2 input scale (stand-in for the checkpoint's input_scale): amax of
    // silu(acc_g*alpha) * (acc_u*alpha).
    const std::vector<float> a2_scale = calibrate_per_slot(
        p, slot_amax(ctx, acc, alpha, [](float g, float u, float a) { return nvfp4::swiglu_ieee(g * a, u * a); }));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!alpha.written(s)) continue;
      const float* a = acc.read_span<float>(s * 2 * I, 2 * I, ctx.log, st);
      if (!a) continue;
      const float g1 = alpha.get<float>(s, ctx.log, st);
      const float a2s = a2_scale[static_cast<std::size_t>(s)];
      const float a2g = 1.0f / a2s;          // a2_gscale = 1 / a2_scale
      const float scale_c = g1 * a2g;        // g1_scale_c = g1_alphas * a2_gscale
      std::vector<float> v(static_cast<std::size_t>(I));
      for (std::int64_t j = 0; j < I; ++j) v[static_cast<std::size_t>(j)] = nvfp4::swiglu_ieee(a[j] * g1, a[I + j] * scale_c);
      const nvfp4::Nvfp4Matrix q = nvfp4::quantize_rows(v.data(), 1, I, 1.0f, quant::Nvfp4Rule::VllmKernel);
      nvfp4::store_nvfp4_row(codes, sf, s, q.packed.data(), q.sf.data(), I, ctx.log, st);
      a2.set<float>(s, a2s, ctx.log, st);
      double* d = deq.write_span<double>(s * I, I, ctx.log, st);
      if (d)
        for (std::int64_t j = 0; j < I; ++j) d[j] = static_cast<double>(nvfp4::dequant_element(q, 0, j)) / a2g;
    }
  }

  // GEMM2 epilogue: acc * output2_scale_scalar (g2_alphas) in fp32, stored bf16 (RNE) in the
  // permuted gemm2 output; the router weight is applied by finalize.
  std::uint16_t gemm2_epilogue(float acc, float g2_alpha, float) const override { return bf16_rne(acc * g2_alpha); }

  // finalizeKernel / finalizeKernelVecLoad (trtllm_fused_moe_dev_kernel.cu): fp32 `data = 0;
  // data += float(bf16 weight) * float(in)` in k order (nvcc contracts to FMA), one cast to
  // bf16. The weight is the bf16 of the packed top-k (trtllm_moe_pack_topk_ids_weights).
  void finalize(StageContext& ctx) override { finalize_fma_chain(ctx, /*bf16_router_weight=*/true); }
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) {
  if (spec.quant != "nvfp4")
    throw InputError(spec.file + ":/quant", "family flashinfer_trtllm_gen implements quant 'nvfp4' only so far, got '" + spec.quant + "'");
  return std::make_unique<TrtllmNvfp4>(spec);
}

}  // namespace moesim::kernels::trtllm_gen
