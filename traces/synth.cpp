#include "traces/synth.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/lib/preset.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/mx.hpp"
#include "sim/quant/nvfp4.hpp"
#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/formats/fast.hpp"
#include "traces/context_rules.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces {

namespace {

struct Dist {
  enum Kind { Uniform, Zipf, Hot, Same } kind = Uniform;
  double param = 0;
};

Dist parse_dist(const std::string& s) {
  auto num = [&](const std::string& v, double dflt) {
    if (v.empty()) return dflt;
    try {
      std::size_t used = 0;
      double d = std::stod(v, &used);
      if (used != v.size() || !std::isfinite(d)) throw std::invalid_argument("");
      return d;
    } catch (const std::exception&) {
      throw InputError("--routing " + s, "bad number '" + v + "'");
    }
  };
  const auto colon = s.find(':');
  const std::string head = s.substr(0, colon), arg = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (head == "uniform" && arg.empty()) return {Dist::Uniform, 0};
  if (head == "zipf") {
    double v = num(arg, 1.0);
    if (v <= 0) throw InputError("--routing " + s, "zipf exponent must be positive");
    return {Dist::Zipf, v};
  }
  if (head == "hot" || head == "hot-expert") {
    double v = num(arg, 0.5);
    if (v < 0 || v > 1) throw InputError("--routing " + s, "hot-expert probability must be in [0, 1]");
    return {Dist::Hot, v};
  }
  if ((head == "same" || head == "all-same-experts") && arg.empty()) return {Dist::Same, 0};
  throw InputError("--routing " + s, "unknown routing distribution (expected uniform, zipf:S, hot[:P] or same)");
}

}  // namespace

void sample_routing(const std::string& routing, std::int64_t E, std::int64_t K, std::int64_t T, std::uint64_t seed,
                    std::uint64_t call_index, std::vector<std::int32_t>& ids, std::vector<float>& weights) {
  const Dist d = parse_dist(routing);
  ids.assign(static_cast<std::size_t>(T * K), 0);
  weights.assign(static_cast<std::size_t>(T * K), 0.f);
  // Expert popularity order is a seeded permutation, so "hot" experts are not always id 0.
  Rng prng(seed, 0xE0000000ull + call_index);
  std::vector<std::int32_t> perm(static_cast<std::size_t>(E));
  for (std::int64_t e = 0; e < E; ++e) perm[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(e);
  for (std::int64_t i = E - 1; i > 0; --i) std::swap(perm[static_cast<std::size_t>(i)], perm[prng.below(static_cast<std::uint64_t>(i + 1))]);
  std::vector<double> cdf;
  if (d.kind == Dist::Zipf) {
    cdf.resize(static_cast<std::size_t>(E));
    double acc = 0;
    for (std::int64_t r = 0; r < E; ++r) cdf[static_cast<std::size_t>(r)] = (acc += 1.0 / std::pow(double(r + 1), d.param));
    for (auto& c : cdf) c /= acc;
  }
  // Tokens are sampled in fixed blocks, each with its own random stream, so the result is
  // identical for any thread count and blocks can run in parallel.
  constexpr std::int64_t kBlock = 8192;
  const std::int64_t nblocks = (T + kBlock - 1) / kBlock;
#pragma omp parallel
  {
    std::vector<std::uint8_t> taken(static_cast<std::size_t>(E), 0);
    std::vector<std::int64_t> ranks(static_cast<std::size_t>(K), 0);
#pragma omp for schedule(static)
    for (std::int64_t blk = 0; blk < nblocks; ++blk) {
      Rng rng(seed, 0x10000000ull + (call_index << 32) + static_cast<std::uint64_t>(blk));
      auto draw_rank = [&]() -> std::int64_t {
        if (d.kind == Dist::Zipf)
          return std::min<std::int64_t>(E - 1, std::lower_bound(cdf.begin(), cdf.end(), rng.uniform()) - cdf.begin());
        return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(E)));
      };
      const std::int64_t t_end = std::min(T, (blk + 1) * kBlock);
      for (std::int64_t t = blk * kBlock; t < t_end; ++t) {
        std::int32_t* row = ids.data() + t * K;
        for (std::int64_t k = 0; k < K; ++k) {
          std::int64_t rank;
          if (d.kind == Dist::Same) {
            rank = k;
          } else if (d.kind == Dist::Hot && k == 0 && rng.uniform() < d.param) {
            rank = 0;
          } else {
            rank = draw_rank();
            // Distinct experts per token: redraw, and after many collisions (steep zipf) take
            // the most popular expert not yet chosen: bounded and deterministic.
            int tries = 0;
            while (taken[static_cast<std::size_t>(rank)] && ++tries < 64) rank = draw_rank();
            if (taken[static_cast<std::size_t>(rank)]) {
              rank = 0;
              while (taken[static_cast<std::size_t>(rank)]) ++rank;
            }
          }
          taken[static_cast<std::size_t>(rank)] = 1;
          ranks[static_cast<std::size_t>(k)] = rank;
          // Profile runs put every token on experts 0..K-1 exactly, not on a permutation.
          row[k] = d.kind == Dist::Same ? static_cast<std::int32_t>(k) : perm[static_cast<std::size_t>(rank)];
        }
        for (std::int64_t k = 0; k < K; ++k) taken[static_cast<std::size_t>(ranks[static_cast<std::size_t>(k)])] = 0;
        // Renormalised top-k weights: positive, summing to 1 in fp32.
        float* w = weights.data() + t * K;
        float sum = 0;
        for (std::int64_t k = 0; k < K; ++k) sum += (w[k] = static_cast<float>(0.05 + rng.uniform()));
        for (std::int64_t k = 0; k < K; ++k) w[k] /= sum;
      }
    }
  }
}

Trace synthesize(const SynthOptions& opt, const std::string& models_dir) {
  const models::Preset p = models::load_preset(models_dir, opt.preset);
  Trace t;
  ModelShape& m = t.model;
  m.name = p.name;
  m.num_experts = opt.num_experts ? opt.num_experts : p.num_experts;
  m.top_k = opt.top_k ? opt.top_k : p.top_k;
  m.hidden = opt.hidden ? opt.hidden : p.hidden;
  m.intermediate = opt.intermediate ? opt.intermediate : p.intermediate;
  m.activation = p.activation;
  m.gated = p.gated;
  m.num_shared_experts = p.num_shared_experts;
  m.quant = opt.weights == "none" ? p.native_quant : opt.weights;
  if (m.top_k > m.num_experts) throw InputError("--top-k", "top_k " + std::to_string(m.top_k) + " exceeds num_experts " + std::to_string(m.num_experts));
  if (opt.mode != "routing" && opt.mode != "counts") throw InputError("--mode " + opt.mode, "expected 'routing' or 'counts'");
  if (opt.weights != "none" && opt.weights != "bf16" && opt.weights != "fp8" && opt.weights != "nvfp4" && opt.weights != "mxfp4")
    throw InputError("--weights " + opt.weights, "unsupported weight dtype for synth (supported: none, bf16, fp8, nvfp4, mxfp4)");
  if (opt.weights == "fp8") m.quant = "fp8_block128";
  // Block-scaled formats need whole blocks along K (16 for NVFP4, 32 for MXFP4, 128 for fp8).
  const std::int64_t kblock = opt.weights == "nvfp4" ? 16 : opt.weights == "mxfp4" ? 32 : opt.weights == "fp8" ? 128 : 1;
  if (m.hidden % kblock != 0 || m.intermediate % kblock != 0)
    throw InputError("--weights " + opt.weights, "hidden " + std::to_string(m.hidden) + " and intermediate " +
                                                   std::to_string(m.intermediate) + " must be multiples of the block size " +
                                                   std::to_string(kblock));
  t.context = opt.context;
  t.attrs["created_by"] = std::string("moesim synth ") + MOESIM_VERSION;
  t.attrs["preset"] = opt.preset;
  t.attrs["seed"] = std::to_string(opt.seed);
  t.attrs["routing"] = opt.routing;
  parse_dist(opt.routing);  // validate before any work
  if (opt.layers < 0 || opt.layers > kMaxLayers)
    throw InputError("--layers", "must be in [0, " + std::to_string(kMaxLayers) + "], got " + std::to_string(opt.layers));
  for (std::int64_t l = 0; l < opt.layers; ++l) t.layers.push_back(LayerInfo{l, {}});
  const std::size_t per_layer = opt.tokens.size();
  const std::size_t ncalls = per_layer * static_cast<std::size_t>(std::max<std::int64_t>(opt.layers, 1));
  for (std::size_t ci = 0; ci < ncalls; ++ci) {
    // Seeds follow the global call index, so layer 0 of a multi-layer trace is the single-layer trace.
    const std::int64_t T = opt.tokens[ci % per_layer];
    if (T < 0) throw InputError("--tokens", "negative token count " + std::to_string(T));
    MoeCall c;
    c.num_tokens = T;
    if (opt.layers > 0) c.layer = static_cast<std::int64_t>(ci / per_layer);
    c.attrs["source"] = "synthetic";
    sample_routing(opt.routing, m.num_experts, m.top_k, T, opt.seed, ci, c.topk_ids, c.topk_weights);
    if (opt.mode == "counts") {
      c.expert_counts = c.tokens_per_expert(m.num_experts);
      c.topk_ids.clear();
      c.topk_weights.clear();
    }
    if (opt.activations) {
      Tensor h;
      h.dtype = "bf16";
      h.shape = {T, m.hidden};
      h.bytes.resize(static_cast<std::size_t>(T * m.hidden) * 2);
      Rng r(opt.seed, 0x20000000ull + ci);
      auto* p16 = reinterpret_cast<std::uint16_t*>(h.bytes.data());
      for (std::int64_t i = 0; i < T * m.hidden; ++i) p16[i] = fmt::fast::f32_to_bf16_rn(static_cast<float>(r.normal()));
      c.hidden_states = QTensor{std::move(h), std::nullopt, std::nullopt};
    }
    t.calls.push_back(std::move(c));
  }
  return t;
}

namespace {

// One expert's weight matrix in the requested storage format. Offline-quantized checkpoints
// are reproduced with the rule their producers use: NVFP4 by ModelOpt (per-expert global
// scale amax/2688), MXFP4 with the OCP floor scale, FP8 with DeepSeek-style 128x128 blocks.
ExpertWeights make_expert_weights(const std::string& fmt, std::int64_t rows, std::int64_t cols, Rng& r, float* global_scale) {
  // Scale 1/sqrt(fan_in) keeps activations O(1) through both GEMMs.
  const double scale = 1.0 / std::sqrt(static_cast<double>(cols));
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (auto& v : x) v = bf16_bits_to_f32(fmt::fast::f32_to_bf16_rn(static_cast<float>(r.normal() * scale)));  // bf16 master weights
  ExpertWeights w;
  w.w.shape = {rows, cols};
  if (fmt == "bf16") {
    w.w.dtype = "bf16";
    w.w.bytes.resize(x.size() * 2);
    auto* p16 = reinterpret_cast<std::uint16_t*>(w.w.bytes.data());
    for (std::size_t i = 0; i < x.size(); ++i) p16[i] = fmt::fast::f32_to_bf16_rn(x[i]);
  } else if (fmt == "fp8") {
    auto q = quant::quantize_fp8(x.data(), rows, cols, quant::Fp8Granularity::Block128x128);
    w.w.dtype = "fp8_e4m3fn";
    w.w.bytes = std::move(q.data);
    Tensor s{"f32", {q.scale_rows, q.scale_cols}, std::vector<std::uint8_t>(q.scales.size() * 4), "block128x128"};
    std::memcpy(s.bytes.data(), q.scales.data(), s.bytes.size());
    w.scale = std::move(s);
  } else if (fmt == "nvfp4") {
    quant::GlobalScale gs;
    gs.values = {quant::global_scale_from_amax(quant::Nvfp4Rule::ModelOpt, quant::amax_abs(x.data(), rows * cols))};
    *global_scale = gs.values[0];
    auto q = quant::quantize_nvfp4(x.data(), rows, cols, gs, quant::Nvfp4Rule::ModelOpt);
    w.w.dtype = "e2m1x2";
    w.w.shape = {rows, cols / 2};
    w.w.bytes = std::move(q.packed);
    w.scale = Tensor{"ue4m3", {rows, cols / 16}, std::move(q.scales), "linear"};
  } else {  // mxfp4
    auto q = quant::quantize_mx(x.data(), rows, cols, quant::MxElem::E2M1, quant::MxScaleRule::OcpFloor, 32);
    w.w.dtype = "e2m1x2";
    w.w.shape = {rows, cols / 2};
    w.w.bytes = std::move(q.data);
    w.scale = Tensor{"ue8m0", {rows, cols / 32}, std::move(q.scales), "linear"};
  }
  return w;
}

}  // namespace

Trace synthesize_to_file(const SynthOptions& opt, const std::string& models_dir, const std::string& path) {
  // A context the reader would refuse is refused here, by the same rules.
  validate_context_flags(opt.context);
  Trace t = synthesize(opt, models_dir);
  if (opt.weights == "none") {
    write_trace(t, path);
    return t;
  }
  const ModelShape& m = t.model;
  const std::int64_t n1 = m.gated ? 2 * m.intermediate : m.intermediate;
  WeightsInfo info;
  info.present = true;
  info.dtype = opt.weights == "bf16" ? "bf16" : opt.weights == "fp8" ? "fp8_e4m3fn" : "e2m1x2";
  std::vector<std::int64_t> s13, s2;
  if (opt.weights != "bf16") {
    info.has_scales = true;
    const std::int64_t blk = opt.weights == "nvfp4" ? 16 : opt.weights == "mxfp4" ? 32 : 128;
    info.scale_dtype = opt.weights == "nvfp4" ? "ue4m3" : opt.weights == "mxfp4" ? "ue8m0" : "f32";
    info.scale_layout = opt.weights == "fp8" ? "block128x128" : "linear";
    if (opt.weights == "fp8") {
      s13 = {(n1 + 127) / 128, m.hidden / 128};
      s2 = {(m.hidden + 127) / 128, m.intermediate / 128};
    } else {
      s13 = {n1, m.hidden / blk};
      s2 = {m.hidden, m.intermediate / blk};
    }
  }
  std::vector<float> g13(static_cast<std::size_t>(m.num_experts), 1.f), g2 = g13;
  // Weights go into the same open file before it is renamed into place: the output appears
  // complete (trace + weights) or not at all.
  auto write_layer = [&](h5::File& file, std::int64_t layer) {
    WeightWriter ww(file, m, info, s13, s2, layer);
    // Layer l's weights come from stream 0x30000000 + (l << 32) + 2e + which (layer 0 = single-layer).
    const std::uint64_t lbase = 0x30000000ull + (static_cast<std::uint64_t>(std::max<std::int64_t>(layer, 0)) << 32);
    for (std::int64_t e = 0; e < m.num_experts; ++e) {
      for (int which = 0; which < 2; ++which) {
        const std::int64_t rows = which == 0 ? n1 : m.hidden, cols = which == 0 ? m.hidden : m.intermediate;
        Rng r(opt.seed, lbase + static_cast<std::uint64_t>(e) * 2 + static_cast<std::uint64_t>(which));
        float g = 1.f;
        ww.write(which == 0 ? "w13" : "w2", e, make_expert_weights(opt.weights, rows, cols, r, &g));
        (which == 0 ? g13 : g2)[static_cast<std::size_t>(e)] = g;
      }
    }
    if (opt.weights == "nvfp4") {
      ww.write_global_scales("w13", g13);
      ww.write_global_scales("w2", g2);
    }
  };
  write_trace(t, path, [&](h5::File& file) {
    if (t.layers.empty()) write_layer(file, -1);
    for (const auto& l : t.layers) write_layer(file, l.index);
  });
  info.has_global_scales = opt.weights == "nvfp4";
  t.weights = info;
  for (auto& l : t.layers) l.weights = info;
  return t;
}

}  // namespace moesim::traces
