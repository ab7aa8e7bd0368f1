#include "sim/kernels/cutlass_moe_numerics.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "models/lib/mma_params.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/fast.hpp"
#include "sim/mma/gemm.hpp"
#include "sim/quant/nvfp4.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::kernels::cutlass {

// ---------------------------------------------------------------- fast-math fp32 pieces

float ftz(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7F800000u) == 0 && (u & 0x007FFFFFu) != 0) return std::bit_cast<float>(u & 0x80000000u);
  return x;
}
float fmul_ftz(float a, float b) { return ftz(ftz(a) * ftz(b)); }
float fadd_ftz(float a, float b) { return ftz(ftz(a) + ftz(b)); }
float fma_ftz(float a, float b, float c) { return ftz(std::fma(ftz(a), ftz(b), ftz(c))); }

float expf_fastmath(float x) {
  // CUDA's __expf is exp2f_approx(x * 1.4426950408889634f) (0x3FB8AA3B); under -ftz the
  // multiply is FMUL.FTZ and the MUFU.EX2 is the .ftz form.
  return quant::ex2_approx_ftz(fmul_ftz(x, std::bit_cast<float>(0x3FB8AA3Bu)));
}

float sigmoid_fastmath(float x) {
  const float den = fadd_ftz(1.0f, expf_fastmath(-x));  // -x: a sign flip, exact
  return quant::rcp_approx_ftz(den);                     // 1 * rcp(den): the multiply by 1 is exact
}

float swiglu_fastmath(float gate, float linear) {
  // GLUAdaptor<SiLu>: fn(gate) * linear with SiLu<Array> = mul(value, Sigmoid<Array>(value)).
  return fmul_ftz(fmul_ftz(gate, sigmoid_fastmath(gate)), linear);
}

std::uint16_t swiglu_to_bf16(std::uint16_t gate, std::uint16_t linear) {
  const float v = swiglu_fastmath(bf16_to_f32(gate), bf16_to_f32(linear));
  return bf16_rne(fmul_ftz(v, 1.0f));  // post_act_val = gate_act * quant_scale (1.f without fp8)
}

std::uint8_t swiglu_to_e4m3(std::uint16_t gate, std::uint16_t linear, float quant_scale) {
  const float v = swiglu_fastmath(bf16_to_f32(gate), bf16_to_f32(linear));
  return fmt::fast::f32_to_e4m3_satfinite(fmul_ftz(v, quant_scale));  // cvt.rn.satfinite.e4m3x2.f32
}

std::uint16_t epilogue_bf16(float acc, float alpha) {
  // beta * C + alpha * acc with beta = 0: the fma adds +0*C, which turns a -0 into +0.
  float d = fmul_ftz(alpha, acc);
  if (d == 0.0f) d = 0.0f;
  return bf16_rne(d);
}

std::uint16_t finalize_element(const std::uint16_t* rows, std::int64_t stride, const float* scales,
                               const bool* valid, std::int64_t top_k) {
  float acc = 0.0f;  // thread_output.fill(0)
  for (std::int64_t k = 0; k < top_k; ++k) {
    if (!valid[k]) continue;
    acc = fma_ftz(scales[k], bf16_to_f32(rows[k * stride]), acc);  // thread_output + row_scale * x
  }
  return bf16_rne(acc);
}

float ue8m0_scale_convertor(std::uint8_t s) { return std::bit_cast<float>(std::uint32_t(s) << 23); }

float w4a16_mxfp4_dot(const Bf16Row& a, const Bf16Row& w, const std::uint8_t* scales, std::int64_t k) {
  float acc = 0.0f;
  for (std::int64_t g = 0; g * 32 < k; ++g) {
    const float inter = hopper_bf16_dot_chain(a, w, g * 32, std::min<std::int64_t>(a.padded, g * 32 + 32), 0.0f);
    const float s = ue8m0_scale_convertor(scales[g]);
    acc = g == 0 ? fmul_ftz(inter, s) : fma_ftz(inter, s, acc);
  }
  return acc;
}

std::uint8_t quantize_input_e4m3(std::uint16_t x_bf16, float inv_scale) {
  return fmt::fast::f32_to_e4m3_satfinite(bf16_to_f32(x_bf16) * inv_scale);
}

Nvfp4Row nvfp4_row(const std::uint8_t* packed, const std::uint8_t* sf, std::int64_t k) {
  Nvfp4Row r;
  nvfp4::decode_row(packed, sf, k, r);
  return r;
}

float nvfp4_dot(const Nvfp4Row& a, const Nvfp4Row& b) {
  return std::bit_cast<float>(nvfp4::block_scaled_dot(nvfp4::sm100_nvfp4_mma(), a, b));
}

namespace {

enum class Quant { Bf16, Fp8PerTensor, Mxfp4W4A16, Nvfp4 };

double param_number(const VariantSpec& spec, const std::string& key, double dflt) {
  auto it = spec.params.find(key);
  if (it == spec.params.end()) return dflt;
  if (it->value().is_double()) return it->value().as_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().as_int64());
  throw InputError(spec.file + ":/params/" + key, "expected a number");
}

std::string shape_str(std::int64_t r, std::int64_t c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

// One expert's weight matrix prepared for the mainloop: bf16-decoded rows (exact images of the
// stored elements) and, for MXFP4, the ue8m0 group scales in logical [n, k/32] order.
struct PreparedWeights {
  mma::PackedB pb;                   // bf16 / W4A16: the bf16 image of B, packed once
  std::vector<std::uint16_t> bf16w;  // bf16 / W4A16: [n, k] bf16 bits (W4A16: e2m1 values, unscaled)
  std::vector<std::uint16_t> fp8;    // fp8: [n, k_padded] e4m3 codes (one per uint16, as mma::gemm_rows reads)
  std::vector<std::uint8_t> scales;  // mxfp4: [n, k/32]
  float per_tensor_scale = 1.0f;     // fp8: weight dequant scale; nvfp4: weight global decode scale
  std::vector<Nvfp4Row> nvfp4;       // nvfp4: [n] rows
};

class CutlassVariant final : public VariantImpl {
 public:
  explicit CutlassVariant(const VariantSpec& spec) : spec_(spec) {
    if (spec.quant == "bf16") quant_ = Quant::Bf16;
    else if (spec.quant == "fp8_per_tensor") quant_ = Quant::Fp8PerTensor;
    else if (spec.quant == "mxfp4_w4a16") quant_ = Quant::Mxfp4W4A16;
    else if (spec.quant == "nvfp4") quant_ = Quant::Nvfp4;
    else
      throw InputError(spec.file + ":/quant", "flashinfer_cutlass implements quant bf16 | fp8_per_tensor | mxfp4_w4a16 | nvfp4, got '" +
                                                  spec.quant + "'");
    weight_layout_ = spec.param_string("weight_layout", "linear");
    if (weight_layout_ != "linear" && weight_layout_ != "sm90_interleave_v0.6.10")
      throw InputError(spec.file + ":/params/weight_layout",
                       "unknown weight layout '" + weight_layout_ + "' (expected linear | sm90_interleave_v0.6.10)");
    // The fused-finalize GEMM2 epilogue (red.global.add in arrival order) is not emulated.
    if (spec.param_string("finalize", "unfused") != "unfused")
      throw InputError(spec.file + ":/params/finalize",
                       "only the unfused finalizeMoeRoutingKernel is emulated (the fused epilogue's atomics have no fixed order)");
    if (quant_ == Quant::Fp8PerTensor) {
      a1_scale_ = static_cast<float>(param_number(spec, "a1_scale", 1.0));
      a2_scale_ = static_cast<float>(param_number(spec, "a2_scale", 1.0));
      if (!(a1_scale_ > 0.0f) || !(a2_scale_ > 0.0f) || !std::isfinite(a1_scale_) || !std::isfinite(a2_scale_))
        throw InputError(spec.file + ":/params", "a1_scale and a2_scale must be positive finite numbers");
      fp8_params_ = models::FdpaTable::load_default().find("hopper", "wgmma.e4m3.f32");
    }
    if (quant_ == Quant::Nvfp4) {
      // Activation decode global scales (vLLM's input_scale = calibrated amax / 2688).
      a1_scale_ = static_cast<float>(param_number(spec, "a1_global_decode", 1.0));
      a2_scale_ = static_cast<float>(param_number(spec, "a2_global_decode", 1.0));
      if (!(a1_scale_ > 0.0f) || !(a2_scale_ > 0.0f) || !std::isfinite(a1_scale_) || !std::isfinite(a2_scale_))
        throw InputError(spec.file + ":/params", "a1_global_decode and a2_global_decode must be positive finite numbers");
      (void)nvfp4::sm100_nvfp4_mma();
    }
  }

  void run_stage(StageContext& ctx) override {
    const std::string& kind = ctx.stage.kind;
    if (kind == "route_align") return route(ctx);
    if (kind == "quantize_act") return quant_ == Quant::Nvfp4 ? expand(ctx) : quantize_input(ctx);  // NVFP4: fused in expandInputRows
    if (kind == "permute") return expand(ctx);
    if (kind == "gemm1") return gemm(ctx, true);
    if (kind == "activation") return activation(ctx);
    if (kind == "gemm2") return gemm(ctx, false);
    if (kind == "finalize") return finalize(ctx);
    throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by the flashinfer_cutlass family");
  }

 private:
  // Routing: expert_first_token_offset and the permutation. Rows of one expert are ordered by
  // token ("SortFirstToken"); the order changes no value (every row is computed alone).
  // Kernel row numbering: unpermuted_row = k * T + t; canonical slot = t * K + k.
  void route(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t n = p.slots();
    EmuBuffer& perm_to_unperm = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {n});
    EmuBuffer& unperm_to_perm = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {n});
    EmuBuffer& offsets = ctx.create(ctx.stage.outputs.at(2), ElemType::I32, {p.num_experts + 1});
    std::vector<std::int64_t> count(static_cast<std::size_t>(p.num_experts) + 1, 0);
    std::vector<std::int32_t> expert(static_cast<std::size_t>(n));
    for (std::int64_t s = 0; s < n; ++s) {
      expert[s] = ids.get<std::int32_t>(s, ctx.log, st);
      if (expert[s] >= 0 && expert[s] < p.num_experts) ++count[expert[s] + 1];
    }
    for (std::int64_t e = 0; e < p.num_experts; ++e) count[e + 1] += count[e];
    for (std::int64_t e = 0; e <= p.num_experts; ++e) offsets.set<std::int32_t>(e, static_cast<std::int32_t>(count[e]), ctx.log, st);
    std::vector<std::int64_t> fill(count.begin(), count.end() - 1);
    // Rows of experts not on this rank get -1 and are never computed (finalize skips them).
    for (std::int64_t unperm = 0; unperm < n; ++unperm) unperm_to_perm.set<std::int32_t>(unperm, -1, ctx.log, st);
    for (std::int64_t t = 0; t < p.num_tokens; ++t)
      for (std::int64_t k = 0; k < p.top_k; ++k) {
        const std::int32_t e = expert[t * p.top_k + k];
        if (e < 0 || e >= p.num_experts) continue;
        const std::int64_t pos = fill[e]++;
        const std::int64_t unperm = k * p.num_tokens + t;
        perm_to_unperm.set<std::int32_t>(pos, static_cast<std::int32_t>(unperm), ctx.log, st);
        unperm_to_perm.set<std::int32_t>(unperm, static_cast<std::int32_t>(pos), ctx.log, st);
      }
    // Permuted rows beyond the valid count exist in the workspace but are never touched.
    for (std::int64_t pos = count[p.num_experts]; pos < n; ++pos) perm_to_unperm.set<std::int32_t>(pos, -1, ctx.log, st);
  }

  // The caller's static per-tensor fp8 quantization of the layer input (FlashInfer requires
  // pre-quantized fp8 input). Values are kept widened to f32 (exact) in emulated memory.
  void quantize_input(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::F32, {p.num_tokens, p.hidden});
    const float inv = 1.0f / a1_scale_;
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t t = 0; t < p.num_tokens; ++t) {
      const std::uint16_t* src = in.read_span<std::uint16_t>(t * p.hidden, p.hidden, ctx.log, ctx.stage.id);
      float* dst = out.write_span<float>(t * p.hidden, p.hidden, ctx.log, ctx.stage.id);
      if (!src || !dst) continue;
      for (std::int64_t j = 0; j < p.hidden; ++j) dst[j] = fmt::fast::e4m3_to_f32(quantize_input_e4m3(src[j], inv));
    }
  }

  // expandInputRowsKernel: permuted_output[permuted_row] = input[unpermuted_row % T] (a copy;
  // no conversion for bf16 or pre-quantized fp8).
  void expand(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& perm_to_unperm = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer& offsets = ctx.in(ctx.stage.inputs.at(2));
    const std::int64_t valid = offsets.get<std::int32_t>(p.num_experts, ctx.log, st);
    if (quant_ == Quant::Nvfp4) return expand_nvfp4(ctx, in, perm_to_unperm, valid);
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), in.type(), {valid, p.hidden});
    const std::size_t es = elem_size(in.type());
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t r = 0; r < valid; ++r) {
      const std::int64_t unperm = perm_to_unperm.get<std::int32_t>(r, ctx.log, st);
      const std::int64_t src_row = p.num_tokens > 0 ? unperm % p.num_tokens : 0;
      if (es == 2) {
        const std::uint16_t* s = in.read_span<std::uint16_t>(src_row * p.hidden, p.hidden, ctx.log, st);
        std::uint16_t* d = out.write_span<std::uint16_t>(r * p.hidden, p.hidden, ctx.log, st);
        if (s && d) std::copy(s, s + p.hidden, d);
      } else {
        const float* s = in.read_span<float>(src_row * p.hidden, p.hidden, ctx.log, st);
        float* d = out.write_span<float>(r * p.hidden, p.hidden, ctx.log, st);
        if (s && d) std::copy(s, s + p.hidden, d);
      }
    }
  }


  // NVFP4 quantization of rows of bf16 values as cvt_warp_fp16_to_fp4<bf16, 16, 8, false>
  // (sim/quant rule VllmKernel) with the encode global scale; codes and e4m3 scale bytes go to
  // two I32 buffers (one code / one byte per element).
  void quantize_rows_nvfp4(const std::uint16_t* src, std::int64_t cols, float encode_gs, std::int32_t* codes,
                           std::int32_t* sf) const {
    std::vector<float> x(static_cast<std::size_t>(cols));
    for (std::int64_t j = 0; j < cols; ++j) x[j] = bf16_to_f32(src[j]);
    quant::GlobalScale gs;
    gs.values = {encode_gs};
    const quant::Nvfp4Result q = quant::quantize_nvfp4(x.data(), 1, cols, gs, quant::Nvfp4Rule::VllmKernel);
    for (std::int64_t j = 0; j < cols; ++j)
      codes[j] = j % 2 == 0 ? (q.packed[j / 2] & 0xF) : (q.packed[j / 2] >> 4);
    for (std::int64_t g = 0; g < cols / 16; ++g) sf[g] = q.scales[g];
  }

  void expand_nvfp4(StageContext& ctx, EmuBuffer& in, EmuBuffer& perm_to_unperm, std::int64_t valid) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    if (p.hidden % 16 != 0)
      throw InputError(spec_.file, "NVFP4 expandInputRows needs hidden % 16 == 0, got " + std::to_string(p.hidden));
    EmuBuffer& codes = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {valid, p.hidden});
    EmuBuffer& sf = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {valid, p.hidden / 16});
    const float encode = 1.0f / a1_scale_;  // fc1_act_global = 1 / input_scale (framework side)
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t r = 0; r < valid; ++r) {
      const std::int64_t unperm = perm_to_unperm.get<std::int32_t>(r, ctx.log, st);
      const std::int64_t src_row = p.num_tokens > 0 ? unperm % p.num_tokens : 0;
      const std::uint16_t* s = in.read_span<std::uint16_t>(src_row * p.hidden, p.hidden, ctx.log, st);
      std::int32_t* c = codes.write_span<std::int32_t>(r * p.hidden, p.hidden, ctx.log, st);
      std::int32_t* f = sf.write_span<std::int32_t>(r * (p.hidden / 16), p.hidden / 16, ctx.log, st);
      if (s && c && f) quantize_rows_nvfp4(s, p.hidden, encode, c, f);
    }
  }

  // Fills `pw` (reused across experts, so the packed pages are allocated once per replay).
  void prepare(PreparedWeights& pw, const WeightProvider& provider, const std::string& which, std::int64_t expert,
               std::int64_t n, std::int64_t k, int threads) const {
    const ExpertMatrix w = provider.read(which, expert);
    const std::string where = which + "[" + std::to_string(expert) + "]";
    pw.per_tensor_scale = 1.0f;
    if (quant_ == Quant::Bf16) {
      if (w.dtype != "bf16" || w.rows != n || w.cols != k || w.bytes.size() != static_cast<std::size_t>(n * k * 2))
        throw InputError(where, "expected bf16 " + shape_str(n, k) + ", got " + w.dtype + " " + shape_str(w.rows, w.cols));
      pw.bf16w.assign(w.bf16(), w.bf16() + n * k);
      pack_b(pw, n, k, threads);
      return;
    }
    if (quant_ == Quant::Fp8PerTensor) {
      if (w.dtype != "fp8_e4m3fn" || w.rows != n || w.cols != k)
        throw InputError(where, "expected fp8_e4m3fn " + shape_str(n, k) + ", got " + w.dtype + " " + shape_str(w.rows, w.cols));
      if (w.scale.size() != 1 || !(w.scale[0] > 0.0f) || !std::isfinite(w.scale[0]))
        throw InputError(where, "fp8 per-tensor weights need exactly one positive finite scale, got " +
                                    std::to_string(w.scale.size()) + " values");
      if (w.bytes.size() != static_cast<std::size_t>(n * k))
        throw InputError(where, "expected " + std::to_string(n * k) + " bytes, got " + std::to_string(w.bytes.size()));
      pw.per_tensor_scale = w.scale[0];
      const std::int64_t kp = padded_k(k);
      pw.fp8.assign(static_cast<std::size_t>(n * kp), 0);  // TMA zero-fills the K tail
      for (std::int64_t r = 0; r < n; ++r) std::copy(w.bytes.begin() + r * k, w.bytes.begin() + (r + 1) * k, pw.fp8.begin() + r * kp);
      return;
    }
    if (quant_ == Quant::Nvfp4) {
      if (w.dtype != "e2m1x2" || w.rows != n || w.cols * 2 != k || k % 16 != 0 ||
          w.bytes.size() != static_cast<std::size_t>(n * k / 2))
        throw InputError(where, "expected e2m1x2 " + shape_str(n, k / 2) + " with K a multiple of 16, got " + w.dtype + " " +
                                    shape_str(w.rows, w.cols));
      if (w.scale_dtype != "ue4m3" || !w.global_scale || !(*w.global_scale > 0.0f) || !std::isfinite(*w.global_scale))
        throw InputError(where, "NVFP4 weights need ue4m3 block scales and a positive finite global (decode) scale");
      const quant::SfLayout layout = quant::parse_layout(w.scale_layout);
      if (w.scale_bytes.size() != static_cast<std::size_t>(quant::sf_layout_size(layout, n, k / 16)))
        throw InputError(where, "expected " + std::to_string(quant::sf_layout_size(layout, n, k / 16)) + " scale bytes in " +
                                    w.scale_layout + ", got " + std::to_string(w.scale_bytes.size()));
      const std::vector<std::uint8_t> sf = quant::sf_from_layout(w.scale_bytes.data(), n, k / 16, layout);
      pw.per_tensor_scale = *w.global_scale;
      pw.nvfp4.resize(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static) num_threads(threads)
      for (std::int64_t r = 0; r < n; ++r) pw.nvfp4[r] = nvfp4_row(w.bytes.data() + r * (k / 2), sf.data() + r * (k / 16), k);
      return;
    }
    // MXFP4 weights (W4A16): [n, k/2] packed e2m1 (element 2i in the low nibble) and ue8m0 group
    // scales [n, k/32], both possibly in the SM90 interleaved layout of FlashInfer v0.6.10+.
    if ((w.dtype != "e2m1x2" && w.dtype != "mxfp4") || w.rows != n || w.cols * 2 != k || k % 32 != 0)
      throw InputError(where, "expected e2m1x2 " + shape_str(n, k / 2) + " with K a multiple of 32, got " + w.dtype + " " +
                                  shape_str(w.rows, w.cols));
    if (w.bytes.size() != static_cast<std::size_t>(n * k / 2))
      throw InputError(where, "expected " + std::to_string(n * k / 2) + " bytes, got " + std::to_string(w.bytes.size()));
    const std::int64_t kg = k / 32;
    // Scales come either as raw ue8m0 bytes with their layout tag (trace adapter) or as decoded
    // fp32 values (in-memory providers) in the layout params.weight_layout names.
    std::vector<std::uint8_t> sbytes;
    std::string layout = weight_layout_;
    if (!w.scale_bytes.empty()) {
      if (w.scale_dtype != "ue8m0")
        throw InputError(where, "MXFP4 scales must be ue8m0, got '" + w.scale_dtype + "'");
      if (w.scale_layout != "linear" && w.scale_layout != "sm90_interleave_v0.6.10")
        throw InputError(where, "MXFP4 scale layout '" + w.scale_layout + "' is not modelled (linear | sm90_interleave_v0.6.10)");
      sbytes = w.scale_bytes;
      layout = w.scale_layout;
    } else {
      sbytes.resize(w.scale.size());
      for (std::size_t i = 0; i < w.scale.size(); ++i) {
        const float s = w.scale[i];  // the decoded ue8m0 value 2^(b-127)
        const std::uint32_t u = std::bit_cast<std::uint32_t>(s);
        if (std::isnan(s)) sbytes[i] = 0xFF;
        else if (u == 0x00400000u) sbytes[i] = 0;
        else if ((u & 0x807FFFFFu) == 0 && u != 0) sbytes[i] = static_cast<std::uint8_t>(u >> 23);
        else throw InputError(where + " scale[" + std::to_string(i) + "]", "value " + std::to_string(s) + " is not a ue8m0 power of two");
      }
    }
    if (static_cast<std::int64_t>(sbytes.size()) != n * kg)
      throw InputError(where, "expected " + std::to_string(n * kg) + " ue8m0 scales, got " + std::to_string(sbytes.size()));
    std::vector<std::uint8_t> packed(w.bytes.begin(), w.bytes.end());
    if (layout == "sm90_interleave_v0.6.10") {
      packed = quant::sm90_deinterleave_weights_v0610(packed.data(), 1, n, k, quant::Sm90WeightType::Fp4);
      sbytes = quant::sm90_deinterleave_scales_v0610(sbytes.data(), 1, n, kg, 32);
    }
    pw.scales = std::move(sbytes);
    pw.bf16w.resize(static_cast<std::size_t>(n * k));
    for (std::int64_t i = 0; i < n * k; ++i) {
      const std::uint8_t byte = packed[static_cast<std::size_t>(i / 2)];
      const std::uint8_t code = (i % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      pw.bf16w[i] = bf16_rne(fmt::fast::e2m1_to_f32(code));  // exact: every e2m1 value is a bf16
    }
    pack_b(pw, n, k, threads);
    return;
  }

  std::int64_t padded_k(std::int64_t k) const { return (k + 31) / 32 * 32; }

  static void pack_b(PreparedWeights& pw, std::int64_t n, std::int64_t k, int threads) {
    pw.pb.init(hopper_bf16_params(), static_cast<int>(n), static_cast<int>(k));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int q = 0; q < pw.pb.panels(); ++q) pw.pb.pack_panels(pw.bf16w.data(), k, q, q + 1);
  }

  // bf16 x bf16 (and W4A16 after the exact e2m1 -> bf16 conversion) through sim/mma's packed
  // T-FDPA chains, 64 permuted rows at a time. Bf16: one chain over K from 0. W4A16: one chain
  // per 32-wide group from 0, then acc = inter_0 * s_0, acc = fma(inter_g, s_g, acc).
  void gemm_bf16_rows(StageContext& ctx, EmuBuffer& a, EmuBuffer& perm_to_unperm, EmuBuffer& c, const PreparedWeights& w,
                      std::int64_t r0, std::int64_t r1, std::int64_t n, std::int64_t k, bool first) const {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    const mma::FdpaParams& prm = hopper_bf16_params();
    const mma::SimdPath path = mma::best_path();
    const int kp = w.pb.k_padded();
    constexpr std::int64_t kChunk = 64;
    const std::int64_t chunks = (r1 - r0 + kChunk - 1) / kChunk;
    const std::vector<std::uint16_t> poison(static_cast<std::size_t>(k), kPoisonBF16);
#pragma omp parallel num_threads(ctx.threads)
    {
      mma::PackedA pa;
      std::vector<const std::uint16_t*> rows;
      std::vector<std::int64_t> slots;
      std::vector<std::uint32_t> acc, part;
      std::vector<std::uint16_t> out(static_cast<std::size_t>(n));
#pragma omp for schedule(static)
      for (std::int64_t ch = 0; ch < chunks; ++ch) {
        rows.clear();
        slots.clear();
        for (std::int64_t r = r0 + ch * kChunk; r < std::min(r1, r0 + (ch + 1) * kChunk); ++r) {
          const std::int64_t unperm = perm_to_unperm.get<std::int32_t>(r, ctx.log, st);
          const std::int64_t slot = (unperm % p.num_tokens) * p.top_k + unperm / p.num_tokens;
          const std::uint16_t* src = a.read_span<std::uint16_t>((first ? r : slot) * k, k, ctx.log, st);
          rows.push_back(src ? src : poison.data());  // out-of-bounds A row: recorded, computed on poison
          slots.push_back(slot);
        }
        pa.pack(prm, static_cast<int>(k), rows);
        const std::size_t m = rows.size();
        acc.assign(m * static_cast<std::size_t>(n), 0u);
        if (quant_ == Quant::Bf16) {
          mma::gemm_packed(prm, path, pa, w.pb, 0, static_cast<int>(n), 0, kp, nullptr, 0, acc.data(), n);
        } else {
          part.resize(acc.size());
          const std::int64_t kg = k / 32;
          for (std::int64_t g = 0; g < kg; ++g) {
            mma::gemm_packed(prm, path, pa, w.pb, 0, static_cast<int>(n), static_cast<int>(g * 32),
                             static_cast<int>(g * 32 + 32), nullptr, 0, part.data(), n);
            for (std::size_t i = 0; i < m; ++i)
              for (std::int64_t col = 0; col < n; ++col) {
                const std::size_t at = i * static_cast<std::size_t>(n) + static_cast<std::size_t>(col);
                const float s = ue8m0_scale_convertor(w.scales[static_cast<std::size_t>(col * kg + g)]);
                const float inter = std::bit_cast<float>(part[at]);
                acc[at] = std::bit_cast<std::uint32_t>(g == 0 ? fmul_ftz(inter, s)
                                                              : fma_ftz(inter, s, std::bit_cast<float>(acc[at])));
              }
          }
        }
        for (std::size_t i = 0; i < m; ++i) {
          for (std::int64_t col = 0; col < n; ++col)
            out[col] = epilogue_bf16(std::bit_cast<float>(acc[i * static_cast<std::size_t>(n) + static_cast<std::size_t>(col)]), 1.0f);
          std::uint16_t* dst = c.write_span<std::uint16_t>(slots[i] * n, n, ctx.log, st);
          if (dst) std::copy(out.begin(), out.end(), dst);
        }
      }
    }
  }

  // Grouped GEMM over permuted rows, expert by expert; outputs in canonical slot order.
  // GEMM1: A = permuted_input, N = 2I (FlashInfer's w3/w1 order is [up; gate]; the canonical
  // buffer keeps [gate; up] so every column is the same dot product, only placed as vLLM does).
  void gemm(StageContext& ctx, bool first) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& a = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& perm_to_unperm = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer& offsets = ctx.in(ctx.stage.inputs.at(2));
    const std::int64_t n = first ? p.n1() : p.hidden;
    const std::int64_t k = first ? p.hidden : p.intermediate;
    const char* which = first ? "w13" : "w2";
    EmuBuffer* a_sf = quant_ == Quant::Nvfp4 ? &ctx.in(ctx.stage.inputs.at(3)) : nullptr;  // NVFP4 scale bytes of A
    EmuBuffer& c = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), n});
    if (p.num_tokens == 0) return;
    // GEMM2 reads the activation output in canonical slot order; GEMM1 reads permuted rows.
    for (std::int64_t e = 0; e < p.num_experts; ++e) {
      const std::int64_t r0 = offsets.get<std::int32_t>(e, ctx.log, st), r1 = offsets.get<std::int32_t>(e + 1, ctx.log, st);
      if (r1 <= r0) continue;
      prepare(prepared_, ctx.weights, which, e, n, k, ctx.threads);
      const PreparedWeights& w = prepared_;
      float alpha = 1.0f;
      if (quant_ == Quant::Fp8PerTensor || quant_ == Quant::Nvfp4)
        alpha = w.per_tensor_scale * (first ? a1_scale_ : a2_scale_);  // fc{1,2}_dequant[e] / fc{1,2}_global[e]
      if (quant_ == Quant::Bf16 || quant_ == Quant::Mxfp4W4A16) {
        gemm_bf16_rows(ctx, a, perm_to_unperm, c, w, r0, r1, n, k, first);
        continue;
      }
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (std::int64_t r = r0; r < r1; ++r) {
        const std::int64_t unperm = perm_to_unperm.get<std::int32_t>(r, ctx.log, st);
        const std::int64_t slot = (unperm % p.num_tokens) * p.top_k + unperm / p.num_tokens;
        const std::int64_t a_row = first ? r : slot;
        std::vector<std::uint16_t> out(static_cast<std::size_t>(n));
        if (quant_ == Quant::Nvfp4) {
          EmuBuffer& asf = *a_sf;
          const std::int32_t* cs = a.read_span<std::int32_t>(a_row * k, k, ctx.log, st);
          const std::int32_t* fs = asf.read_span<std::int32_t>(a_row * (k / 16), k / 16, ctx.log, st);
          std::vector<std::uint8_t> packed(static_cast<std::size_t>(k / 2), 0x77), sfb(static_cast<std::size_t>(k / 16), 0x7F);
          if (cs)  // poisoned / out-of-range rows read as NaN-free garbage: max codes and a NaN scale
            for (std::int64_t j = 0; j < k; j += 2)
              packed[j / 2] = static_cast<std::uint8_t>((cs[j] & 0xF) | ((cs[j + 1] & 0xF) << 4));
          if (fs)
            for (std::int64_t g = 0; g < k / 16; ++g) sfb[g] = static_cast<std::uint8_t>(fs[g]);
          const Nvfp4Row arow = nvfp4_row(packed.data(), sfb.data(), k);
          for (std::int64_t col = 0; col < n; ++col) out[col] = epilogue_bf16(nvfp4_dot(arow, w.nvfp4[col]), alpha);
        } else if (quant_ == Quant::Fp8PerTensor) {
          const float* src = a.read_span<float>(a_row * k, k, ctx.log, st);
          const std::int64_t kp = padded_k(k);
          std::vector<std::uint16_t> arow(static_cast<std::size_t>(kp), 0);
          for (std::int64_t j = 0; j < k; ++j)  // exact: the values are on the e4m3 grid
            arow[j] = src ? fmt::fast::f32_to_e4m3_satfinite(src[j]) : std::uint16_t{0x7F};
          std::vector<std::uint32_t> cz(static_cast<std::size_t>(n), 0), d(static_cast<std::size_t>(n));
          mma::gemm_rows(fp8_params_, mma::best_path(), 1, static_cast<int>(n), static_cast<int>(kp), arow.data(),
                         w.fp8.data(), cz.data(), d.data(), 0, 1);
          for (std::int64_t col = 0; col < n; ++col) out[col] = epilogue_bf16(std::bit_cast<float>(d[col]), alpha);
        }
        std::uint16_t* dst = c.write_span<std::uint16_t>(slot * n, n, ctx.log, st);
        if (dst) std::copy(out.begin(), out.end(), dst);
      }
    }
  }

  // doActivationKernel with GLUAdaptor<SiLu>; canonical [gate; up] halves.
  void activation(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    if (!p.gated || p.activation != "silu")
      throw InputError(spec_.file, "flashinfer_cutlass activation implements Swiglu (gated silu) only, trace has " +
                                       std::string(p.gated ? "gated " : "non-gated ") + p.activation);
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t d = p.intermediate;
    if (quant_ == Quant::Nvfp4) return activation_nvfp4(ctx, in);
    const bool fp8 = quant_ == Quant::Fp8PerTensor;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), fp8 ? ElemType::F32 : ElemType::BF16, {p.slots(), d});
    const float quant_scale = 1.0f / a2_scale_;  // fc2_quant = 1 / a2_scale (framework side, IEEE)
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!routed(ctx, s)) continue;  // slots of experts not on this rank are never computed
      const std::uint16_t* src = in.read_span<std::uint16_t>(s * 2 * d, 2 * d, ctx.log, ctx.stage.id);
      if (!src) continue;
      if (fp8) {
        float* dst = out.write_span<float>(s * d, d, ctx.log, ctx.stage.id);
        if (dst)
          for (std::int64_t j = 0; j < d; ++j) dst[j] = fmt::fast::e4m3_to_f32(swiglu_to_e4m3(src[j], src[d + j], quant_scale));
      } else {
        std::uint16_t* dst = out.write_span<std::uint16_t>(s * d, d, ctx.log, ctx.stage.id);
        if (dst)
          for (std::int64_t j = 0; j < d; ++j) dst[j] = swiglu_to_bf16(src[j], src[d + j]);
      }
    }
  }

  // doActivationKernel with IsNVFP4: post_act_val = swiglu * 1 (no fp8_quant), cast to the
  // GEMM output type (bf16) inside quantizePackedFPXValue, then cvt_warp_fp16_to_fp4 with
  // fc2_act_global. Outputs codes / scale bytes in canonical slot order.
  void activation_nvfp4(StageContext& ctx, EmuBuffer& in) {
    const MoeProblem& p = ctx.problem;
    const std::int64_t d = p.intermediate;
    if (d % 16 != 0) throw InputError(spec_.file, "NVFP4 activation needs intermediate % 16 == 0, got " + std::to_string(d));
    EmuBuffer& codes = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {p.slots(), d});
    EmuBuffer& sf = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {p.slots(), d / 16});
    const float encode = 1.0f / a2_scale_;  // fc2_act_global = 1 / fc2 input_scale
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!routed(ctx, s)) continue;
      const std::uint16_t* src = in.read_span<std::uint16_t>(s * 2 * d, 2 * d, ctx.log, ctx.stage.id);
      std::int32_t* c = codes.write_span<std::int32_t>(s * d, d, ctx.log, ctx.stage.id);
      std::int32_t* f = sf.write_span<std::int32_t>(s * (d / 16), d / 16, ctx.log, ctx.stage.id);
      if (!src || !c || !f) continue;
      std::vector<std::uint16_t> v(static_cast<std::size_t>(d));
      for (std::int64_t j = 0; j < d; ++j) v[j] = swiglu_to_bf16(src[j], src[d + j]);
      quantize_rows_nvfp4(v.data(), d, encode, c, f);
    }
  }

  bool routed(StageContext& ctx, std::int64_t slot) const {
    auto it = ctx.buffers.find("topk_ids");
    if (it == ctx.buffers.end()) return true;
    const std::int32_t e = it->second.get<std::int32_t>(slot, ctx.log, ctx.stage.id);
    return e >= 0 && e < ctx.problem.num_experts;
  }

  // finalizeMoeRoutingKernel (the unfused path).
  void finalize(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer& tw = ctx.in(ctx.stage.inputs.at(2));
    const std::int64_t h = p.hidden;
    EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.num_tokens, h});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t t = 0; t < p.num_tokens; ++t) {
      std::vector<float> scales(static_cast<std::size_t>(p.top_k));
      std::unique_ptr<bool[]> valid(new bool[static_cast<std::size_t>(p.top_k)]);
      for (std::int64_t k = 0; k < p.top_k; ++k) {
        const std::int32_t e = ids.get<std::int32_t>(t * p.top_k + k, ctx.log, st);
        valid[k] = e >= 0 && e < p.num_experts;
        scales[k] = tw.get<float>(t * p.top_k + k, ctx.log, st);
      }
      std::vector<std::uint16_t> rows(static_cast<std::size_t>(p.top_k * h), 0);
      for (std::int64_t k = 0; k < p.top_k; ++k) {
        if (!valid[k]) continue;
        const std::uint16_t* src = in.read_span<std::uint16_t>((t * p.top_k + k) * h, h, ctx.log, st);
        if (src) std::copy(src, src + h, rows.begin() + k * h);
        else std::fill(rows.begin() + k * h, rows.begin() + (k + 1) * h, kPoisonBF16);
      }
      std::uint16_t* dst = out.write_span<std::uint16_t>(t * h, h, ctx.log, st);
      if (!dst) continue;
      for (std::int64_t j = 0; j < h; ++j) dst[j] = finalize_element(rows.data() + j, h, scales.data(), valid.get(), p.top_k);
    }
  }

  VariantSpec spec_;
  Quant quant_ = Quant::Bf16;
  std::string weight_layout_ = "linear";
  float a1_scale_ = 1.0f, a2_scale_ = 1.0f;
  mma::FdpaParams fp8_params_;
  PreparedWeights prepared_;  // one expert's weights at a time, buffers reused across experts
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) { return std::make_unique<CutlassVariant>(spec); }

}  // namespace moesim::kernels::cutlass
