#pragma once
// Shared NVFP4 MoE pieces for the Blackwell (SM100) NVFP4 kernel families (TRTLLM-gen,
// CuteDSL, CUTLASS):
//   * activation quantization to NVFP4 with a given global scale (sim/quant rules) and the
//     scale-factor layout the kernel reads (sim/quant/layout);
//   * decoded operand rows and the block-scaled dot product of one output element, a chain of
//     tcgen05.mma kind::mxf4nvf4 block_scale.scale_vec::4X steps modelled by the GST-FDPA row
//     "blackwell:tcgen05.mxf4nvf4.nvfp4" of models/mma/fdpa.json (sim/mma fdpa_step);
//   * the alpha epilogue, SwiGLU forms and the NVFP4 requantization of a 16-element block as
//     the CuteDSL epilogue writes it (FlashInfer v0.6.11.post2,
//     flashinfer/fused_moe/cute_dsl/blackwell/blockscaled_contiguous_gather_grouped_gemm_swiglu_fusion.py).
//
// Logical NVFP4 operand: packed e2m1 [rows, cols/2] (element 2i in the low nibble of byte i),
// e4m3 scale bytes [rows, cols/16] in LINEAR order; kernels that read another layout get
// their bytes through quant::sf_to_layout / sf_from_layout (the inverse layout), so values
// never depend on the layout.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sim/kernels/variant.hpp"
#include "sim/mma/fdpa_params.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/nvfp4.hpp"

namespace moesim::kernels::nvfp4 {

inline constexpr int kBlock = 16;     // elements per e4m3 block scale
inline constexpr int kInstK = 64;     // K of one mxf4nvf4 instruction (one fused step)

struct Nvfp4Matrix {
  std::int64_t rows = 0, cols = 0;    // logical elements
  std::vector<std::uint8_t> packed;   // [rows, cols/2]
  std::vector<std::uint8_t> sf;       // [rows, cols/16] e4m3 bytes, linear
};

// Quantizes rows of fp32 values (bf16 inputs widened exactly) with one global scale per
// row group as the rule's API takes it (`gs`, sim/quant semantics). cols % 16 == 0.
Nvfp4Matrix quantize_rows(const float* x, std::int64_t rows, std::int64_t cols, const quant::GlobalScale& gs,
                          quant::Nvfp4Rule rule);
// Same with one per-tensor global scale.
Nvfp4Matrix quantize_rows(const float* x, std::int64_t rows, std::int64_t cols, float global_scale,
                          quant::Nvfp4Rule rule);

// Scale bytes in a kernel's layout and back (padding bytes are 0, as the quantize kernels
// write them).
std::vector<std::uint8_t> scales_to_layout(const Nvfp4Matrix& m, quant::SfLayout layout);
std::vector<std::uint8_t> scales_from_layout(const std::uint8_t* laid, std::int64_t rows, std::int64_t cols,
                                             quant::SfLayout layout);

// The value an operand element stands for: e2m1(code) * e4m3(scale) (exact in fp32).
float dequant_element(const Nvfp4Matrix& m, std::int64_t r, std::int64_t c);

// One operand row decoded for the FDPA model: e2m1 codes one per uint32, one e4m3 scale byte
// per 16 elements, K zero-padded to a multiple of the instruction K (64): TMA fills
// out-of-bounds elements with 0 and the swizzled scale layouts pad scale columns to 4 (= 64
// elements) with 0 bytes; a zero code or zero scale gives a zero group term (e_zero).
struct OperandRow {
  std::int64_t k = 0, k_pad = 0;
  std::vector<std::uint32_t> codes;  // [k_pad]
  std::vector<std::uint32_t> sf;     // [k_pad / 16]
};
void decode_row(const std::uint8_t* packed, const std::uint8_t* sf, std::int64_t k, OperandRow& out);
void decode_row(const Nvfp4Matrix& m, std::int64_t r, OperandRow& out);

// The GST-FDPA parameters of tcgen05.mma kind::mxf4nvf4 (NVFP4, ue4m3 scales per 16), loaded
// once from models/mma/fdpa.json.
const mma::FdpaParams& sm100_nvfp4_mma();

// D = chain of fused steps over K (K order from 0, accumulator 0, each step's fp32 result the
// next step's C): the tensor-core accumulator of one output element. Returns fp32 bits.
// a and b must have the same k_pad.
std::uint32_t block_scaled_dot(const mma::FdpaParams& p, const OperandRow& a, const OperandRow& b);

// Epilogue alpha (per-expert w_global * a_global product the frameworks pass): one fp32
// multiply, RNE.
float apply_alpha(std::uint32_t acc_bits, float alpha);

// CuteDSL GEMM1 epilogue SwiGLU, vectorized_f32 path (the default):
//   up' = up*alpha, gate' = gate*alpha, t = gate' * (-LOG2E_f32),
//   s = rcp.approx.ftz(ex2.approx.ftz(t) + 1), out = (s * gate') * up'
// (cute.math.exp2(fastmath=True) -> ex2.approx.ftz.f32, cute.arch.rcp_approx ->
// rcp.approx.ftz.f32; SFU tables measured on sm_90, sim/quant/sfu).
float swiglu_cutedsl(float acc_gate, float acc_up, float alpha);

// A plain fp32 SwiGLU with IEEE expf and division, up*alpha_up * silu(gate*alpha_gate)
// (MODELLED stand-in where the kernel's source is not available: TRTLLM-gen cubins).
float swiglu_ieee(float gate, float up);

// CuteDSL epilogue NVFP4 quantization of one 16-element block (generate_sfc path):
//   pv = (amax * f32(1/6)) * norm_const; sf = cvt.rn.satfinite.e4m3(pv);
//   scale = fmin(rcp.approx.ftz(f32(sf)) * norm_const, FLT_MAX); q_i = cvt.rn.satfinite.e2m1(v_i*scale)
// Writes 8 packed bytes, returns the scale byte.
std::uint8_t requant_block_cutedsl(const float* v16, float norm_const, std::uint8_t* packed8);

}  // namespace moesim::kernels::nvfp4

// ---- Pipeline pieces shared by the NVFP4 MoE variants (emulated-memory plumbing) ----------
namespace moesim::kernels::nvfp4 {

// One expert's NVFP4 weight matrix [rows, cols] read through a WeightProvider: e2m1x2 data,
// ue4m3 block scales in any sim/quant layout (read back through the inverse layout: the
// trtllm-gen/CuteDSL shuffles and swizzles move bytes, not values), fp32 global (decode)
// scale. InputError naming the matrix on any mismatch.
struct ExpertNvfp4 {
  std::vector<OperandRow> rows;
  float global_scale = 1.0f;
};
ExpertNvfp4 read_expert(const WeightProvider& w, const std::string& which, std::int64_t expert, std::int64_t rows,
                        std::int64_t cols, int threads);

// Token ranges [begin, end) of a call split into chunks of `chunk` tokens (chunk <= 0: one).
std::vector<std::pair<std::int64_t, std::int64_t>> token_chunks(std::int64_t num_tokens, std::int64_t chunk);

// Slots [slot_begin, slot_end) grouped by expert in ascending slot order (the order
// moe_sort / the trtllm-gen routing place a chunk's tokens inside an expert is atomic on the
// GPU; rows are computed independently, so no value depends on it). Slots with an id outside
// [0, E) are not routed (EP masking).
std::vector<std::vector<std::int64_t>> slots_by_expert(const std::int32_t* ids, std::int64_t slot_begin,
                                                       std::int64_t slot_end, std::int64_t num_experts);

// Grouped NVFP4 GEMM: for every expert with slots, reads its `which` matrix once and calls
// sink(slot, expert, global_scale, acc) with the fp32 accumulator bits of row a(slot) x each
// weight row. OpenMP over the expert's slots (each sink call owns one slot).
void grouped_gemm(const WeightProvider& w, const std::string& which, std::int64_t n, std::int64_t k,
                  const std::vector<std::vector<std::int64_t>>& by_expert,
                  const std::function<const OperandRow&(std::int64_t slot)>& a,
                  const std::function<void(std::int64_t slot, std::int64_t expert, float gscale,
                                           const std::vector<std::uint32_t>& acc)>& sink,
                  int threads);

// Emulated-memory form of an NVFP4 tensor: codes one per I32 element [rows, cols], scale bytes
// one per I32 element [rows, cols/16].
void store_nvfp4_row(EmuBuffer& codes, EmuBuffer& sf, std::int64_t row, const std::uint8_t* packed,
                     const std::uint8_t* sfb, std::int64_t cols, MemoryLog& log, const std::string& stage);
// Reads one row back as an operand row (poison or out-of-range codes read as recorded events).
void load_operand_row(const EmuBuffer& codes, const EmuBuffer& sf, std::int64_t row, std::int64_t cols,
                      OperandRow& out, MemoryLog& log, const std::string& stage);

}  // namespace moesim::kernels::nvfp4

namespace moesim::kernels::nvfp4 {

// How the activation global scales (fc1 input, fc2 input) are obtained. The trace does not
// carry the checkpoint's calibrated input_scale, so a replay calibrates them from the call:
//  StaticCall:      amax over the whole call (a static checkpoint scale: every framework chunk
//                   uses the same value, as vLLM's a1_gscale / a2_gscale buffers do);
//  DynamicPerChunk: amax over each framework chunk (what a per-call dynamic scale would do).
enum class ScaleMode : std::uint8_t { StaticCall, DynamicPerChunk };
ScaleMode parse_scale_mode(const std::string& s, const std::string& where);

// The common skeleton of the NVFP4 MoE variants: parameters, framework chunking, and the
// stages every family shares (fc1 input quantization, routing metadata, GEMM1 accumulators,
// GEMM2). Family specifics (epilogues, finalize) are virtual.
class Nvfp4MoeBase : public VariantImpl {
 public:
  explicit Nvfp4MoeBase(const VariantSpec& spec);
  void run_stage(StageContext& ctx) override;

 protected:
  // Per-family stage kinds; the base handles quantize_act, route_align, gemm1 (raw
  // accumulators) and gemm2 (raw accumulators passed to gemm2_epilogue).
  virtual void activation(StageContext& ctx) = 0;
  virtual void finalize(StageContext& ctx) = 0;
  // GEMM2 output element from the raw accumulator: slot, expert-level alpha (a2_scale * w2
  // global scale), router weight (fp32 from the trace), accumulator value.
  virtual std::uint16_t gemm2_epilogue(float acc, float g2_alpha, float router_weight) const = 0;

  void quantize(StageContext& ctx);
  void route(StageContext& ctx);
  void gemm1(StageContext& ctx);
  void gemm2(StageContext& ctx);
  // The unfused combine both TRTLLM-gen's finalizeKernel and the batched CuteDSL path use:
  // per token, fp32 `data = fma(w_k, float(out_k), data)` over k ascending (slots whose
  // permuted index is -1, i.e. not on this rank, skipped), one RNE cast to bf16. Inputs:
  // [bf16 expert outputs, router weights, expanded->permuted map]. `bf16_router_weight`: the
  // weight is first rounded to bf16 (TRT-LLM packs top-k ids and weights that way).
  void finalize_fma_chain(StageContext& ctx, bool bf16_router_weight);

  // The buffers of every family's activation stage: inputs [GEMM1 accumulators [T*K, 2I],
  // per-slot alpha [T*K]] and outputs [dequantized act (f64) [T*K, I], e2m1 codes [T*K, I],
  // block scales [T*K, I/16], a2 scale [T*K]], created poisoned. InputError unless I % 16 == 0.
  struct ActivationBuffers {
    EmuBuffer &acc, &alpha, &deq, &codes, &sf, &a2;
  };
  ActivationBuffers activation_buffers(StageContext& ctx) const;

  // The fc2-input calibration: per slot, the amax of act(acc_gate, acc_up, alpha) over its row
  // (slots no local expert computed stay 0).
  template <class Act>
  std::vector<float> slot_amax(StageContext& ctx, EmuBuffer& acc, EmuBuffer& alpha, Act act) const {
    const MoeProblem& p = ctx.problem;
    const std::int64_t I = p.intermediate;
    std::vector<float> out(static_cast<std::size_t>(p.slots()), 0.0f);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      if (!alpha.written(s)) continue;  // not routed to a local expert
      const float* a = acc.read_span<float>(s * 2 * I, 2 * I, ctx.log, ctx.stage.id);
      if (!a) continue;
      const float g1 = alpha.get<float>(s, ctx.log, ctx.stage.id);
      float m = 0.0f;
      for (std::int64_t j = 0; j < I; ++j) m = std::fmax(m, std::fabs(act(a[j], a[I + j], g1)));
      out[static_cast<std::size_t>(s)] = m;
    }
    return out;
  }

  // Chunks of the current problem (framework chunking), and the a2 calibration helper:
  // per slot, the amax of `values` over the slot's scale group (whole call or its chunk).
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks(const MoeProblem& p) const;
  std::vector<float> calibrate_per_slot(const MoeProblem& p, const std::vector<float>& slot_amax) const;

  VariantSpec spec_;
  ScaleMode scale_mode_ = ScaleMode::StaticCall;
  std::int64_t chunk_tokens_ = -1;   // resolved: <= 0 none
  std::string chunk_source_;         // where the chunk size comes from
  // params.permuted_idx_to_expanded_idx: what the routing writes into the reverse map the
  // CuteDSL kernels read for each permuted row: "expanded_idx" (token*top_k + k, correct) or
  // "token_idx" (FlashInfer v0.6.4: the port wired mPtrPermutedIdxToTokenIdx into it, fixed by
  // PR #2629 in v0.6.5). Used when the variant declares the reverse-map buffer.
  bool reverse_map_token_ = false;
};

}  // namespace moesim::kernels::nvfp4
