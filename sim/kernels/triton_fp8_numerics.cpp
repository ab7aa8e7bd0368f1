#include "sim/kernels/triton_fp8_numerics.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>

#include "models/lib/mma_params.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/convert.hpp"
#include "sim/formats/fast.hpp"
#include "sim/kernels/triton_moe_numerics.hpp"
#include "sim/kernels/variant_arith.hpp"
#include "sim/mma/gemm.hpp"

namespace moesim::kernels::triton_fp8 {

// ------------------------------------------------------------------ activation quantizers

namespace {
// CUDA fmaxf / fminf (PTX max.f32 / min.f32): a NaN operand, quiet or signalling, is dropped
// and the other operand returned. glibc's fmaxf returns NaN for a signalling NaN (IEEE
// maxNum), so it is not used here: bf16 inputs with sNaN payloads reach these reductions.
float cuda_fmaxf(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a > b ? a : (b > a ? b : (std::signbit(a) ? b : a));
}
float cuda_fminf(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a < b ? a : (b < a ? b : (std::signbit(a) ? a : b));
}
}  // namespace

float per_tensor_scale(const std::uint16_t* x, std::int64_t n) {
  // fmaxf(acc, |x|) over the tensor (order does not matter for a max of non-negative values
  // with NaNs dropped).
  float amax = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) amax = cuda_fmaxf(amax, std::fabs(bf16_to_f32(x[i])));
  return amax / kE4M3Max;  // IEEE division (nvcc default -prec-div=true; vLLM _C has no fast-math)
}

float per_tensor_inverse(float scale) { return 1.0f / scale; }

std::uint8_t quantize_per_tensor(std::uint16_t x, float inv_scale) {
  const float v = bf16_to_f32(x) * inv_scale;
  const float r = cuda_fmaxf(-kE4M3Max, cuda_fminf(v, kE4M3Max));
  return fmt::fast::f32_to_e4m3_satfinite(r);  // cvt.rn.satfinite.e4m3x2.f32
}

float group_scale(const std::uint16_t* x, std::int64_t n, float eps) {
  float amax = eps;
  for (std::int64_t i = 0; i < n; ++i) amax = cuda_fmaxf(amax, std::fabs(bf16_to_f32(x[i])));
  return amax / kE4M3Max;
}

std::uint8_t quantize_group(std::uint16_t x, float y_s) {
  const float q = cuda_fminf(cuda_fmaxf(bf16_to_f32(x) / y_s, -kE4M3Max), kE4M3Max);
  // c10::Float8_e4m3fn(float) is RNE with NaN on overflow; q is clamped (or NaN only if y_s
  // made it so: x/0 with x = 0), so the satfinite cvt gives the same bits.
  return fmt::fast::f32_to_e4m3_satfinite(q);
}

std::uint16_t e4m3_to_bf16(std::uint8_t q) { return bf16_rne(fmt::fast::e4m3_to_f32(q)); }

std::uint8_t bf16_to_e4m3_exact(std::uint16_t b) { return fmt::fast::f32_to_e4m3_satfinite(bf16_to_f32(b)); }

namespace {

enum class ActQuant { PerTensor, Group };
enum class BlockAccumulate { Fma, MulThenAdd };

struct GemmArgs {
  const char* b_name;  // "w13" | "w2"
  std::int64_t n, k;
  std::int64_t top_k;  // A row = offs_token // top_k
  bool mul_routed_weight;
};

std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// The instruction a tl.dot(e4m3, e4m3) lowers to: an e4m3 MMA (Hopper wgmma, QGMMA), or an fp16
// MMA after Triton upcasts both operands to fp16 (what Triton 3.6 does for mma.sync on SM90:
// HMMA.16816.F32, recorded by the capture).
mma::FdpaParams find_inst(const models::FdpaTable& table, const std::string& key, const std::string& where) {
  const auto colon = key.find(':');
  if (colon == std::string::npos) throw InputError(where, "expected 'arch:inst', got '" + key + "'");
  mma::FdpaParams p = table.find(key.substr(0, colon), key.substr(colon + 1));
  const bool e4m3 = p.a == mma::Operand::E4M3 && p.b == mma::Operand::E4M3;
  const bool f16 = p.a == mma::Operand::FP16 && p.b == mma::Operand::FP16;
  if (!(e4m3 || f16) || p.c != mma::Operand::FP32 || !mma::gemm_supported(p))
    throw InputError(where, key + " is not an e4m3 (or fp16-upcast) -> fp32 T-FDPA instruction with a fast GEMM kernel");
  return p;
}

// e4m3fn -> fp16 bits: exact (every e4m3 value is an fp16 value), as cvt.rn.f16x2.e4m3x2.
std::uint16_t e4m3_to_fp16(std::uint8_t q) {
  static const std::vector<std::uint16_t> table = [] {
    std::vector<std::uint16_t> t(256);
    for (std::uint32_t b = 0; b < 256; ++b) t[b] = static_cast<std::uint16_t>(fmt::convert(fmt::kE4M3FN, fmt::kFP16, b, {}));
    return t;
  }();
  return table[q];
}

// params.mma_sync_k_order = k32_pairs: the K order in which Triton 3.6 feeds an e4m3 tl.dot to
// fp16 mma.sync (BLOCK_SIZE_M < 64). The 8-bit dot operand layout gives each thread 4
// consecutive k per register (kWidth 4); after the exact upcast to fp16 the two
// HMMA.16816.F32 of every 32-wide K chunk take k % 4 in {0, 1} first, then k % 4 in {2, 3}
// (each in ascending k). Recorded on the H200 by scripts/gpu/mma_sync_probe.py (membership
// probe: 376 of 376 ordered pairs; random chains, K up to 7168: 0 mismatches with this order,
// 10-87 % of sampled outputs differ with the contiguous order), tests/data/mma/triton_*.
// Returns, for each slot p of a 32-chunk, the original k it holds.
const std::array<int, 32>& k32_pairs_order() {
  static const std::array<int, 32> order = [] {
    std::array<int, 32> o{};
    int p = 0;
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 32; ++k)
        if ((k % 4 < 2) == (half == 0)) o[static_cast<std::size_t>(p++)] = k;
    return o;
  }();
  return order;
}

// Reorders one zero-padded operand row (length a multiple of 32) into the MMA step order.
void permute_k32_pairs(std::uint16_t* row, std::int64_t kp) {
  const auto& o = k32_pairs_order();
  std::array<std::uint16_t, 32> tmp{};
  for (std::int64_t c = 0; c < kp; c += 32) {
    for (int p = 0; p < 32; ++p) tmp[static_cast<std::size_t>(p)] = row[c + o[static_cast<std::size_t>(p)]];
    std::memcpy(row + c, tmp.data(), sizeof tmp);
  }
}

class TritonFp8Variant final : public VariantImpl {
 public:
  explicit TritonFp8Variant(const VariantSpec& spec) : spec_(spec) {
    const std::string where = spec.file + ":/params";
    cfg_.block_m = static_cast<int>(spec.param_int("block_m", 64));
    cfg_.block_n = static_cast<int>(spec.param_int("block_n", 64));
    cfg_.block_k = static_cast<int>(spec.param_int("block_k", 128));
    cfg_.group_m = static_cast<int>(spec.param_int("group_m", 8));
    if (spec.quant == "fp8_per_tensor") quant_ = ActQuant::PerTensor;
    else if (spec.quant == "fp8_block128") quant_ = ActQuant::Group;
    else throw InputError(spec.file + ":/quant", "triton_fused_moe_fp8 implements fp8_per_tensor and fp8_block128, got '" + spec.quant + "'");
    group_n_ = spec.param_int("group_n", 128);
    group_k_ = spec.param_int("group_k", 128);
    const std::string acc = spec.param_string("block_accumulate", "fma");
    if (acc == "fma") block_acc_ = BlockAccumulate::Fma;
    else if (acc == "mul_then_add") block_acc_ = BlockAccumulate::MulThenAdd;
    else throw InputError(where + "/block_accumulate", "unknown '" + acc + "' (expected fma | mul_then_add)");
    // Where the router weight enters the per-tensor epilogue. vLLM #31962 (Jan 2026; 52a31cce
    // is after it) orders it dequant -> bias -> weight: ((acc * a_scale) * b_scale) * w. Before
    // it (#31931; e.g. 13cb3e44, which the H200 production goldens ran) fused_moe_kernel does
    // acc * moe_weight first and then `(accumulator * a_scale * b_scale)`.
    const std::string epi = spec.param_string("per_tensor_epilogue", "scales_then_weight");
    if (epi == "scales_then_weight") weight_first_ = false;
    else if (epi == "weight_then_scales") weight_first_ = true;
    else throw InputError(where + "/per_tensor_epilogue", "unknown '" + epi + "' (expected scales_then_weight | weight_then_scales)");
    wgmma_min_m_ = spec.param_int("wgmma_min_block_m", 64);
    const models::FdpaTable table = models::FdpaTable::load_default();
    wgmma_ = find_inst(table, spec.param_string("mma_wgmma", "hopper:wgmma.e4m3.f32"), where + "/mma_wgmma");
    sync_ = find_inst(table, spec.param_string("mma_sync", "hopper:wgmma.e4m3.f32"), where + "/mma_sync");
    if (cfg_.block_m <= 0 || cfg_.block_n <= 0 || cfg_.block_k <= 0 || group_n_ <= 0 || group_k_ <= 0)
      throw InputError(where, "Triton tile config and block shape must be positive");
    // invoke_fused_moe_triton_kernel: BLOCK_SIZE_K = min(BLOCK_SIZE_K, min(block_shape)).
    if (quant_ == ActQuant::Group) cfg_.block_k = static_cast<int>(std::min<std::int64_t>(cfg_.block_k, std::min(group_n_, group_k_)));
    for (const auto* p : {&wgmma_, &sync_})
      if (cfg_.block_k % p->k != 0)
        throw InputError(where + "/block_k", "BLOCK_SIZE_K " + std::to_string(cfg_.block_k) + " is not a multiple of the " +
                                                 p->key() + " K of " + std::to_string(p->k));
    if (quant_ == ActQuant::Group && group_k_ % cfg_.block_k != 0)
      throw InputError(where + "/block_k", "BLOCK_SIZE_K must divide group_k for block quantization");
    const std::string order = spec.param_string("mma_sync_k_order", "contiguous");
    if (order == "k32_pairs") sync_k32_pairs_ = true;
    else if (order != "contiguous")
      throw InputError(where + "/mma_sync_k_order", "unknown '" + order + "' (expected contiguous | k32_pairs)");
    if (sync_k32_pairs_ && cfg_.block_m < wgmma_min_m_ && cfg_.block_k % 32 != 0)
      throw InputError(where + "/block_k", "mma_sync_k_order k32_pairs needs BLOCK_SIZE_K to be a multiple of 32, got " +
                                               std::to_string(cfg_.block_k));
  }

  void run_stage(StageContext& ctx) override {
    const std::string& kind = ctx.stage.kind;
    const MoeProblem& p = ctx.problem;
    if (kind == "route_align") return align(ctx);
    if (kind == "quantize_act" || kind == "requantize") return quantize(ctx);
    if (kind == "gemm1") return gemm(ctx, {"w13", p.n1(), p.hidden, p.top_k, false});
    if (kind == "activation") return triton::silu_and_mul_stage(ctx, spec_);
    if (kind == "gemm2") return gemm(ctx, {"w2", p.hidden, p.intermediate, 1, true});
    if (kind == "finalize") return triton::moe_sum_stage(ctx);
    throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by the triton_fused_moe_fp8 family");
  }

 private:
  void align(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(0));
    std::vector<std::int32_t> flat(static_cast<std::size_t>(p.slots()));
    for (std::int64_t i = 0; i < p.slots(); ++i) flat[i] = ids.get<std::int32_t>(i, ctx.log, st);
    const triton::Alignment al = triton::moe_align_block_size(flat.data(), p.num_tokens, p.top_k, p.num_experts, cfg_.block_m);
    EmuBuffer& sorted = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {static_cast<std::int64_t>(al.sorted_token_ids.size())});
    EmuBuffer& eids = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {static_cast<std::int64_t>(al.expert_ids.size())});
    EmuBuffer& meta = ctx.create(ctx.stage.outputs.at(2), ElemType::I32, {2});
    for (std::size_t i = 0; i < al.sorted_token_ids.size(); ++i) sorted.set<std::int32_t>(i, al.sorted_token_ids[i], ctx.log, st);
    for (std::size_t i = 0; i < al.expert_ids.size(); ++i) eids.set<std::int32_t>(i, al.expert_ids[i], ctx.log, st);
    meta.set<std::int32_t>(0, al.num_tokens_post_padded, ctx.log, st);
    meta.set<std::int32_t>(1, static_cast<std::int32_t>(al.em), ctx.log, st);
  }

  // moe_kernel_quantize_input -> _fp8_quantize: scaled_fp8_quant (dynamic, per tensor) or
  // per_token_group_quant_fp8(A, block_k) (CUDA op). Outputs: q (e4m3 widened to bf16) and
  // the f32 decode scales ([1] or [rows, cols / group_k]).
  void quantize(StageContext& ctx) {
    const std::string& st = ctx.stage.id;
    EmuBuffer& x = ctx.in(ctx.stage.inputs.at(0));
    const std::int64_t rows = x.rows(), cols = x.cols();
    EmuBuffer& q = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {rows, cols});
    const std::uint16_t* src = x.read_span<std::uint16_t>(0, rows * cols, ctx.log, st);
    if (quant_ == ActQuant::PerTensor) {
      EmuBuffer& s = ctx.create(ctx.stage.outputs.at(1), ElemType::F32, {1});
      if (!src) return;
      const float scale = per_tensor_scale(src, rows * cols);
      const float inv = per_tensor_inverse(scale);
      s.set<float>(0, scale, ctx.log, st);
      std::uint16_t* dst = q.write_span<std::uint16_t>(0, rows * cols, ctx.log, st);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (std::int64_t i = 0; i < rows * cols; ++i) dst[i] = e4m3_to_bf16(quantize_per_tensor(src[i], inv));
      return;
    }
    if (cols % group_k_ != 0)  // per_token_group_quant_fp8: assert x.shape[-1] % group_size == 0
      throw InputError(spec_.file + ":/params/group_k", "stage '" + st + "': " + std::to_string(cols) +
                                                            " columns are not a multiple of the group size " + std::to_string(group_k_));
    const std::int64_t groups = cols / group_k_;
    EmuBuffer& s = ctx.create(ctx.stage.outputs.at(1), ElemType::F32, {rows, groups});
    if (!src) return;
    std::uint16_t* dst = q.write_span<std::uint16_t>(0, rows * cols, ctx.log, st);
    float* sc = s.write_span<float>(0, rows * groups, ctx.log, st);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::int64_t g = 0; g < rows * groups; ++g) {
      const std::uint16_t* in = src + g * group_k_;
      const float ys = group_scale(in, group_k_);
      sc[g] = ys;
      for (std::int64_t j = 0; j < group_k_; ++j) dst[g * group_k_ + j] = e4m3_to_bf16(quantize_group(in[j], ys));
    }
  }

  // fused_moe_kernel with use_fp8_w8a8, expert by expert. Every output element depends only
  // on its token row, column, expert and the K order, so the rows of one expert are computed
  // as one GEMM (rows split across threads; no cross-thread reduction).
  void gemm(StageContext& ctx, const GemmArgs& g) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& a = ctx.in(ctx.stage.inputs.at(0));
    EmuBuffer& as = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer& sorted = ctx.in(ctx.stage.inputs.at(2));
    EmuBuffer& eids = ctx.in(ctx.stage.inputs.at(3));
    EmuBuffer& meta = ctx.in(ctx.stage.inputs.at(4));
    EmuBuffer* tw = g.mul_routed_weight ? &ctx.in(ctx.stage.inputs.at(5)) : nullptr;
    EmuBuffer& c = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), g.n});
    const std::int64_t num_valid = p.slots();
    const std::int64_t bm = cfg_.block_m, bn = cfg_.block_n, bk = cfg_.block_k;
    const std::int64_t post_pad = meta.get<std::int32_t>(0, ctx.log, st);
    const std::int64_t em = meta.get<std::int32_t>(1, ctx.log, st);
    const std::int64_t num_pid_m = cdiv(em, bm);
    const std::int64_t a_cols = a.cols();
    const std::int64_t k_blocks = cdiv(g.k, bk);
    const std::int64_t kp = k_blocks * bk;  // masked loads zero-fill the K tail
    const std::int64_t scale_cols_a = quant_ == ActQuant::Group ? cdiv(g.k, group_k_) : 1;
    const mma::FdpaParams& inst = bm >= wgmma_min_m_ ? wgmma_ : sync_;
    // K blocks are multiples of 32 (checked), so the permutation never crosses a K block.
    const bool permute = bm < wgmma_min_m_ && sync_k32_pairs_;
    const mma::SimdPath path = mma::best_path();

    std::map<std::int64_t, std::vector<std::int64_t>> blocks;  // expert -> its pid_m blocks
    for (std::int64_t pm = 0; pm < num_pid_m; ++pm) {
      if (pm * bm >= post_pad) continue;
      blocks[eids.get<std::int32_t>(pm, ctx.log, st)].push_back(pm);
    }
    // Scratch reused across experts (packing keeps its pages; no per-expert zero-fill of
    // tens of MB).
    std::vector<std::uint16_t> abits, bbits;
    std::vector<float> ascale, acc;
    mma::PackedB pb;
    mma::PackedA pa;
    for (const auto& [expert, pms] : blocks) {
      std::vector<std::int64_t> toks;  // valid rows (token_mask) of this expert's blocks
      for (std::int64_t pm : pms)
        for (std::int64_t r = 0; r < bm; ++r) {
          const std::int64_t tok = sorted.get<std::int32_t>(pm * bm + r, ctx.log, st);
          if (tok < num_valid) toks.push_back(tok);
        }
      if (expert == -1) {  // write_zeros_to_output
        for (std::int64_t tok : toks) {
          std::uint16_t* dst = c.write_span<std::uint16_t>(tok * g.n, g.n, ctx.log, st);
          if (dst) std::fill(dst, dst + g.n, std::uint16_t{0});
        }
        continue;
      }
      if (expert < 0 || expert >= p.num_experts) {
        ctx.log.record({MemoryEvent::Kind::OobRead, g.b_name, st, expert * g.n * g.k, p.num_experts * g.n * g.k});
        continue;
      }
      (void)bn;  // BLOCK_SIZE_N only tiles columns; offs_bn wrap-around columns are never stored
      if (toks.empty()) continue;  // only sentinel rows: the kernel stores nothing
      const ExpertMatrix w = ctx.weights.read(g.b_name, expert);
      check_weights(w, g, expert);
      const std::int64_t rows = static_cast<std::int64_t>(toks.size());
      // A rows (e4m3 bits, zero-filled to kp) and their scales.
      abits.assign(static_cast<std::size_t>(rows * kp), 0);
      ascale.assign(static_cast<std::size_t>(rows * scale_cols_a), 0.0f);
      // Router weight per row, for an epilogue that applies it before the dequant scales.
      const bool weight_in_tile = g.mul_routed_weight && weight_first_ && quant_ == ActQuant::PerTensor;
      std::vector<float> roww(weight_in_tile ? static_cast<std::size_t>(rows) : 0);
      for (std::int64_t r = 0; weight_in_tile && r < rows; ++r) roww[r] = tw->get<float>(toks[r], ctx.log, st);
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t arow = toks[r] / g.top_k;
        const std::uint16_t* src = a.read_span<std::uint16_t>(arow * a_cols, g.k, ctx.log, st);
        for (std::int64_t j = 0; j < g.k; ++j) abits[r * kp + j] = operand(inst, bf16_to_e4m3_exact(src ? src[j] : kPoisonBF16));
        if (permute) permute_k32_pairs(abits.data() + r * kp, kp);
        for (std::int64_t s = 0; s < scale_cols_a; ++s)
          ascale[r * scale_cols_a + s] = quant_ == ActQuant::PerTensor ? as.get<float>(0, ctx.log, st)
                                                                       : as.get<float>(arow * scale_cols_a + s, ctx.log, st);
      }
      bbits.resize(static_cast<std::size_t>(g.n * kp));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (std::int64_t n = 0; n < g.n; ++n) {
        std::uint16_t* dst = bbits.data() + n * kp;
        for (std::int64_t j = 0; j < g.k; ++j) dst[j] = operand(inst, w.bytes[static_cast<std::size_t>(n * g.k + j)]);
        std::fill(dst + g.k, dst + kp, std::uint16_t{0});  // masked K tail
        if (permute) permute_k32_pairs(dst, kp);
      }
      // Decode once: B (the expert's weights) in column panels, A (its token rows).
      pb.init(inst, static_cast<int>(g.n), static_cast<int>(kp));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (int panel = 0; panel < pb.panels(); ++panel) pb.pack_panels(bbits.data(), kp, panel, panel + 1);
      std::vector<const std::uint16_t*> arows(static_cast<std::size_t>(rows));
      for (std::int64_t r = 0; r < rows; ++r) arows[r] = abits.data() + r * kp;
      pa.pack(inst, static_cast<int>(kp), arows);

      // Fixed (row, column) tiles so a few rows per expert still use every thread; each
      // element belongs to exactly one tile, so the bits never depend on the thread count.
      acc.assign(static_cast<std::size_t>(rows * g.n), 0.0f);
      const std::int64_t scale_cols_b = cdiv(g.k, group_k_);
      const std::int64_t cc = 64;
      const std::int64_t ct = cdiv(g.n, cc);
#pragma omp parallel num_threads(ctx.threads)
      {
        std::vector<std::uint32_t> d(static_cast<std::size_t>(rows * cc));
#pragma omp for schedule(static)
        for (std::int64_t t = 0; t < ct; ++t) {
          const std::int64_t c0 = t * cc, c1 = std::min(g.n, c0 + cc), nw = c1 - c0;
          if (quant_ == ActQuant::PerTensor) {
            // accumulator = tl.dot(a, b, acc=accumulator): one chain over every K block from 0,
            // then accumulator * a_scale * b_scale.
            mma::gemm_packed(inst, path, pa, pb, static_cast<int>(c0), static_cast<int>(c1), 0, static_cast<int>(kp), nullptr,
                             0, d.data(), nw);
            const float bs = w.scale.at(0);
            for (std::int64_t r = 0; r < rows; ++r)
              for (std::int64_t j = 0; j < nw; ++j)
                acc[r * g.n + c0 + j] = weight_in_tile
                                            ? ((f32_from_bits(d[r * nw + j]) * roww[r]) * ascale[r * scale_cols_a]) * bs
                                            : (f32_from_bits(d[r * nw + j]) * ascale[r * scale_cols_a]) * bs;
            continue;
          }
          // accumulator += tl.dot(a, b) * a_scale[:, None] * b_scale[None, :], per K block:
          // each block's dot starts from 0.
          for (std::int64_t kb = 0; kb < k_blocks; ++kb) {
            mma::gemm_packed(inst, path, pa, pb, static_cast<int>(c0), static_cast<int>(c1), static_cast<int>(kb * bk),
                             static_cast<int>((kb + 1) * bk), nullptr, 0, d.data(), nw);
            const std::int64_t ks = kb * bk / group_k_;  // offs_ks = k_start // group_k
            for (std::int64_t r = 0; r < rows; ++r) {
              const float as_r = ascale[r * scale_cols_a + ks];
              for (std::int64_t j = 0; j < nw; ++j) {
                const std::int64_t n = c0 + j;
                const float t1 = f32_from_bits(d[r * nw + j]) * as_r;
                const float bsv = w.scale[static_cast<std::size_t>((n / group_n_) * scale_cols_b + ks)];
                float& a_ = acc[r * g.n + n];
                a_ = block_acc_ == BlockAccumulate::Fma ? std::fma(t1, bsv, a_) : a_ + t1 * bsv;
              }
            }
          }
        }
      }
      // Epilogue: (bias: none) -> router weight in fp32 -> one RNE cast to bf16.
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t tok = toks[r];
        const float wgt = tw ? tw->get<float>(tok, ctx.log, st) : 1.0f;
        std::uint16_t* dst = c.write_span<std::uint16_t>(tok * g.n, g.n, ctx.log, st);
        if (!dst) continue;
        for (std::int64_t n = 0; n < g.n; ++n) {
          float v = acc[r * g.n + n];
          if (g.mul_routed_weight && !(weight_first_ && quant_ == ActQuant::PerTensor)) v = v * wgt;
          dst[n] = bf16_rne(v);
        }
      }
    }
  }

  // Operand bits for the instruction: e4m3 bytes as they are, or their exact fp16 image.
  static std::uint16_t operand(const mma::FdpaParams& inst, std::uint8_t q) {
    return inst.a == mma::Operand::FP16 ? e4m3_to_fp16(q) : q;
  }

  static float f32_from_bits(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }

  void check_weights(const ExpertMatrix& w, const GemmArgs& g, std::int64_t expert) const {
    const std::string where = std::string(g.b_name) + "[" + std::to_string(expert) + "]";
    if (w.dtype != "fp8_e4m3fn" || w.rows != g.n || w.cols != g.k)
      throw InputError(where, "expected fp8_e4m3fn [" + std::to_string(g.n) + ", " + std::to_string(g.k) + "], got " + w.dtype +
                                  " [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]");
    const std::size_t want = quant_ == ActQuant::PerTensor
                                 ? 1u
                                 : static_cast<std::size_t>(cdiv(g.n, group_n_) * cdiv(g.k, group_k_));
    if (w.scale.size() != want)
      throw InputError(where + "_scale", "expected " + std::to_string(want) + " f32 weight scales per expert (" +
                                             (quant_ == ActQuant::PerTensor ? std::string("per tensor")
                                                                            : "[cdiv(N,128), cdiv(K,128)]") +
                                             "), got " + std::to_string(w.scale.size()));
  }

  VariantSpec spec_;
  triton::TileConfig cfg_;
  ActQuant quant_ = ActQuant::PerTensor;
  BlockAccumulate block_acc_ = BlockAccumulate::Fma;
  bool weight_first_ = false;  // params.per_tensor_epilogue = weight_then_scales
  std::int64_t group_n_ = 128, group_k_ = 128, wgmma_min_m_ = 64;
  bool sync_k32_pairs_ = false;  // params.mma_sync_k_order (see k32_pairs_order)
  mma::FdpaParams wgmma_, sync_;
};

}  // namespace

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) { return std::make_unique<TritonFp8Variant>(spec); }

}  // namespace moesim::kernels::triton_fp8
