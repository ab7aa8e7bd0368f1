#include "sim/kernels/triton_moe_numerics.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>

#include "sim/core/error.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels::triton {

DotChain dot_chain_from_name(const std::string& name, const std::string& where) {
  if (name == "acc_chained") return DotChain::AccChained;
  if (name == "tile_then_add") return DotChain::TileThenAdd;
  throw InputError(where, "unknown dot_chain '" + name + "' (expected acc_chained | tile_then_add)");
}

Alignment moe_align_block_size(const std::int32_t* topk_ids, std::int64_t num_tokens,
                               std::int64_t top_k, std::int64_t num_experts, int block_m) {
  const std::int64_t numel = num_tokens * top_k;
  const std::int64_t bm = block_m;
  // moe_align_block_size.py: max_num_tokens_padded = numel + E*(BM-1), min(numel*BM, .) if numel < E.
  std::int64_t max_padded = numel + num_experts * (bm - 1);
  if (numel < num_experts) max_padded = std::min(numel * bm, max_padded);
  Alignment out;
  out.sorted_token_ids.assign(static_cast<std::size_t>(max_padded), static_cast<std::int32_t>(numel));
  out.expert_ids.assign(static_cast<std::size_t>((max_padded + bm - 1) / bm), -1);
  std::vector<std::int64_t> count(static_cast<std::size_t>(num_experts), 0);
  for (std::int64_t i = 0; i < numel; ++i) {
    const std::int32_t e = topk_ids[i];
    if (e >= 0 && e < num_experts) ++count[static_cast<std::size_t>(e)];  // ids >= E skipped
  }
  std::vector<std::int64_t> cumsum(static_cast<std::size_t>(num_experts) + 1, 0);
  for (std::int64_t e = 0; e < num_experts; ++e)
    cumsum[e + 1] = cumsum[e] + (count[e] + bm - 1) / bm * bm;
  out.num_tokens_post_padded = static_cast<std::int32_t>(cumsum[num_experts]);
  for (std::int64_t e = 0; e < num_experts; ++e)
    for (std::int64_t b = cumsum[e] / bm; b < cumsum[e + 1] / bm; ++b)
      if (b < static_cast<std::int64_t>(out.expert_ids.size())) out.expert_ids[b] = static_cast<std::int32_t>(e);
  std::vector<std::int64_t> fill(cumsum.begin(), cumsum.end() - 1);
  for (std::int64_t i = 0; i < numel; ++i) {
    const std::int32_t e = topk_ids[i];
    if (e < 0 || e >= num_experts) continue;
    const std::int64_t pos = fill[e]++;
    if (pos < max_padded) out.sorted_token_ids[pos] = static_cast<std::int32_t>(i);
  }
  // invoke_fused_moe_triton_kernel: EM = len(sorted); small-batch shrink if M < BLOCK_SIZE_M.
  out.em = max_padded;
  if (num_tokens < bm) out.em = std::min(max_padded, num_tokens * top_k * bm);
  return out;
}

std::uint16_t silu_bf16(std::uint16_t g) {
  const float x = bf16_to_f32(g);
  // silu_kernel: (T)((float)x / (1.0f + expf(-(float)x))); expf is CUDA's non-fast-math
  // expf. MODELLED: the host expf stands in for it; tests/replay compares every bf16 input
  // against the hardware table in tests/data/golden.
  return bf16_rne(x / (1.0f + std::exp(-x)));
}

std::uint16_t silu_and_mul(std::uint16_t g, std::uint16_t u) {
  // packed_mul / bf16 operator*: product of two bf16 in fp32 (exact), rounded to bf16.
  return bf16_rne(bf16_to_f32(silu_bf16(g)) * bf16_to_f32(u));
}

std::uint16_t moe_sum(const std::uint16_t* vals, std::int64_t top_k, std::int64_t stride) {
  if (top_k >= 2 && top_k <= 4) {
    std::uint16_t x = 0;  // scalar_t x = 0; x += input[k] (c10::BFloat16 +=: float add, RNE)
    for (std::int64_t k = 0; k < top_k; ++k) x = bf16_rne(bf16_to_f32(x) + bf16_to_f32(vals[k * stride]));
    return x;
  }
  // at::sum_out over dim 1: fp32 accumulation in k order (MODELLED order), one rounding.
  float acc = 0.0f;
  for (std::int64_t k = 0; k < top_k; ++k) acc += bf16_to_f32(vals[k * stride]);
  return bf16_rne(acc);
}

namespace {

struct GemmArgs {
  const char* a_name;
  const char* b_name;  // "w13" | "w2"
  std::int64_t n, k;
  std::int64_t top_k;  // A row = offs_token // top_k
  bool mul_routed_weight;
};

class TritonVariant final : public VariantImpl {
 public:
  explicit TritonVariant(const VariantSpec& spec) : spec_(spec) {
    cfg_.block_m = static_cast<int>(spec.param_int("block_m", 64));
    cfg_.block_n = static_cast<int>(spec.param_int("block_n", 64));
    cfg_.block_k = static_cast<int>(spec.param_int("block_k", 32));
    cfg_.group_m = static_cast<int>(spec.param_int("group_m", 8));
    chain_ = dot_chain_from_name(spec.param_string("dot_chain", "acc_chained"), spec.file + ":/params/dot_chain");
    if (cfg_.block_m <= 0 || cfg_.block_n <= 0 || cfg_.block_k <= 0 || cfg_.block_k % 16 != 0)
      throw InputError(spec.file + ":/params", "Triton tile config needs positive BLOCK_M/N and BLOCK_K a multiple of 16");
    if (spec.quant != "bf16")
      throw InputError(spec.file + ":/quant", "triton_fused_moe family implements quant 'bf16' only so far, got '" + spec.quant + "'");
  }

  void run_stage(StageContext& ctx) override {
    const std::string& kind = ctx.stage.kind;
    if (kind == "route_align") return align(ctx);
    if (kind == "gemm1") {
      return gemm(ctx, {ctx.stage.inputs.at(0).c_str(), "w13", ctx.problem.n1(), ctx.problem.hidden,
                        ctx.problem.top_k, false});
    }
    if (kind == "activation") return silu_and_mul_stage(ctx, spec_);
    if (kind == "gemm2") {
      return gemm(ctx, {ctx.stage.inputs.at(0).c_str(), "w2", ctx.problem.hidden, ctx.problem.intermediate,
                        1, true});
    }
    if (kind == "finalize") return moe_sum_stage(ctx);
    throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by the triton_fused_moe family");
  }

 private:
  void align(StageContext& ctx) {
    const MoeProblem& p = ctx.problem;
    EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(0));
    std::vector<std::int32_t> flat(static_cast<std::size_t>(p.slots()));
    for (std::int64_t i = 0; i < p.slots(); ++i) flat[i] = ids.get<std::int32_t>(i, ctx.log, ctx.stage.id);
    Alignment al = moe_align_block_size(flat.data(), p.num_tokens, p.top_k, p.num_experts, cfg_.block_m);
    EmuBuffer& sorted = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {static_cast<std::int64_t>(al.sorted_token_ids.size())});
    EmuBuffer& eids = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {static_cast<std::int64_t>(al.expert_ids.size())});
    EmuBuffer& meta = ctx.create(ctx.stage.outputs.at(2), ElemType::I32, {2});
    for (std::size_t i = 0; i < al.sorted_token_ids.size(); ++i) sorted.set<std::int32_t>(i, al.sorted_token_ids[i], ctx.log, ctx.stage.id);
    for (std::size_t i = 0; i < al.expert_ids.size(); ++i) eids.set<std::int32_t>(i, al.expert_ids[i], ctx.log, ctx.stage.id);
    meta.set<std::int32_t>(0, al.num_tokens_post_padded, ctx.log, ctx.stage.id);
    meta.set<std::int32_t>(1, static_cast<std::int32_t>(al.em), ctx.log, ctx.stage.id);
  }

  // fused_moe_kernel over the whole grid, expert by expert so only one expert's weights are
  // resident. Every output element is written by exactly one program, so the tile order and
  // the thread count never change a bit.
  void gemm(StageContext& ctx, const GemmArgs& g) {
    const MoeProblem& p = ctx.problem;
    const std::string& st = ctx.stage.id;
    EmuBuffer& a = ctx.in(g.a_name);
    EmuBuffer& sorted = ctx.in(ctx.stage.inputs.at(1));
    EmuBuffer& eids = ctx.in(ctx.stage.inputs.at(2));
    EmuBuffer& meta = ctx.in(ctx.stage.inputs.at(3));
    EmuBuffer* tw = g.mul_routed_weight ? &ctx.in(ctx.stage.inputs.at(4)) : nullptr;
    EmuBuffer& c = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), g.n});
    const std::int64_t num_valid = p.slots();
    const std::int64_t bm = cfg_.block_m, bn = cfg_.block_n;
    const std::int64_t post_pad = meta.get<std::int32_t>(0, ctx.log, st);
    const std::int64_t em = meta.get<std::int32_t>(1, ctx.log, st);
    const std::int64_t num_pid_m = (em + bm - 1) / bm;
    const std::int64_t num_pid_n = (g.n + bn - 1) / bn;
    const std::int64_t a_cols = a.cols();
    const mma::FdpaParams& prm = hopper_bf16_params();
    const mma::SimdPath path = mma::best_path();
    const std::vector<std::uint16_t> poison(static_cast<std::size_t>(g.k), kPoisonBF16);
    mma::PackedB pb;  // reused expert after expert (keeps its pages)

    // Blocks grouped by expert id (the kernel's early exits applied).
    std::map<std::int64_t, std::vector<std::int64_t>> blocks;
    for (std::int64_t pm = 0; pm < num_pid_m; ++pm) {
      if (pm * bm >= post_pad) continue;  // if pid_m*BLOCK_SIZE_M >= num_tokens_post_padded: return
      blocks[eids.get<std::int32_t>(pm, ctx.log, st)].push_back(pm);
    }
    for (const auto& [expert, pms] : blocks) {
      std::vector<std::pair<std::int64_t, std::int64_t>> tiles;
      for (std::int64_t pm : pms)
        for (std::int64_t pn = 0; pn < num_pid_n; ++pn) tiles.emplace_back(pm, pn);
      if (expert == -1) {  // write_zeros_to_output
        for (auto [pm, pn] : tiles) write_zeros(ctx, sorted, c, pm, pn, num_valid, g.n);
        continue;
      }
      if (expert < 0 || expert >= p.num_experts) {
        // off_experts * stride_be points outside B: an emulated out-of-bounds read.
        ctx.log.record({MemoryEvent::Kind::OobRead, g.b_name, st, expert * g.n * g.k, p.num_experts * g.n * g.k});
        continue;
      }
      const ExpertMatrix w = ctx.weights.read(g.b_name, expert);
      if (w.dtype != "bf16" || w.rows != g.n || w.cols != g.k)
        throw InputError(std::string(g.b_name) + "[" + std::to_string(expert) + "]",
                         "expected bf16 [" + std::to_string(g.n) + ", " + std::to_string(g.k) + "], got " + w.dtype +
                             " [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]");
      // The expert's B decoded once (exact doubles + alignment exponents, 8-column panels).
      pb.init(prm, static_cast<int>(g.n), static_cast<int>(g.k));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
      for (int q = 0; q < pb.panels(); ++q) pb.pack_panels(w.bf16(), g.k, q, q + 1);
      const int kp = pb.k_padded();

#pragma omp parallel num_threads(ctx.threads)
      {
        // Per-thread scratch, kept across experts and stages (OpenMP reuses its threads).
        thread_local mma::PackedA pa;  // the tile's A rows, decoded once per pid_m (every pid_n reuses them)
        thread_local std::vector<std::int64_t> toks;
        thread_local std::vector<const std::uint16_t*> rows;
        thread_local std::vector<float> wgts;
        thread_local std::vector<std::uint32_t> acc, part;
        thread_local std::vector<std::uint16_t> out;
        out.resize(static_cast<std::size_t>(bn));
        std::int64_t packed_pm = -1;
#pragma omp for schedule(static)
        for (std::size_t t = 0; t < tiles.size(); ++t) {
          const auto [pm, pn] = tiles[t];
          // The program's loads, in its order (each access is bounds-checked and logged).
          toks.clear();
          rows.clear();
          wgts.clear();
          for (std::int64_t r = 0; r < bm; ++r) {
            const std::int64_t tok = sorted.get<std::int32_t>(pm * bm + r, ctx.log, st);
            if (!(tok < num_valid)) continue;  // token_mask (sentinel rows are masked)
            const std::int64_t arow_idx = tok / g.top_k;
            const std::uint16_t* asrc = a.read_span<std::uint16_t>(arow_idx * a_cols, g.k, ctx.log, st);
            // Out-of-bounds A row: recorded; the kernel would compute on garbage (poison here).
            rows.push_back(asrc ? asrc : poison.data());
            toks.push_back(tok);
            wgts.push_back(tw ? tw->get<float>(tok, ctx.log, st) : 1.0f);
          }
          if (toks.empty()) continue;
          if (pm != packed_pm) {
            pa.pack(prm, static_cast<int>(g.k), rows);
            packed_pm = pm;
          }
          const std::int64_t n0 = pn * bn, n1 = std::min(g.n, n0 + bn);  // store mask offs_cn < N
          const std::int64_t width = n1 - n0;
          acc.assign(toks.size() * static_cast<std::size_t>(width), 0u);
          if (chain_ == DotChain::AccChained) {
            // acc += tl.dot(a, b): one wgmma chain over the whole K, fp32 accumulator from 0.
            mma::gemm_packed(prm, path, pa, pb, static_cast<int>(n0), static_cast<int>(n1), 0, kp, nullptr, 0,
                             acc.data(), width);
          } else {
            // Each BLOCK_K tile's dot from 0, then acc = acc + dot (fp32 add, RNE).
            part.resize(acc.size());
            for (std::int64_t k0 = 0; k0 < kp; k0 += cfg_.block_k) {
              mma::gemm_packed(prm, path, pa, pb, static_cast<int>(n0), static_cast<int>(n1), static_cast<int>(k0),
                               static_cast<int>(std::min<std::int64_t>(kp, k0 + cfg_.block_k)), nullptr, 0, part.data(),
                               width);
              for (std::size_t i = 0; i < acc.size(); ++i)
                acc[i] = std::bit_cast<std::uint32_t>(std::bit_cast<float>(acc[i]) + std::bit_cast<float>(part[i]));
            }
          }
          for (std::size_t i = 0; i < toks.size(); ++i) {
            for (std::int64_t n = 0; n < width; ++n) {
              float v = std::bit_cast<float>(acc[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(n)]);
              if (g.mul_routed_weight) v = v * wgts[i];  // fp32, after dequant/bias, before the cast
              out[static_cast<std::size_t>(n)] = bf16_rne(v);
            }
            std::uint16_t* dst = c.write_span<std::uint16_t>(toks[i] * g.n + n0, width, ctx.log, st);
            if (dst) std::copy(out.begin(), out.begin() + width, dst);
          }
        }
      }
    }
  }

  void write_zeros(StageContext& ctx, EmuBuffer& sorted, EmuBuffer& c, std::int64_t pm, std::int64_t pn,
                   std::int64_t num_valid, std::int64_t n) {
    const std::int64_t bm = cfg_.block_m, bn = cfg_.block_n;
    for (std::int64_t r = 0; r < bm; ++r) {
      const std::int64_t tok = sorted.get<std::int32_t>(pm * bm + r, ctx.log, ctx.stage.id);
      if (!(tok < num_valid)) continue;
      const std::int64_t n0 = pn * bn, n1 = std::min(n, n0 + bn);
      std::uint16_t* dst = c.write_span<std::uint16_t>(tok * n + n0, n1 - n0, ctx.log, ctx.stage.id);
      if (dst) std::fill(dst, dst + (n1 - n0), std::uint16_t{0});
    }
  }

  VariantSpec spec_;
  TileConfig cfg_;
  DotChain chain_ = DotChain::AccChained;
};

}  // namespace

void silu_and_mul_stage(StageContext& ctx, const VariantSpec& spec) {
  const MoeProblem& p = ctx.problem;
  if (!p.gated || p.activation != "silu")
    throw InputError(spec.file, spec.family + " activation implements gated silu only, trace has " +
                                    std::string(p.gated ? "gated " : "non-gated ") + p.activation);
  EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
  const std::int64_t d = p.intermediate;
  EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), d});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
  for (std::int64_t s = 0; s < p.slots(); ++s) {
    const std::uint16_t* src = in.read_span<std::uint16_t>(s * 2 * d, 2 * d, ctx.log, ctx.stage.id);
    std::uint16_t* dst = out.write_span<std::uint16_t>(s * d, d, ctx.log, ctx.stage.id);
    if (!src || !dst) continue;
    for (std::int64_t j = 0; j < d; ++j) dst[j] = silu_and_mul(src[j], src[d + j]);
  }
}

void moe_sum_stage(StageContext& ctx) {
  const MoeProblem& p = ctx.problem;
  EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
  const std::int64_t h = p.hidden;
  EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.num_tokens, h});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    const std::uint16_t* src = in.read_span<std::uint16_t>(t * p.top_k * h, p.top_k * h, ctx.log, ctx.stage.id);
    std::uint16_t* dst = out.write_span<std::uint16_t>(t * h, h, ctx.log, ctx.stage.id);
    if (!src || !dst) continue;
    for (std::int64_t j = 0; j < h; ++j) dst[j] = moe_sum(src + j, p.top_k, h);
  }
}

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec) { return std::make_unique<TritonVariant>(spec); }

}  // namespace moesim::kernels::triton
