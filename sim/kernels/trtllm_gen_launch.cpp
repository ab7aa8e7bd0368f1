#include "sim/kernels/trtllm_gen_launch.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include "sim/kernels/api_contracts.hpp"
#include "sim/kernels/threshold.hpp"

namespace moesim::kernels::trtllm_gen {

std::int32_t next_power_of_two(float value) {
  const float c = std::ceil(value);
  if (c <= 1.0f) return 1;
  if (c >= 1073741824.0f) return 1 << 30;  // beyond any tile ladder; avoids int overflow
  std::int32_t n = static_cast<std::int32_t>(c);
  if ((n & (n - 1)) == 0) return n;
  --n;
  n |= n >> 1;
  n |= n >> 2;
  n |= n >> 4;
  n |= n >> 8;
  n |= n >> 16;
  return n + 1;
}

std::int64_t max_num_ctas_in_batch_dim(std::int64_t tokens, std::int64_t top_k, std::int64_t experts, std::int64_t tile) {
  std::int64_t remaining = tokens * top_k;
  const std::int64_t filled = std::min(experts, remaining);
  std::int64_t ctas = filled;
  remaining -= filled;
  if (remaining > 0) ctas += remaining / tile;
  return ctas;
}

std::vector<int> supported_tiles(const models::TrtllmGenProfile& prof, const std::string& quant, std::string* name) {
  std::string launcher;
  if (quant == "bf16") launcher = "bf16";
  else if (quant == "fp8_per_tensor" || quant == "fp8") launcher = "fp8_per_tensor";
  else if (quant == "fp8_block128" || quant == "mxfp8") launcher = "fp8_block";
  else if (quant == "nvfp4" || quant == "mxfp4" || quant == "mxfp4_bf16") launcher = "fp4";
  else if (quant == "int4_w4a16") launcher = "mxint4";
  if (name) *name = launcher;
  auto it = prof.launchers.find(launcher);
  if (launcher.empty() || it == prof.launchers.end()) return {};
  std::vector<int> t = it->second.tiles;
  if (quant == "mxfp8") t.insert(t.end(), it->second.extra_tiles_if_mxfp8.begin(), it->second.extra_tiles_if_mxfp8.end());
  if (launcher == "fp4" && quant_dtypes(quant).first != "bf16")
    t.insert(t.end(), it->second.extra_tiles_if_act_not_bf16.begin(), it->second.extra_tiles_if_act_not_bf16.end());
  if (auto q = it->second.extra_tiles_if_quant.find(quant); q != it->second.extra_tiles_if_quant.end())
    t.insert(t.end(), q->second.begin(), q->second.end());
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

std::set<int> compute_selected_tile_n(const std::vector<int>& tiles, std::int64_t tokens, std::int64_t top_k,
                                      std::int64_t local_experts) {
  // float const avg = static_cast<float>(num_tokens * top_k) / num_local_experts;  (int64 -> float)
  const float avg = static_cast<float>(tokens * top_k) / static_cast<float>(local_experts);
  const int center = std::clamp<int>(next_power_of_two(avg), tiles.front(), tiles.back());
  auto it = std::find(tiles.begin(), tiles.end(), center);
  std::set<int> s;
  if (it == tiles.end()) return s;  // v0.6.7+ raises "computeSelectedTileN expected exact tile"
  s.insert(center);
  if (std::next(it) != tiles.end()) {
    s.insert(*std::next(it));
    if (std::next(it, 2) != tiles.end()) s.insert(*std::next(it, 2));
  }
  if (it != tiles.begin()) s.insert(*std::prev(it));
  return s;
}

int default_tile(const std::vector<int>& tiles, std::int64_t tokens, std::int64_t top_k, std::int64_t local_experts) {
  auto s = compute_selected_tile_n(tiles, tokens, top_k, local_experts);
  return s.empty() ? 0 : *s.begin();
}

std::int64_t autotune_bucket(const std::string& scheme, std::int64_t x, std::int64_t max) {
  auto next_pow2 = [](std::int64_t v) {
    std::int64_t p = 1;
    while (p < v) p *= 2;
    return p;
  };
  if (scheme == "hybrid") {
    if (x <= 0) return 1;
    if (x >= max) return max;
    if (x <= 256) return next_pow2(x);
    if (x <= 2048) return (x + 255) / 256 * 256;
    if (x <= 4096) return (x + 511) / 512 * 512;
    return std::min(next_pow2(x), max);
  }
  // pow2_down: last_positive_power_of_2(x), capped at tune_max_num_tokens.
  std::int64_t p = 1;
  while (p * 2 <= x) p *= 2;
  return std::min(p, max);
}

namespace {

std::string tiles_str(const std::set<int>& s) {
  std::string o;
  for (int t : s) o += (o.empty() ? "" : ",") + std::to_string(t);
  return "{" + o + "}";
}

Finding make(const char* id, Severity sev, const std::string& stage, const LaunchProblem& p) {
  Finding f;
  f.id = id;
  f.severity = sev;
  f.kernel = kKernel;
  f.stage = stage;
  f.tokens = p.tokens;
  return f;
}

std::optional<int> requested_tile(const std::string& tactic) {
  auto pos = tactic.find("tile=");
  if (pos == std::string::npos) return std::nullopt;
  try {
    return std::stoi(tactic.substr(pos + 5));
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  const auto& fi = *env.flashinfer;
  const auto& prof = fi.trtllm;
  const auto& dev = *env.device;
  const std::string at = " @ " + fi.tag();
  const std::string launcher_src = "flashinfer-ai/flashinfer csrc/trtllm_fused_moe_kernel_launcher.cu";

  // Architecture gate.
  if (std::find(prof.arch_majors.begin(), prof.arch_majors.end(), dev.major()) == prof.arch_majors.end()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher", p);
    std::string msg = prof.arch_message;
    if (auto pos = msg.find("{sm}"); pos != std::string::npos) msg.replace(pos, 4, std::to_string(dev.sm));
    f.message = "no TRTLLM-gen MoE kernel for this architecture: \"" + msg + "\"";
    f.gpu_error = msg;
    std::string majors;
    for (int m : prof.arch_majors) majors += (majors.empty() ? "" : ", ") + std::to_string(m);
    f.formula = "device major = " + std::to_string(dev.major()) + " (SM " + std::to_string(dev.sm) + ")";
    f.limit = "major in {" + majors + "}";
    f.upstream = "flashinfer-ai/flashinfer " + prof.arch_source + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  std::string launcher;
  const std::vector<int> tiles = supported_tiles(prof, p.quant, &launcher);
  if (tiles.empty()) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "launcher", p);
    f.message = "no TRTLLM-gen launcher for quant scheme " + p.quant;
    f.formula = "quant = " + p.quant;
    f.limit = "bf16, fp8_per_tensor, fp8_block128, mxfp8, nvfp4, mxfp4, mxfp4_bf16, int4_w4a16";
    f.upstream = launcher_src + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  const auto& L = prof.launchers.at(launcher);

  // Routing limits.
  const bool deepseek = p.routing == "deepseek";
  const auto& lim = deepseek ? prof.deepseek : prof.renormalize;
  if (p.top_k > lim.max_topk || p.num_experts > lim.max_experts || p.num_experts % lim.experts_multiple_of != 0) {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "routing", p);
    f.message = "no " + p.routing + " routing kernel instantiation handles this (E, top_k)";
    f.formula = "top_k = " + std::to_string(p.top_k) + ", E = " + fmt_int(p.num_experts);
    f.limit = "top_k <= " + std::to_string(lim.max_topk) + ", E <= " + fmt_int(lim.max_experts) +
              (lim.experts_multiple_of > 1 ? ", E % " + std::to_string(lim.experts_multiple_of) + " == 0" : "");
    f.upstream = "flashinfer-ai/flashinfer " + lim.source + at;
    out.push_back(std::move(f));
  }

  // Activation.
  const std::string act = upstream_activation(p.activation, p.gated);
  const bool deepseek_fp8 = p.quant == "fp8_block128";
  if (!L.any_activation && std::find(L.activations.begin(), L.activations.end(), act) == L.activations.end() &&
      (launcher != "fp8_block" || deepseek_fp8 || L.activation_hardwired)) {
    Finding f = make(finding_id::kActivationUnsupported, Severity::error, "gemm1", p);
    f.message = L.activation_hardwired
                    ? "the " + launcher + " launcher ignores the activation and always runs Swiglu: wrong result"
                    : "the " + launcher + " launcher rejects this activation (\"only supports ActivationType::Swiglu\")";
    f.formula = "activation = " + act;
    std::string allowed;
    for (const auto& a : L.activations) allowed += (allowed.empty() ? "" : ", ") + a;
    f.limit = "{" + allowed + "}";
    f.upstream = "flashinfer-ai/flashinfer " + L.source + at;
    out.push_back(std::move(f));
  }

  // int32 expanded-token count (getMaxNumCtasInBatchDim, routing: int32 numTokens * topK).
  const std::int64_t expanded = p.tokens * p.top_k;
  if (expanded > INT32_MAX) {
    Finding f = make(finding_id::kInt32OffsetOverflow, Severity::error, "routing", p);
    f.message = "numTokens * topK is computed in int32 and wraps";
    f.formula = fmt_int(p.tokens) + " * " + std::to_string(p.top_k) + " = " + fmt_int(expanded);
    f.limit = "<= 2,147,483,647";
    f.value = expanded;
    f.limit_value = INT32_MAX;
    f.upstream = "flashinfer-ai/flashinfer " + prof.cta_source + at;
    out.push_back(std::move(f));
  }

  // trtllm_fp4_block_scale_moe: hidden_states_scale_vec_size = (num_tokens * hidden_size) /
  // numel(hidden_states_scale) with an int32 product (FP4 / MXFP8 activations carry a scale).
  // A wrapped product gives a vector size that is neither 16 nor 32.
  if (prof.fp4_scale_vec_int32 && launcher == "fp4" && quant_dtypes(p.quant).first != "bf16") {
    const std::int64_t prod = p.tokens * p.hidden;
    if (prod > INT32_MAX) {
      Finding f = make(finding_id::kInt32OffsetOverflow, Severity::error, "api", p);
      f.message = "hidden_states_scale_vec_size = (num_tokens * hidden_size) / numel(hidden_states_scale) is "
                  "computed in int and wraps: the vector size is neither 16 nor 32 and the launcher raises";
      f.gpu_error = "NotImplementedError: Unsupported hidden state scale shape.";
      f.formula = "num_tokens * hidden_size = " + fmt_int(p.tokens) + " * " + fmt_int(p.hidden) + " = " + fmt_int(prod);
      f.limit = "<= 2,147,483,647";
      f.value = prod;
      f.limit_value = INT32_MAX;
      f.upstream = "flashinfer-ai/flashinfer " + prof.fp4_scale_vec_source + at;
      out.push_back(std::move(f));
    }
  }

  // Tile selection and requested tactic.
  const std::set<int> cands = compute_selected_tile_n(tiles, p.tokens, p.top_k, p.local_experts);
  const int tile = cands.empty() ? tiles.front() : *cands.begin();
  int used_tile = tile;
  if (auto rt = requested_tile(p.tactic)) {
    const bool in_list = std::find(tiles.begin(), tiles.end(), *rt) != tiles.end();
    const bool built = prof.build_launchers_for_all_tiles ? in_list : cands.count(*rt) > 0;
    if (!built) {
      Finding f = make(finding_id::kTileUnregistered, Severity::error, "gemm1", p);
      f.message = in_list ? "tactic tile_N=" + std::to_string(*rt) +
                                " has no launcher at this token count (launchers are built only for the "
                                "computeSelectedTileN set in this version; stale autotuner cache entry)"
                          : "tactic tile_N=" + std::to_string(*rt) + " is not a supported tile of the " + launcher +
                                " launcher";
      f.formula = "tile_N = " + std::to_string(*rt) + ", launchers built for " +
                  (prof.build_launchers_for_all_tiles ? std::string("all supported tiles") : tiles_str(cands));
      f.limit = "tile_N in launchers_map";
      f.upstream = "flashinfer-ai/flashinfer " + prof.tile_source + at;
      out.push_back(std::move(f));
    } else {
      used_tile = *rt;
    }
  }

  // Autotuned tactics are cached per token bucket and reused for every T in the bucket (and
  // for all T above tune_max_num_tokens). Where launchers exist only for the runtime
  // candidate set, a cached tile outside that set has no launcher.
  if (!prof.build_launchers_for_all_tiles && p.tactic.empty()) {
    const std::int64_t b = autotune_bucket(prof.autotune_buckets, p.tokens, prof.tune_max_num_tokens);
    const std::set<int> tuned = compute_selected_tile_n(tiles, b, p.top_k, p.local_experts);
    std::set<int> missing;
    for (int t : tuned)
      if (!cands.count(t)) missing.insert(t);
    if (!missing.empty()) {
      Finding f = make(finding_id::kTileUnregistered, Severity::warning, "gemm1", p);
      f.message = "a tactic autotuned at token bucket " + fmt_int(b) + " may carry tile_N " + tiles_str(missing) +
                  ", for which no launcher is built at " + fmt_int(p.tokens) +
                  " tokens (launchers_map.at(tile_N) throws; \"stale or mismatched autotuner cache entry\")";
      f.formula = "bucket(" + fmt_int(p.tokens) + ") = " + fmt_int(b) + " -> tactic tiles " + tiles_str(tuned) +
                  "; launchers at T: " + tiles_str(cands);
      f.limit = "tuned tiles subset of computeSelectedTileN(T)";
      f.upstream = "flashinfer-ai/flashinfer " + prof.tile_source + "; flashinfer/fused_moe/utils.py (" +
                   prof.autotune_buckets + " buckets, tune_max_num_tokens " + fmt_int(prof.tune_max_num_tokens) + ")" + at;
      out.push_back(std::move(f));
    }
  }

  // GEMM grid.y = getMaxNumCtasInBatchDim(T, K, local experts, tile).
  if (expanded <= INT32_MAX) {
    const std::int64_t ctas = max_num_ctas_in_batch_dim(p.tokens, p.top_k, p.local_experts, used_tile);
    if (ctas > dev.grid_max[1]) {
      Finding f = make(finding_id::kGridYOverflow, Severity::error, "gemm1+gemm2", p);
      f.message = "batched-GEMM launch with grid.y = getMaxNumCtasInBatchDim above the CUDA limit: the launch fails "
                  "(\"Error occurred when running GEMM!\")";
      f.gpu_error = "Error occurred when running GEMM! (numBatches: ..., GemmMNK: ..., Kernel: ...)";
      f.formula = "min(E_local, T*K) + (T*K - min(E_local, T*K)) / tile = min(" + fmt_int(p.local_experts) + ", " +
                  fmt_int(expanded) + ") + (" + fmt_int(expanded) + " - " +
                  fmt_int(std::min(p.local_experts, expanded)) + ") / " + std::to_string(used_tile) + " = " +
                  fmt_int(ctas);
      f.limit = "grid.y <= " + fmt_int(dev.grid_max[1]);
      f.value = ctas;
      f.limit_value = dev.grid_max[1];
      f.upstream = "flashinfer-ai/flashinfer " + prof.cta_source + "; " + prof.grid_source + at;
      f.details.emplace_back("tile_N", std::to_string(used_tile) + (p.tactic.empty() ? " (default: smallest of the candidate set)" : " (requested tactic)"));
      std::string per;
      for (int t : cands)
        per += (per.empty() ? "" : ", ") + std::to_string(t) + " -> " +
               fmt_int(max_num_ctas_in_batch_dim(p.tokens, p.top_k, p.local_experts, t));
      f.details.emplace_back("candidate tiles (autotuner may pick)", per);
      out.push_back(std::move(f));
    }
  }

  // Finalize: finalizeKernel (small grids) indexes with int; vectorised kernel needs topK <= 64.
  if (p.do_finalize && expanded <= INT32_MAX) {
    const std::int64_t bx = (p.hidden + prof.finalize_block_x - 1) / prof.finalize_block_x;
    const std::int64_t by = std::min<std::int64_t>(prof.finalize_blocks_y_cap, p.tokens);
    if (bx * by < prof.finalize_vecload_threshold) {
      const std::int64_t padded = max_num_ctas_in_batch_dim(p.tokens, p.top_k, p.local_experts, used_tile) * used_tile;
      const std::int64_t off = (padded - 1) * p.hidden;
      if (off > INT32_MAX) {
        Finding f = make(finding_id::kInt32OffsetOverflow, Severity::error, "finalize", p);
        f.message = "finalizeKernel computes permutedIdx * hiddenDimPadded in int";
        f.gpu_error = "CUDA error: an illegal memory access was encountered";
        f.formula = "(" + fmt_int(padded) + " - 1) * " + fmt_int(p.hidden) + " = " + fmt_int(off);
        f.limit = "<= 2,147,483,647";
        f.value = off;
        f.limit_value = INT32_MAX;
        f.upstream = "flashinfer-ai/flashinfer " + prof.finalize_source + at;
        out.push_back(std::move(f));
      }
    } else if (p.top_k > prof.finalize_vecload_max_topk) {
      Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "finalize", p);
      f.message = "\"Finalize kernel with vectorized loading is not supported for this TopK value\"";
      f.gpu_error = "Finalize kernel with vectorized loading is not supported for this TopK value";
      f.formula = "top_k = " + std::to_string(p.top_k);
      f.limit = "top_k <= " + std::to_string(prof.finalize_vecload_max_topk);
      f.upstream = "flashinfer-ai/flashinfer " + prof.finalize_source + at;
      out.push_back(std::move(f));
    }
  }

  if (p.quant == "nvfp4") contracts::check_fp4_quantize_global_scale(p, env, kKernel, out);
  contracts::check_scale_dtype_and_layout(p, env, kKernel, out);
  contracts::check_expert_ids(p, kKernel, "flashinfer-ai/flashinfer include/flashinfer/trtllm/fused_moe/RoutingKernel.cuh (expert counts indexed by expert id)" + at, out);
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> s{lo};
  const auto& prof = env.flashinfer->trtllm;
  const std::vector<int> tiles = supported_tiles(prof, p.quant, nullptr);
  if (tiles.empty() || p.local_experts <= 0) return s;
  // The candidate set is a function of center = clamp(nextPowerOfTwo(float(T*K)/L)), which is
  // non-decreasing in T: find where it reaches each ladder value.
  auto center = [&](std::int64_t t) -> std::int64_t {
    const float avg = static_cast<float>(t * p.top_k) / static_cast<float>(p.local_experts);
    return std::clamp<int>(next_power_of_two(avg), tiles.front(), tiles.back());
  };
  for (int c : tiles)
    if (auto t = first_at_least(center, c, lo, hi)) s.push_back(*t);
  // finalizeKernel vs vectorised finalize switch.
  const std::int64_t bx = (p.hidden + prof.finalize_block_x - 1) / prof.finalize_block_x;
  if (bx > 0) {
    auto blocks = [&](std::int64_t t) { return bx * std::min<std::int64_t>(prof.finalize_blocks_y_cap, t); };
    if (auto t = first_at_least(blocks, prof.finalize_vecload_threshold, lo, hi)) s.push_back(*t);
  }
  // Autotune buckets change at powers of two (and 256/512 steps for hybrid buckets).
  for (std::int64_t b = 1; b <= std::min<std::int64_t>(hi, 2 * prof.tune_max_num_tokens); b *= 2) {
    s.push_back(b);
    s.push_back(b + 1);
  }
  if (prof.autotune_buckets == "hybrid")
    for (std::int64_t b = 256; b <= 4096 && b <= hi; b += 256) s.push_back(b + 1);
  // The fp4_quantize global-scale contract changes at T == numel(globalScale).
  if (p.act_global_scale_numel) {
    s.push_back(*p.act_global_scale_numel);
    s.push_back(*p.act_global_scale_numel + 1);
  }
  // getMaxNumCtasInBatchDim changes form once T*K exceeds the expert count; past
  // T*K > INT32_MAX the int32 product wraps and the grid is no longer modelled.
  if (p.top_k > 0) {
    s.push_back((p.local_experts + p.top_k - 1) / p.top_k);
    s.push_back(INT32_MAX / p.top_k + 1);
  }
  // The FP4 launcher's int32 num_tokens * hidden_size wraps from T = INT32_MAX / H + 1.
  if (p.hidden > 0) s.push_back(INT32_MAX / p.hidden + 1);
  return s;
}

}  // namespace moesim::kernels::trtllm_gen
