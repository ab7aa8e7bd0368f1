#include "sim/kernels/cutlass_moe_launch.hpp"

#include <algorithm>
#include <map>

#include "sim/kernels/api_contracts.hpp"

namespace moesim::kernels::cutlass_moe {

namespace {

bool has_pair(const std::vector<std::pair<std::string, std::string>>& v, const std::string& a, const std::string& w) {
  return std::find(v.begin(), v.end(), std::make_pair(a, w)) != v.end();
}
bool has_int(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string replace_all(std::string s, const std::string& key, const std::string& val) {
  for (auto p = s.find(key); p != std::string::npos; p = s.find(key, p + val.size())) s.replace(p, key.size(), val);
  return s;
}

}  // namespace

bool tile_shapes_supported(const models::CutlassProfile& c, int arch, const models::CutlassTile& tile, int k_elems,
                           const models::ClusterShape& cl, const std::string& act, const std::string& weight,
                           bool mxfpx) {
  const int m = tile.m, n = tile.n;
  if (arch >= 100 && arch < 120) {
    const auto& p = c.p100;
    if (cl.x > p.max_cluster_x || cl.y != p.cluster_y || cl.z != 1) return false;
    if (arch == 103) return act == "fp4" && weight == "fp4" && m == c.p103.tile_m && has_int(c.p103.tile_n, n);
    if (!has_int(p.tile_m, m)) return false;
    if (act == "fp4" || weight == "fp4")
      if (!has_int(p.fp4_tile_n, n) || m != p.fp4_tile_m) return false;
    if (mxfpx && act == "fp8" && weight == "fp8")
      if (!has_int(p.fp4_tile_n, n) || m != p.fp4_tile_m) return false;
    if (act == "fp8" && has_int(p.fp8_small_tile_n, n) && cl.x == 1 && cl.y == 1) return true;
    if (n % p.tile_n_multiple != 0 || n < p.tile_n_min || n > p.tile_n_max) return false;
    if (cl.x % 2 == 0 && n % p.even_cluster_x_tile_n_multiple != 0) return false;
    return true;
  }
  if (arch == 120 || arch == 121) {
    if (cl.x != 1 || cl.y != 1 || cl.z != 1) return false;
    for (const auto& a : c.p120.allowed_mnk)
      if (a[0] == m && a[1] == n && a[2] == k_elems) return true;
    return false;
  }
  // SM90 (and older): 1x1 always; 2x1 needs M >= 128; 1x2 needs N >= 128; 2x2 both.
  if (cl.x == 1 && cl.y == 1) return true;
  if (cl.x == 2 && cl.y == 1) return m >= c.p90.cluster_2x1_min_tile_m;
  if (cl.x == 1 && cl.y == 2) return n >= c.p90.cluster_1x2_min_tile_n;
  if (cl.x == 2 && cl.y == 2) return m >= c.p90.cluster_2x1_min_tile_m && n >= c.p90.cluster_1x2_min_tile_n;
  return false;
}

TacticSet candidate_tactics(const models::FlashInferProfile& fi, int sm, const std::string& quant) {
  const auto& c = fi.cutlass;
  TacticSet ts;
  auto mod = c.modules.find(sm);
  if (mod == c.modules.end()) {
    ts.path = "none";
    ts.why_empty = "get_cutlass_fused_moe_module(\"" + std::to_string(sm) + "\") raises ValueError('Invalid backend')";
    return ts;
  }
  ts.module = mod->second;
  const auto [act, weight] = quant_dtypes(quant);
  const bool mxfpx = quant == "mxfp4" || quant == "mxfp8";
  bool tma_ws = false;
  if (sm >= 120) tma_ws = has_pair(c.spec_sm120, act, weight);
  else if (sm >= 100) tma_ws = has_pair(c.spec_blackwell, act, weight);
  else if (sm == 90) tma_ws = has_pair(c.spec_hopper, act, weight);
  if (!tma_ws) {
    const bool ampere = has_pair(c.ampere_pairs, act, weight) || (act == "fp8" && weight == "fp8" && has_int(c.ampere_fp8_sms, sm));
    ts.path = ampere ? "ampere" : "none";
    if (!ampere)
      ts.why_empty = "(" + act + ", " + weight + ") is neither a TMA warp-specialised specialisation for SM " +
                     std::to_string(sm) + " nor an Ampere-style grouped GEMM: \"No valid tactics available for fused moe op with the requested input combination\"";
    return ts;
  }
  ts.path = "tma_ws";
  std::string gen;
  for (const auto& r : c.generator_rules)
    if (sm >= r.sm_min && sm <= r.sm_max) {
      gen = r.generator;
      break;
    }
  if (sm == 90 && weight != act) gen = "sm90_weight_only";  // W4A16 / W4A8 mixed-input path
  auto git = c.generators.find(gen);
  if (git == c.generators.end()) {
    ts.path = "none";
    ts.why_empty = "no candidate generator for SM " + std::to_string(sm);
    return ts;
  }
  const auto& G = git->second;
  ts.generator = gen;
  if ((!G.requires_act.empty() && !std::count(G.requires_act.begin(), G.requires_act.end(), act)) ||
      (!G.requires_weight.empty() && !std::count(G.requires_weight.begin(), G.requires_weight.end(), weight))) {
    ts.path = "none";
    ts.why_empty = G.source + ": no candidates for (" + act + ", " + weight + ")";
    return ts;
  }
  std::vector<models::CandidateRow> rows;
  const bool fp4 = act == "fp4" || weight == "fp4";
  if (gen == "sm100" && fp4) {
    rows = G.fp4_rows;
    if (sm == 103 && act == "fp4" && weight == "fp4") rows.insert(rows.end(), G.sm103_fp4_rows.begin(), G.sm103_fp4_rows.end());
  } else {
    rows = G.rows;
  }
  const int act_bits = dtype_bits(act);
  for (const auto& r : rows) {
    if (!r.only_act.empty() && !std::count(r.only_act.begin(), r.only_act.end(), act)) continue;
    if (!r.only_sm.empty() && !has_int(r.only_sm, sm)) continue;
    Tactic t;
    t.tile = r.tile;
    t.cluster = r.cluster;
    t.sm_version = r.sm_version;
    t.generator = gen;
    t.k_elems = r.tile.k_bytes * 8 / act_bits;
    // Dispatch branch by the config's sm_version (dispatchMoeGemmSelectTileShapeTmaWarpSpecialized).
    if (!G.dispatcher.empty()) t.branch = G.dispatcher, t.arch = 90;
    else if (t.sm_version == 90) t.branch = "90", t.arch = 90;
    else if (t.sm_version == 103 && act == "fp4" && weight == "fp4") t.branch = "103", t.arch = 103;
    else if (t.sm_version >= 100 && t.sm_version < 120) t.branch = "100", t.arch = 100;
    else if (t.sm_version == 120 || t.sm_version == 121) t.branch = "120", t.arch = 120;
    auto bit = c.dispatch_branches.find(t.branch);
    const bool tile_ok = bit != c.dispatch_branches.end() &&
                         std::find(bit->second.begin(), bit->second.end(), t.tile) != bit->second.end();
    if (!tile_ok) {
      t.failure = "tile";
      t.message = replace_all(c.unsupported_tile_message, "{enum}", std::to_string(t.tile.enum_value()));
    } else if (std::find(c.cluster_cases.begin(), c.cluster_cases.end(), t.cluster) == c.cluster_cases.end()) {
      t.failure = "cluster_case";
      t.message = "Unsupported cluster shape config for MoE gemm (" + t.cluster.name() + ")";
    } else if (!G.dispatcher.empty()) {
      t.registered = true;  // mixed-input dispatcher: tile case is the whole check
    } else if (!tile_shapes_supported(c, t.arch, t.tile, t.k_elems, t.cluster, act, weight, mxfpx)) {
      t.failure = "predicate";
      std::string msg = c.cluster_message;
      msg = replace_all(msg, "{m}", std::to_string(t.tile.m));
      msg = replace_all(msg, "{n}", std::to_string(t.tile.n));
      msg = replace_all(msg, "{k}", std::to_string(t.k_elems));
      msg = replace_all(msg, "{cm}", std::to_string(t.cluster.x));
      msg = replace_all(msg, "{cn}", std::to_string(t.cluster.y));
      msg = replace_all(msg, "{arch}", std::to_string(t.arch));
      t.message = msg;
    } else {
      t.registered = true;
    }
    ts.tactics.push_back(std::move(t));
  }
  return ts;
}

namespace {
Finding make(const char* id, Severity sev, const std::string& stage, const LaunchProblem& p) {
  Finding f;
  f.id = id;
  f.severity = sev;
  f.kernel = kKernel;
  f.stage = stage;
  f.tokens = p.tokens;
  return f;
}
}  // namespace

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  const auto& fi = *env.flashinfer;
  const auto& c = fi.cutlass;
  const auto& dev = *env.device;
  const std::string at = " @ " + fi.tag();
  const std::string repo = "flashinfer-ai/flashinfer ";

  TacticSet ts = candidate_tactics(fi, dev.sm, p.quant);
  if (ts.path == "none") {
    Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "gemm1", p);
    f.message = "no CUTLASS MoE kernel for this device and quant: " + ts.why_empty;
    f.formula = "SM " + std::to_string(dev.sm) + ", (act, weight) = (" + quant_dtypes(p.quant).first + ", " +
                quant_dtypes(p.quant).second + ")";
    f.limit = "a JIT module and a TMA-WS or Ampere specialisation";
    f.upstream = repo + (ts.module.empty() ? c.modules_source : c.spec_source) + at;
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  if (ts.path == "tma_ws") {
    std::size_t registered = 0;
    for (const auto& t : ts.tactics) registered += t.registered;
    if (registered == 0) {
      Finding f = make(finding_id::kEmptyTacticSet, Severity::error, "gemm1", p);
      f.message = "every candidate tactic is rejected by the dispatcher (\"Could not find valid config when calculating workspace size\")";
      f.gpu_error = "Could not find valid config when calculating workspace size";
      f.formula = fmt_int(std::int64_t(ts.tactics.size())) + " candidates from generator " + ts.generator + ", 0 dispatchable";
      f.limit = ">= 1 dispatchable candidate";
      f.upstream = repo + c.dispatch_source + at;
      out.push_back(std::move(f));
    }
    // Group unregistered tactics: by tile enum for tile-level failures, by cluster otherwise.
    std::map<std::string, std::vector<const Tactic*>> groups;
    for (const auto& t : ts.tactics)
      if (!t.registered)
        groups[t.failure == "tile" ? "tile:" + std::to_string(t.tile.enum_value()) : "cluster:" + t.cluster.name() + ":" + t.message].push_back(&t);
    const std::string requested = p.tactic;
    for (const auto& [key, list] : groups) {
      const Tactic& t0 = *list.front();
      bool is_default = &t0 == &ts.tactics.front();
      bool is_requested = false;
      std::string where;
      for (const Tactic* t : list) {
        const std::string id = t->tile.name + "/" + t->cluster.name();
        where += (where.empty() ? "" : ", ") + id;
        is_requested = is_requested || id == requested;
        is_default = is_default || t == &ts.tactics.front();
      }
      Finding f = make(finding_id::kTileUnregistered, (is_default || is_requested) ? Severity::error : Severity::warning, "gemm1+gemm2", p);
      f.message = "candidate tactic emitted by " + ts.generator + " but not dispatchable: \"" + t0.message + "\"" +
                  ((is_default || is_requested) ? "" : " (raised when the autotuner or a cached profile selects it)");
      f.gpu_error = t0.message;
      if (t0.failure == "tile") {
        std::string branch_tiles;
        for (const auto& bt : c.dispatch_branches.at(t0.branch)) branch_tiles += (branch_tiles.empty() ? "" : " ") + bt.name;
        f.formula = "tile " + t0.tile.name + " = enum " + std::to_string(t0.tile.enum_value()) + " (sm_version " +
                    std::to_string(t0.sm_version) + " -> dispatch branch " + t0.branch + ")";
        f.limit = "SHAPE_CASE set of branch " + t0.branch + ": {" + branch_tiles + "}";
        auto line = c.default_case_line.find(t0.branch);
        f.upstream = repo + c.dispatch_source + (line != c.default_case_line.end() ? " (DEFAULT_CASE line " + std::to_string(line->second) + ")" : "") + at;
      } else {
        f.formula = "tile (" + std::to_string(t0.tile.m) + ", " + std::to_string(t0.tile.n) + ", " +
                    std::to_string(t0.k_elems) + " elems) cluster " + t0.cluster.name() + " on arch " + std::to_string(t0.arch);
        f.limit = "are_tile_shapes_supported<arch " + std::to_string(t0.arch) + "> and cluster case in {1x1x1, 1x2x1, 2x1x1, 2x2x1}";
        auto line = c.cluster_case_line.find(t0.cluster.name());
        f.upstream = repo + c.cluster_source + (line != c.cluster_case_line.end() ? " (line " + std::to_string(line->second) + ")" : "") + "; " + c.predicate_source + at;
      }
      f.details.emplace_back("tactics", where);
      f.details.emplace_back("generator", c.generators.at(ts.generator).source);
      f.details.emplace_back("module", ts.module);
      out.push_back(std::move(f));
    }
  }
  // Activation instantiations.
  const std::string act = upstream_activation(p.activation, p.gated);
  const auto& acts = p.gated ? c.gated_activations : (ts.path == "tma_ws" ? c.tma_ws_non_gated : c.ampere_fused_epilogue);
  if (std::find(acts.begin(), acts.end(), act) == acts.end()) {
    Finding f = make(finding_id::kActivationUnsupported, Severity::error, p.gated ? "activation" : "gemm1", p);
    f.message = std::string("no ") + (p.gated ? "gated activation kernel" : ts.path == "tma_ws" ? "activation kernel" : "fused GEMM epilogue (moeGemmBiasAct)") +
                " instantiation for " + act + ": \"Invalid activation type\"";
    std::string allowed;
    for (const auto& a : acts) allowed += (allowed.empty() ? "" : ", ") + a;
    f.formula = "activation = " + act + " on the " + ts.path + " path";
    f.limit = "{" + allowed + "}";
    f.upstream = repo + (p.gated ? c.gated_source : ts.path == "tma_ws" ? c.tma_ws_non_gated_source : c.ampere_fused_epilogue_source) + at;
    out.push_back(std::move(f));
  }
  // num_rows * full_num_experts <= INT_MAX.
  const std::int64_t prod = p.tokens * p.num_experts;
  if (prod > c.rows_times_experts_max) {
    Finding f = make(finding_id::kInt32OffsetOverflow, Severity::error, "routing", p);
    f.message = "\"Number of rows * num_experts is too large\" (source maps are built with int)";
    f.gpu_error = "Number of rows * num_experts is too large";
    f.formula = fmt_int(p.tokens) + " * " + fmt_int(p.num_experts) + " = " + fmt_int(prod);
    f.limit = "<= " + fmt_int(c.rows_times_experts_max);
    f.value = prod;
    f.limit_value = c.rows_times_experts_max;
    f.upstream = repo + c.limits_source + at;
    out.push_back(std::move(f));
  }
  contracts::check_cutlass_act_global_scale(p, env, out);
  contracts::check_scale_dtype_and_layout(p, env, kKernel, out);
  contracts::check_expert_ids(p, kKernel, repo + "csrc/fused_moe/cutlass_backend/cutlass_fused_moe_kernels.cuh (expert_first_token_offset indexed by expert)" + at, out);
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem&, const LaunchEnv&, std::int64_t lo, std::int64_t) {
  return {lo};
}

}  // namespace moesim::kernels::cutlass_moe
