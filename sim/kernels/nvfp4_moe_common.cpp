#include "sim/kernels/nvfp4_moe_common.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "models/lib/mma_params.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/fast.hpp"
#include "sim/mma/fdpa.hpp"
#include "sim/quant/sfu.hpp"

namespace moesim::kernels::nvfp4 {

Nvfp4Matrix quantize_rows(const float* x, std::int64_t rows, std::int64_t cols, const quant::GlobalScale& gs,
                          quant::Nvfp4Rule rule) {
  gs.validate(rows, "nvfp4 activation global scale");
  quant::Nvfp4Result q = quant::quantize_nvfp4(x, rows, cols, gs, rule);
  Nvfp4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.packed = std::move(q.packed);
  m.sf = std::move(q.scales);
  return m;
}

Nvfp4Matrix quantize_rows(const float* x, std::int64_t rows, std::int64_t cols, float global_scale,
                          quant::Nvfp4Rule rule) {
  quant::GlobalScale gs;
  gs.values = {global_scale};
  return quantize_rows(x, rows, cols, gs, rule);
}

std::vector<std::uint8_t> scales_to_layout(const Nvfp4Matrix& m, quant::SfLayout layout) {
  return quant::sf_to_layout(m.sf.data(), m.rows, m.cols / kBlock, layout);
}

std::vector<std::uint8_t> scales_from_layout(const std::uint8_t* laid, std::int64_t rows, std::int64_t cols,
                                             quant::SfLayout layout) {
  return quant::sf_from_layout(laid, rows, cols / kBlock, layout);
}

float dequant_element(const Nvfp4Matrix& m, std::int64_t r, std::int64_t c) {
  const std::uint8_t byte = m.packed[static_cast<std::size_t>(r * (m.cols / 2) + c / 2)];
  const std::uint8_t code = (c % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  const std::uint8_t s = m.sf[static_cast<std::size_t>(r * (m.cols / kBlock) + c / kBlock)];
  return fmt::fast::e2m1_to_f32(code) * fmt::fast::e4m3_to_f32(s);
}

void decode_row(const std::uint8_t* packed, const std::uint8_t* sf, std::int64_t k, OperandRow& out) {
  if (k % kBlock != 0) throw InputError("nvfp4 operand", "K=" + std::to_string(k) + " is not a multiple of 16");
  out.k = k;
  out.k_pad = (k + kInstK - 1) / kInstK * kInstK;
  out.codes.assign(static_cast<std::size_t>(out.k_pad), 0u);
  out.sf.assign(static_cast<std::size_t>(out.k_pad / kBlock), 0u);
  for (std::int64_t i = 0; i < k / 2; ++i) {
    out.codes[2 * i] = packed[i] & 0xFu;
    out.codes[2 * i + 1] = packed[i] >> 4;
  }
  for (std::int64_t g = 0; g < k / kBlock; ++g) out.sf[g] = sf[g];
}

void decode_row(const Nvfp4Matrix& m, std::int64_t r, OperandRow& out) {
  decode_row(m.packed.data() + r * (m.cols / 2), m.sf.data() + r * (m.cols / kBlock), m.cols, out);
}

const mma::FdpaParams& sm100_nvfp4_mma() {
  static const mma::FdpaParams p = models::FdpaTable::load_default().find("blackwell", "tcgen05.mxf4nvf4.nvfp4");
  return p;
}

std::uint32_t block_scaled_dot(const mma::FdpaParams& p, const OperandRow& a, const OperandRow& b) {
  if (a.k_pad != b.k_pad)
    throw InputError("nvfp4 block_scaled_dot", "operands have K " + std::to_string(a.k_pad) + " and " + std::to_string(b.k_pad));
  if (p.l % p.g != 0 || p.g % kBlock != 0 || a.k_pad % p.l != 0)
    throw InputError("nvfp4 block_scaled_dot " + p.key(), "instruction shape does not fit NVFP4 rows (L=" +
                                                            std::to_string(p.l) + ", G=" + std::to_string(p.g) + ")");
  const int groups = p.l / p.g;
  std::uint32_t c = 0;  // accumulator starts at +0 (the first MMA of a tile runs with accumulate=false)
  std::uint32_t sa[16], sb[16];
  for (std::int64_t k0 = 0; k0 < a.k_pad; k0 += p.l) {
    for (int gi = 0; gi < groups; ++gi) {
      sa[gi] = a.sf[static_cast<std::size_t>((k0 + gi * p.g) / p.scale_block)];
      sb[gi] = b.sf[static_cast<std::size_t>((k0 + gi * p.g) / p.scale_block)];
    }
    c = mma::fdpa_step(p, a.codes.data() + k0, b.codes.data() + k0, groups, c, sa, sb);
  }
  return c;
}

float apply_alpha(std::uint32_t acc_bits, float alpha) {
  float acc;
  std::memcpy(&acc, &acc_bits, 4);
  return acc * alpha;
}

float swiglu_cutedsl(float acc_gate, float acc_up, float alpha) {
  constexpr float kLog2e = 1.4426950408889634f;  // cutlass.Float32(1.4426950408889634)
  const float up = acc_up * alpha;                // mul_packed_f32x2: per-lane fp32 RNE multiply
  const float gate = acc_gate * alpha;
  const float t = gate * -kLog2e;
  float s = quant::ex2_approx_ftz(t) + 1.0f;      // add_packed_f32x2
  s = quant::rcp_approx_ftz(s);
  s = s * gate;
  return s * up;
}

float swiglu_ieee(float gate, float up) { return gate / (1.0f + std::exp(-gate)) * up; }

std::uint8_t requant_block_cutedsl(const float* v16, float norm_const, std::uint8_t* packed8) {
  // amax: reduce(MAX, init 0.0) over |v| (fmax semantics: a NaN element is dropped by max.f32).
  float amax = 0.0f;
  for (int i = 0; i < kBlock; ++i) {
    const float a = std::fabs(v16[i]);
    amax = std::fmax(amax, a);
  }
  const float rcp_limit = static_cast<float>(1 / 6.0);  // get_dtype_rcp_limits(Float4E2M1FN), a Python float -> f32
  const float pv = (amax * rcp_limit) * norm_const;
  const std::uint8_t sfb = fmt::fast::f32_to_e4m3_satfinite(pv);
  float scale = quant::rcp_approx_ftz(fmt::fast::e4m3_to_f32(sfb)) * norm_const;
  // fmin(acc_scale, fp32_max, nan=True): NaN propagates, +inf (zero scale byte) clamps to FLT_MAX.
  if (!(scale != scale)) scale = std::min(scale, FLT_MAX);
  for (int i = 0; i < kBlock; i += 2) {
    const std::uint8_t lo = fmt::fast::f32_to_e2m1_satfinite(v16[i] * scale);
    const std::uint8_t hi = fmt::fast::f32_to_e2m1_satfinite(v16[i + 1] * scale);
    packed8[i / 2] = static_cast<std::uint8_t>(lo | (hi << 4));
  }
  return sfb;
}

}  // namespace moesim::kernels::nvfp4

namespace moesim::kernels::nvfp4 {

ExpertNvfp4 read_expert(const WeightProvider& w, const std::string& which, std::int64_t expert, std::int64_t rows,
                        std::int64_t cols, int threads) {
  const ExpertMatrix m = w.read(which, expert);
  const std::string where = which + "[" + std::to_string(expert) + "]";
  if (m.dtype != "e2m1x2" || m.rows != rows || m.cols != cols / 2)
    throw InputError(where, "expected NVFP4 e2m1x2 [" + std::to_string(rows) + ", " + std::to_string(cols / 2) + "], got " +
                                m.dtype + " [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) + "]");
  if (m.scale_dtype != "ue4m3")
    throw InputError(where + "_scale", "NVFP4 weights need ue4m3 block scales, got '" + (m.scale_dtype.empty() ? std::string("none") : m.scale_dtype) + "'");
  if (!m.global_scale) throw InputError(where + "_global_scale", "NVFP4 weights need a per-expert fp32 global scale");
  if (!std::isfinite(*m.global_scale)) throw InputError(where + "_global_scale", "global scale is not finite");
  const quant::SfLayout layout = quant::parse_layout(m.scale_layout);
  const std::int64_t scols = cols / kBlock;
  if (static_cast<std::int64_t>(m.scale_bytes.size()) != quant::sf_layout_size(layout, rows, scols))
    throw InputError(where + "_scale", "has " + std::to_string(m.scale_bytes.size()) + " bytes, layout " + m.scale_layout +
                                           " of [" + std::to_string(rows) + ", " + std::to_string(scols) + "] needs " +
                                           std::to_string(quant::sf_layout_size(layout, rows, scols)));
  const std::vector<std::uint8_t> sf = quant::sf_from_layout(m.scale_bytes.data(), rows, scols, layout);
  for (std::size_t i = 0; i < sf.size(); ++i)
    if ((sf[i] & 0x7F) == 0x7F) throw InputError(where + "_scale", "block scale " + std::to_string(i) + " is NaN (e4m3 0x7F)");
  ExpertNvfp4 e;
  e.global_scale = *m.global_scale;
  e.rows.resize(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t r = 0; r < rows; ++r)
    decode_row(m.bytes.data() + r * (cols / 2), sf.data() + r * scols, cols, e.rows[static_cast<std::size_t>(r)]);
  return e;
}

std::vector<std::pair<std::int64_t, std::int64_t>> token_chunks(std::int64_t num_tokens, std::int64_t chunk) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (chunk <= 0 || chunk >= num_tokens) {
    out.emplace_back(0, num_tokens);
    return out;
  }
  for (std::int64_t b = 0; b < num_tokens; b += chunk) out.emplace_back(b, std::min(num_tokens, b + chunk));
  return out;
}

std::vector<std::vector<std::int64_t>> slots_by_expert(const std::int32_t* ids, std::int64_t slot_begin,
                                                       std::int64_t slot_end, std::int64_t num_experts) {
  std::vector<std::vector<std::int64_t>> by(static_cast<std::size_t>(num_experts));
  for (std::int64_t s = slot_begin; s < slot_end; ++s)
    if (ids[s] >= 0 && ids[s] < num_experts) by[static_cast<std::size_t>(ids[s])].push_back(s);
  return by;
}

void grouped_gemm(const WeightProvider& w, const std::string& which, std::int64_t n, std::int64_t k,
                  const std::vector<std::vector<std::int64_t>>& by_expert,
                  const std::function<const OperandRow&(std::int64_t slot)>& a,
                  const std::function<void(std::int64_t, std::int64_t, float, const std::vector<std::uint32_t>&)>& sink,
                  int threads) {
  const mma::FdpaParams& p = sm100_nvfp4_mma();
  for (std::size_t e = 0; e < by_expert.size(); ++e) {
    const auto& slots = by_expert[e];
    if (slots.empty()) continue;
    const ExpertNvfp4 we = read_expert(w, which, static_cast<std::int64_t>(e), n, k, threads);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const OperandRow& ar = a(slots[i]);
      std::vector<std::uint32_t> acc(static_cast<std::size_t>(n));
      for (std::int64_t j = 0; j < n; ++j) acc[static_cast<std::size_t>(j)] = block_scaled_dot(p, ar, we.rows[static_cast<std::size_t>(j)]);
      sink(slots[i], static_cast<std::int64_t>(e), we.global_scale, acc);
    }
  }
}

void store_nvfp4_row(EmuBuffer& codes, EmuBuffer& sf, std::int64_t row, const std::uint8_t* packed,
                     const std::uint8_t* sfb, std::int64_t cols, MemoryLog& log, const std::string& stage) {
  std::int32_t* c = codes.write_span<std::int32_t>(row * cols, cols, log, stage);
  std::int32_t* s = sf.write_span<std::int32_t>(row * (cols / kBlock), cols / kBlock, log, stage);
  if (c)
    for (std::int64_t i = 0; i < cols; ++i) c[i] = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
  if (s)
    for (std::int64_t g = 0; g < cols / kBlock; ++g) s[g] = sfb[g];
}

void load_operand_row(const EmuBuffer& codes, const EmuBuffer& sf, std::int64_t row, std::int64_t cols,
                      OperandRow& out, MemoryLog& log, const std::string& stage) {
  out.k = cols;
  out.k_pad = (cols + kInstK - 1) / kInstK * kInstK;
  out.codes.assign(static_cast<std::size_t>(out.k_pad), 0u);
  out.sf.assign(static_cast<std::size_t>(out.k_pad / kBlock), 0u);
  const std::int32_t* c = codes.read_span<std::int32_t>(row * cols, cols, log, stage);
  const std::int32_t* s = sf.read_span<std::int32_t>(row * (cols / kBlock), cols / kBlock, log, stage);
  // Unwritten (poisoned) or out-of-range entries read as e2m1 NaN-free garbage: code & 0xF and
  // scale & 0xFF, as the hardware would read the bytes; the replay reports the unwritten buffer.
  if (c)
    for (std::int64_t i = 0; i < cols; ++i) out.codes[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(c[i]) & 0xFu;
  if (s)
    for (std::int64_t g = 0; g < cols / kBlock; ++g) out.sf[static_cast<std::size_t>(g)] = static_cast<std::uint32_t>(s[g]) & 0xFFu;
}

}  // namespace moesim::kernels::nvfp4

#include "models/lib/chunking.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/variant_arith.hpp"

namespace moesim::kernels::nvfp4 {

ScaleMode parse_scale_mode(const std::string& s, const std::string& where) {
  if (s == "static_call") return ScaleMode::StaticCall;
  if (s == "dynamic_per_chunk") return ScaleMode::DynamicPerChunk;
  throw InputError(where, "unknown activation scale mode '" + s + "' (expected static_call | dynamic_per_chunk)");
}

Nvfp4MoeBase::Nvfp4MoeBase(const VariantSpec& spec) : spec_(spec) {
  if (spec.quant != "nvfp4") throw InputError(spec.file + ":/quant", "NVFP4 MoE families need quant 'nvfp4', got '" + spec.quant + "'");
  scale_mode_ = parse_scale_mode(spec.param_string("act_scale", "static_call"), spec.file + ":/params/act_scale");
  // chunk_tokens: > 0 a fixed chunk, < 0 none, 0 the framework's rule for this kernel
  // (models/chunking/<framework>.json, trtllm_nvfp4_chunk of the named revision).
  chunk_tokens_ = spec.param_int("chunk_tokens", -1);
  chunk_source_ = chunk_tokens_ > 0 ? spec.file + ":/params/chunk_tokens" : "none";
  const std::string rm = spec.param_string("permuted_idx_to_expanded_idx", "expanded_idx");
  if (rm != "expanded_idx" && rm != "token_idx")
    throw InputError(spec.file + ":/params/permuted_idx_to_expanded_idx", "expected expanded_idx | token_idx, got '" + rm + "'");
  reverse_map_token_ = rm == "token_idx";
}

std::vector<std::pair<std::int64_t, std::int64_t>> Nvfp4MoeBase::chunks(const MoeProblem& p) const {
  std::int64_t c = chunk_tokens_;
  if (c == 0) {
    const std::string fw = spec_.param_string("framework", "vllm");
    const models::ChunkingTable t = models::ChunkingTable::load(models_dir(), fw);
    std::string rev = spec_.param_string("framework_revision", "");
    if (rev.empty()) rev = t.latest();
    const models::FrameworkRevision& r = t.find(rev);
    c = r.trtllm_nvfp4_chunk ? r.trtllm_nvfp4_chunk->chunk_size(p.num_experts, p.top_k) : -1;
  }
  return token_chunks(p.num_tokens, c);
}

std::vector<float> Nvfp4MoeBase::calibrate_per_slot(const MoeProblem& p, const std::vector<float>& slot_amax) const {
  std::vector<float> out(static_cast<std::size_t>(p.slots()), 1.0f);
  std::vector<std::pair<std::int64_t, std::int64_t>> groups;
  if (scale_mode_ == ScaleMode::StaticCall) groups.emplace_back(0, p.num_tokens);
  else groups = chunks(p);
  for (auto [b, e] : groups) {
    float amax = 0.0f;
    for (std::int64_t s = b * p.top_k; s < e * p.top_k; ++s) amax = std::max(amax, slot_amax[static_cast<std::size_t>(s)]);
    // ModelOpt input_scale = amax / (6 * 448); an all-zero group keeps 1 (any value quantizes 0 to 0).
    const float scale = amax > 0.0f && std::isfinite(amax) ? amax / 2688.0f : 1.0f;
    for (std::int64_t s = b * p.top_k; s < e * p.top_k; ++s) out[static_cast<std::size_t>(s)] = scale;
  }
  return out;
}

void Nvfp4MoeBase::run_stage(StageContext& ctx) {
  const std::string& kind = ctx.stage.kind;
  if (kind == "quantize_act") return quantize(ctx);
  if (kind == "route_align") return route(ctx);
  if (kind == "gemm1") return gemm1(ctx);
  if (kind == "activation") return activation(ctx);
  if (kind == "gemm2") return gemm2(ctx);
  if (kind == "finalize") return finalize(ctx);
  throw InputError(spec_.file, "stage kind '" + kind + "' is not implemented by family " + spec_.family);
}

// fp4_quantize(hidden_states, a1_gscale) as the framework calls it before the MoE kernel
// (FlashInfer cvt_warp_fp16_to_fp4, the vllm-kernel rule of sim/quant), per chunk.
void Nvfp4MoeBase::quantize(StageContext& ctx) {
  const MoeProblem& p = ctx.problem;
  const std::string& st = ctx.stage.id;
  if (p.hidden % kBlock != 0) throw InputError(spec_.file, "hidden " + std::to_string(p.hidden) + " is not a multiple of 16");
  EmuBuffer& h = ctx.in(ctx.stage.inputs.at(0));
  std::vector<float> x(static_cast<std::size_t>(p.num_tokens * p.hidden));
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    const std::uint16_t* src = h.read_span<std::uint16_t>(t * p.hidden, p.hidden, ctx.log, st);
    for (std::int64_t j = 0; j < p.hidden; ++j) x[static_cast<std::size_t>(t * p.hidden + j)] = src ? bf16_to_f32(src[j]) : bf16_to_f32(kPoisonBF16);
  }
  EmuBuffer& codes = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {p.num_tokens, p.hidden});
  EmuBuffer& sf = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {p.num_tokens, p.hidden / kBlock});
  EmuBuffer& scale = ctx.create(ctx.stage.outputs.at(2), ElemType::F32, {p.num_tokens});
  // Per-token amax as "slot" amax with top_k = 1 semantics: reuse calibrate_per_slot on tokens.
  MoeProblem tp = p;
  tp.top_k = 1;
  std::vector<float> tok_amax(static_cast<std::size_t>(p.num_tokens));
  for (std::int64_t t = 0; t < p.num_tokens; ++t)
    tok_amax[static_cast<std::size_t>(t)] = quant::amax_abs(x.data() + t * p.hidden, p.hidden);
  const std::vector<float> a1_scale = calibrate_per_slot(tp, tok_amax);
  for (auto [b, e] : chunks(p)) {
    if (e == b) continue;
    quant::GlobalScale gs;
    gs.shape = quant::GlobalScale::Shape::PerToken;
    for (std::int64_t t = b; t < e; ++t) gs.values.push_back(1.0f / a1_scale[static_cast<std::size_t>(t)]);  // a1_gscale = 1 / input_scale
    const Nvfp4Matrix q = quantize_rows(x.data() + b * p.hidden, e - b, p.hidden, gs, quant::Nvfp4Rule::VllmKernel);
    for (std::int64_t t = b; t < e; ++t) {
      store_nvfp4_row(codes, sf, t, q.packed.data() + (t - b) * (p.hidden / 2), q.sf.data() + (t - b) * (p.hidden / kBlock),
                      p.hidden, ctx.log, st);
      scale.set<float>(t, a1_scale[static_cast<std::size_t>(t)], ctx.log, st);
    }
  }
}

// Routing metadata per chunk: expanded (slot) -> permuted index, expert-major with each expert's
// rows padded to the tile (trtllm-gen RoutingKernel / CuteDSL moe_sort, same layout), stable
// ascending slot order inside an expert (atomics on the GPU; no value depends on it).
void Nvfp4MoeBase::route(StageContext& ctx) {
  const MoeProblem& p = ctx.problem;
  const std::string& st = ctx.stage.id;
  EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(0));
  const std::int64_t tile = spec_.param_int("tile_tokens_dim", 128);
  if (tile <= 0) throw InputError(spec_.file + ":/params/tile_tokens_dim", "must be positive");
  std::vector<std::int32_t> flat(static_cast<std::size_t>(p.slots()));
  for (std::int64_t s = 0; s < p.slots(); ++s) flat[static_cast<std::size_t>(s)] = ids.get<std::int32_t>(s, ctx.log, st);
  EmuBuffer& e2p = ctx.create(ctx.stage.outputs.at(0), ElemType::I32, {p.slots()});
  for (auto [b, e] : chunks(p)) {
    const auto by = slots_by_expert(flat.data(), b * p.top_k, e * p.top_k, p.num_experts);
    std::int64_t off = 0;
    for (const auto& slots : by) {
      for (std::size_t r = 0; r < slots.size(); ++r) e2p.set<std::int32_t>(slots[r], static_cast<std::int32_t>(off + static_cast<std::int64_t>(r)), ctx.log, st);
      off += (static_cast<std::int64_t>(slots.size()) + tile - 1) / tile * tile;
    }
    for (std::int64_t s = b * p.top_k; s < e * p.top_k; ++s)  // non-local / invalid experts: -1
      if (flat[static_cast<std::size_t>(s)] < 0 || flat[static_cast<std::size_t>(s)] >= p.num_experts) e2p.set<std::int32_t>(s, -1, ctx.log, st);
  }
  if (ctx.stage.outputs.size() > 1) {
    // The reverse map entry of each slot's permuted row, canonical per slot:
    // permuted_idx_to_expanded_idx[expanded_idx_to_permuted_idx[s]].
    EmuBuffer& rev = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {p.slots()});
    for (std::int64_t s = 0; s < p.slots(); ++s) {
      const bool routed = flat[static_cast<std::size_t>(s)] >= 0 && flat[static_cast<std::size_t>(s)] < p.num_experts;
      rev.set<std::int32_t>(s, !routed ? -1 : static_cast<std::int32_t>(reverse_map_token_ ? s / p.top_k : s), ctx.log, st);
    }
  }
}

void Nvfp4MoeBase::gemm1(StageContext& ctx) {
  const MoeProblem& p = ctx.problem;
  const std::string& st = ctx.stage.id;
  if (!p.gated || p.activation != "silu")
    throw InputError(spec_.file, "NVFP4 MoE variants implement gated SwiGLU only, trace has " + std::string(p.gated ? "gated " : "non-gated ") + p.activation);
  EmuBuffer& codes = ctx.in(ctx.stage.inputs.at(0));
  EmuBuffer& sf = ctx.in(ctx.stage.inputs.at(1));
  EmuBuffer& a1s = ctx.in(ctx.stage.inputs.at(2));
  EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(3));
  const std::int64_t n1 = p.n1();
  EmuBuffer& acc = ctx.create(ctx.stage.outputs.at(0), ElemType::F32, {p.slots(), n1});
  EmuBuffer& alpha = ctx.create(ctx.stage.outputs.at(1), ElemType::F32, {p.slots()});
  std::vector<OperandRow> arows(static_cast<std::size_t>(p.num_tokens));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
  for (std::int64_t t = 0; t < p.num_tokens; ++t) load_operand_row(codes, sf, t, p.hidden, arows[static_cast<std::size_t>(t)], ctx.log, st);
  // A row of a slot: expanded // top_k, with `expanded` read from the reverse map when the
  // variant declares it (the gather kernel's token_id_mapping).
  EmuBuffer* rev = ctx.stage.inputs.size() > 4 ? &ctx.in(ctx.stage.inputs.at(4)) : nullptr;
  std::vector<std::int64_t> arow_of(static_cast<std::size_t>(p.slots()));
  for (std::int64_t s = 0; s < p.slots(); ++s)
    arow_of[static_cast<std::size_t>(s)] = (rev ? rev->get<std::int32_t>(s, ctx.log, st) : s) / p.top_k;
  OperandRow poison_row;  // an out-of-range gather reads poison: recorded, then zeros here
  poison_row.k = p.hidden;
  poison_row.k_pad = (p.hidden + kInstK - 1) / kInstK * kInstK;
  poison_row.codes.assign(static_cast<std::size_t>(poison_row.k_pad), 0u);
  poison_row.sf.assign(static_cast<std::size_t>(poison_row.k_pad / kBlock), 0u);
  std::vector<std::int32_t> flat(static_cast<std::size_t>(p.slots()));
  for (std::int64_t s = 0; s < p.slots(); ++s) flat[static_cast<std::size_t>(s)] = ids.get<std::int32_t>(s, ctx.log, st);
  for (auto [b, e] : chunks(p)) {  // one kernel launch per framework chunk
    const auto by = slots_by_expert(flat.data(), b * p.top_k, e * p.top_k, p.num_experts);
    grouped_gemm(
        ctx.weights, "w13", n1, p.hidden, by,
        [&](std::int64_t slot) -> const OperandRow& {
          const std::int64_t r = arow_of[static_cast<std::size_t>(slot)];
          if (r < 0 || r >= p.num_tokens) {
            ctx.log.record({MemoryEvent::Kind::OobRead, ctx.stage.inputs.at(0), st, r * p.hidden, p.num_tokens * p.hidden});
            return poison_row;
          }
          return arows[static_cast<std::size_t>(r)];
        },
        [&](std::int64_t slot, std::int64_t, float wg, const std::vector<std::uint32_t>& a) {
          float* dst = acc.write_span<float>(slot * n1, n1, ctx.log, st);
          if (dst) std::memcpy(dst, a.data(), static_cast<std::size_t>(n1) * 4);
          // g1_alphas = a13_scale * w13_weight_scale_2 (fp32), per expert (and per chunk for dynamic scales)
          alpha.set<float>(slot, a1s.get<float>(arow_of[static_cast<std::size_t>(slot)], ctx.log, st) * wg, ctx.log, st);
        },
        ctx.threads);
  }
}

void Nvfp4MoeBase::gemm2(StageContext& ctx) {
  const MoeProblem& p = ctx.problem;
  const std::string& st = ctx.stage.id;
  if (p.intermediate % kBlock != 0) throw InputError(spec_.file, "intermediate " + std::to_string(p.intermediate) + " is not a multiple of 16");
  EmuBuffer& codes = ctx.in(ctx.stage.inputs.at(0));
  EmuBuffer& sf = ctx.in(ctx.stage.inputs.at(1));
  EmuBuffer& a2s = ctx.in(ctx.stage.inputs.at(2));
  EmuBuffer& ids = ctx.in(ctx.stage.inputs.at(3));
  EmuBuffer& tw = ctx.in(ctx.stage.inputs.at(4));
  // token_final_scales[(m // top_k, m % top_k)] with m the reverse-map entry when declared.
  EmuBuffer* rev = ctx.stage.inputs.size() > 5 ? &ctx.in(ctx.stage.inputs.at(5)) : nullptr;
  EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.slots(), p.hidden});
  std::vector<OperandRow> arows(static_cast<std::size_t>(p.slots()));
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
  for (std::int64_t s = 0; s < p.slots(); ++s) load_operand_row(codes, sf, s, p.intermediate, arows[static_cast<std::size_t>(s)], ctx.log, st);
  std::vector<std::int32_t> flat(static_cast<std::size_t>(p.slots()));
  for (std::int64_t s = 0; s < p.slots(); ++s) flat[static_cast<std::size_t>(s)] = ids.get<std::int32_t>(s, ctx.log, st);
  for (auto [b, e] : chunks(p)) {
    const auto by = slots_by_expert(flat.data(), b * p.top_k, e * p.top_k, p.num_experts);
    grouped_gemm(
        ctx.weights, "w2", p.hidden, p.intermediate, by,
        [&](std::int64_t slot) -> const OperandRow& { return arows[static_cast<std::size_t>(slot)]; },
        [&](std::int64_t slot, std::int64_t, float wg, const std::vector<std::uint32_t>& a) {
          // g2_alphas = a2_scale * w2_weight_scale_2 (fp32)
          const float g2 = a2s.get<float>(slot, ctx.log, st) * wg;
          const float w = tw.get<float>(rev ? rev->get<std::int32_t>(slot, ctx.log, st) : slot, ctx.log, st);
          std::uint16_t* dst = out.write_span<std::uint16_t>(slot * p.hidden, p.hidden, ctx.log, st);
          if (!dst) return;
          for (std::int64_t j = 0; j < p.hidden; ++j) {
            float v;
            std::memcpy(&v, &a[static_cast<std::size_t>(j)], 4);
            dst[j] = gemm2_epilogue(v, g2, w);
          }
        },
        ctx.threads);
  }
}

void Nvfp4MoeBase::finalize_fma_chain(StageContext& ctx, bool bf16_router_weight) {
  const MoeProblem& p = ctx.problem;
  const std::string& st = ctx.stage.id;
  EmuBuffer& in = ctx.in(ctx.stage.inputs.at(0));
  EmuBuffer& tw = ctx.in(ctx.stage.inputs.at(1));
  EmuBuffer& e2p = ctx.in(ctx.stage.inputs.at(2));
  const std::int64_t H = p.hidden;
  EmuBuffer& out = ctx.create(ctx.stage.outputs.at(0), ElemType::BF16, {p.num_tokens, H});
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    std::vector<float> data(static_cast<std::size_t>(H), 0.0f);
    for (std::int64_t k = 0; k < p.top_k; ++k) {
      const std::int64_t s = t * p.top_k + k;
      if (e2p.get<std::int32_t>(s, ctx.log, st) == -1) continue;  // permuted index -1: not on this rank
      float w = tw.get<float>(s, ctx.log, st);
      if (bf16_router_weight) w = bf16_to_f32(bf16_rne(w));
      const std::uint16_t* src = in.read_span<std::uint16_t>(s * H, H, ctx.log, st);
      if (!src) continue;
      for (std::int64_t j = 0; j < H; ++j)
        data[static_cast<std::size_t>(j)] = std::fma(w, bf16_to_f32(src[j]), data[static_cast<std::size_t>(j)]);
    }
    std::uint16_t* dst = out.write_span<std::uint16_t>(t * H, H, ctx.log, st);
    if (dst)
      for (std::int64_t j = 0; j < H; ++j) dst[j] = bf16_rne(data[static_cast<std::size_t>(j)]);
  }
}

Nvfp4MoeBase::ActivationBuffers Nvfp4MoeBase::activation_buffers(StageContext& ctx) const {
  const MoeProblem& p = ctx.problem;
  const std::int64_t I = p.intermediate;
  if (I % kBlock != 0) throw InputError(spec_.file, "intermediate " + std::to_string(I) + " is not a multiple of 16");
  EmuBuffer& acc = ctx.in(ctx.stage.inputs.at(0));
  EmuBuffer& alpha = ctx.in(ctx.stage.inputs.at(1));
  EmuBuffer& deq = ctx.create(ctx.stage.outputs.at(0), ElemType::F64, {p.slots(), I});
  EmuBuffer& codes = ctx.create(ctx.stage.outputs.at(1), ElemType::I32, {p.slots(), I});
  EmuBuffer& sf = ctx.create(ctx.stage.outputs.at(2), ElemType::I32, {p.slots(), I / kBlock});
  EmuBuffer& a2 = ctx.create(ctx.stage.outputs.at(3), ElemType::F32, {p.slots()});
  return {acc, alpha, deq, codes, sf, a2};
}

}  // namespace moesim::kernels::nvfp4
