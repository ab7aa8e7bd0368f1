#include "models/lib/flashinfer_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace json = boost::json;

CutlassTile parse_cutlass_tile(const std::string& s, const std::string& where) {
  CutlassTile t;
  t.name = s;
  int m = 0, n = 0, k = 0;
  char b = 0;
  if (std::sscanf(s.c_str(), "%dx%dx%d%c", &m, &n, &k, &b) != 4 || b != 'B' || m <= 0 || n <= 0 || k <= 0 ||
      m >= 1000 || n >= 1000 || k >= 1000)
    throw InputError(where, "malformed CUTLASS tile '" + s + "' (expected e.g. 128x128x128B)");
  t.m = m;
  t.n = n;
  t.k_bytes = k;
  return t;
}

std::string ClusterShape::name() const {
  return std::to_string(x) + "x" + std::to_string(y) + "x" + std::to_string(z);
}

ClusterShape parse_cluster(const std::string& s, const std::string& where) {
  ClusterShape c;
  if (std::sscanf(s.c_str(), "%dx%dx%d", &c.x, &c.y, &c.z) != 3 || c.x <= 0 || c.y <= 0 || c.z <= 0)
    throw InputError(where, "malformed cluster shape '" + s + "' (expected e.g. 2x1x1)");
  return c;
}

json::value merge_json(const json::value& base, const json::value& over) {
  if (!base.is_object() || !over.is_object()) return over;
  json::object out = base.as_object();
  for (const auto& kv : over.as_object()) {
    auto it = out.find(kv.key());
    if (it != out.end())
      it->value() = merge_json(it->value(), kv.value());
    else
      out[kv.key()] = kv.value();
  }
  return out;
}

namespace {

std::vector<int> ints(const Node& n) {
  std::vector<int> v;
  for (auto x : n.as_int_vector()) v.push_back(static_cast<int>(x));
  return v;
}

std::vector<std::pair<std::string, std::string>> pairs(const Node& n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Node& p : n.items()) {
    auto v = p.as_string_vector();
    if (v.size() != 2) p.fail("expected [activation_dtype, weight_dtype]");
    out.emplace_back(v[0], v[1]);
  }
  return out;
}

std::vector<CandidateRow> rows(const Node& n, int dflt_sm) {
  std::vector<CandidateRow> out;
  for (const Node& r : n.items()) {
    CandidateRow c;
    c.tile = parse_cutlass_tile(r.at("tile").as_string(), r.at("tile").where());
    c.cluster = parse_cluster(r.at("cluster").as_string(), r.at("cluster").where());
    c.sm_version = static_cast<int>(r.get_int("sm_version", dflt_sm));
    if (auto a = r.find("only_act")) c.only_act = a->as_string_vector();
    if (auto s = r.find("only_sm")) c.only_sm = ints(*s);
    out.push_back(std::move(c));
  }
  return out;
}

TrtllmGenProfile parse_trtllm(const Node& t) {
  TrtllmGenProfile p;
  p.arch_majors = ints(t.at("arch_majors"));
  p.arch_message = t.at("arch_gate").at("message").as_string();
  p.arch_source = t.at("arch_gate").at("source").as_string();
  for (const auto& [name, l] : t.at("launchers").members()) {
    TrtllmLauncher L;
    L.tiles = ints(l.at("tiles"));
    if (L.tiles.empty() || !std::is_sorted(L.tiles.begin(), L.tiles.end()))
      l.at("tiles").fail("tile list must be non-empty and ascending");
    if (auto e = l.find("extra_tiles_if_mxfp8")) L.extra_tiles_if_mxfp8 = ints(*e);
    if (auto e = l.find("extra_tiles_if_act_not_bf16")) L.extra_tiles_if_act_not_bf16 = ints(*e);
    if (auto e = l.find("extra_tiles_if_quant"))
      for (const auto& [q, tiles] : e->members()) L.extra_tiles_if_quant[q] = ints(tiles);
    Node acts = l.at("activations");
    if (acts.is_string()) {
      if (acts.as_string() != "any") acts.fail("expected \"any\" or a list of activations");
      L.any_activation = true;
    } else {
      L.any_activation = false;
      L.activations = acts.as_string_vector();
    }
    L.activation_hardwired = l.get_bool("activation_hardwired", false);
    L.source = l.at("source").as_string();
    p.launchers[name] = std::move(L);
  }
  Node ts = t.at("tile_selection");
  p.center_must_be_in_list = ts.at("center_must_be_in_list").as_bool();
  p.build_launchers_for_all_tiles = ts.at("build_launchers_for_all_tiles").as_bool();
  p.tile_source = ts.at("source").as_string();
  Node cc = t.at("cta_count");
  p.cta_formula = cc.at("formula").as_string();
  p.cta_source = cc.at("source").as_string();
  p.grid_source = cc.at("grid_source").as_string();
  auto limits = [](const Node& n) {
    RoutingLimits r;
    r.max_topk = n.at("max_topk").as_int();
    r.max_experts = n.at("max_experts").as_int();
    r.experts_multiple_of = n.get_int("experts_multiple_of", 1);
    if (r.experts_multiple_of <= 0) n.at("experts_multiple_of").fail("must be positive");
    r.source = n.at("source").as_string();
    return r;
  };
  p.renormalize = limits(t.at("routing").at("renormalize"));
  p.deepseek = limits(t.at("routing").at("deepseek"));
  Node f = t.at("finalize");
  p.finalize_vecload_threshold = f.at("vecload_if_blocks_at_least").as_int();
  p.finalize_blocks_y_cap = f.at("blocks_y_cap").as_int();
  p.finalize_block_x = f.at("block_x_elems").as_int();
  p.finalize_vecload_max_topk = f.at("vecload_max_topk").as_int();
  p.finalize_source = f.at("source").as_string();
  if (auto sv = t.find("fp4_scale_vec_size")) {
    p.fp4_scale_vec_int32 = sv->at("int32_product").as_bool();
    p.fp4_scale_vec_source = sv->at("source").as_string();
  }
  p.skip_cluster_dim_z = t.at("skip_cluster_dim_z").as_bool();
  p.tune_max_num_tokens = t.at("tune_max_num_tokens").as_int();
  p.autotune_buckets = t.at("autotune_buckets").as_string();
  return p;
}

CutlassProfile parse_cutlass(const Node& c) {
  CutlassProfile p;
  for (const auto& [k, v] : c.at("modules").members()) {
    if (k == "source") {
      p.modules_source = v.as_string();
      continue;
    }
    int sm = 0;
    try {
      sm = std::stoi(k);
    } catch (...) {
      v.fail("module key must be an SM number");
    }
    p.modules[sm] = v.as_string();
  }
  for (const auto& [k, v] : c.at("module_arch").members()) p.module_arch[k] = static_cast<int>(v.as_int());
  for (const auto& [sm, mod] : p.modules)
    if (!p.module_arch.count(mod)) c.at("module_arch").fail("no arch for module '" + mod + "'");
  Node sp = c.at("tma_ws_specialisations");
  p.spec_source = sp.at("source").as_string();
  p.spec_sm120 = pairs(sp.at("sm120"));
  p.spec_blackwell = pairs(sp.at("blackwell"));
  p.spec_hopper = pairs(sp.at("hopper"));
  Node am = c.at("ampere_path");
  p.ampere_source = am.at("source").as_string();
  p.ampere_pairs = pairs(am.at("pairs"));
  p.ampere_fp8_sms = ints(am.at("fp8_pairs_on_sm"));
  Node gs = c.at("generator_select");
  p.generator_select_source = gs.at("source").as_string();
  for (const Node& r : gs.at("rules").items())
    p.generator_rules.push_back({static_cast<int>(r.at("sm_min").as_int()), static_cast<int>(r.at("sm_max").as_int()),
                                 r.at("generator").as_string()});
  for (const auto& [name, g] : c.at("generators").members()) {
    CandidateGenerator G;
    G.name = name;
    G.source = g.at("source").as_string();
    G.sm_version = static_cast<int>(g.at("sm_version").as_int());
    G.dispatcher = g.get_string("dispatcher", "");
    G.rows = rows(g.at("rows"), G.sm_version);
    if (auto f = g.find("fp4_rows")) G.fp4_rows = rows(*f, G.sm_version);
    if (auto f = g.find("sm103_fp4_rows")) G.sm103_fp4_rows = rows(*f, 103);
    if (auto r = g.find("requires_act")) G.requires_act = r->as_string_vector();
    if (auto r = g.find("requires_weight")) G.requires_weight = r->as_string_vector();
    p.generators[name] = std::move(G);
  }
  for (const auto& r : p.generator_rules)
    if (!p.generators.count(r.generator)) gs.fail("unknown generator '" + r.generator + "'");
  Node d = c.at("dispatch");
  p.dispatch_source = d.at("source").as_string();
  p.unsupported_tile_message = d.at("unsupported_tile_message").as_string();
  for (const auto& [k, v] : d.at("default_case_line").members()) p.default_case_line[k] = v.as_int();
  for (const auto& [k, v] : d.at("branches").members()) {
    std::vector<CutlassTile> tiles;
    for (const Node& t : v.items()) tiles.push_back(parse_cutlass_tile(t.as_string(), t.where()));
    p.dispatch_branches[k] = std::move(tiles);
  }
  for (const Node& t : d.at("cluster_cases").items()) p.cluster_cases.push_back(parse_cluster(t.as_string(), t.where()));
  p.cluster_source = d.at("cluster_source").as_string();
  p.cluster_message = d.at("cluster_message").as_string();
  if (auto l = d.find("cluster_case_line"))
    for (const auto& [k, v] : l->members()) p.cluster_case_line[k] = v.as_int();
  Node pr = c.at("predicates");
  p.predicate_source = pr.at("source").as_string();
  Node p1 = pr.at("sm100");
  p.p100.max_cluster_x = static_cast<int>(p1.at("max_cluster_x").as_int());
  p.p100.cluster_y = static_cast<int>(p1.at("cluster_y").as_int());
  p.p100.tile_m = ints(p1.at("tile_m"));
  p.p100.fp4_tile_n = ints(p1.at("fp4_tile_n"));
  p.p100.fp4_tile_m = static_cast<int>(p1.at("fp4_tile_m").as_int());
  p.p100.fp8_small_tile_n = ints(p1.at("fp8_small_tile_n"));
  p.p100.tile_n_multiple = static_cast<int>(p1.at("tile_n_multiple").as_int());
  p.p100.tile_n_min = static_cast<int>(p1.at("tile_n_min").as_int());
  p.p100.tile_n_max = static_cast<int>(p1.at("tile_n_max").as_int());
  p.p100.even_cluster_x_tile_n_multiple = static_cast<int>(p1.at("even_cluster_x_tile_n_multiple").as_int());
  if (p.p100.tile_n_multiple <= 0 || p.p100.even_cluster_x_tile_n_multiple <= 0) p1.fail("multiples must be positive");
  p.p103.tile_m = static_cast<int>(pr.at("sm103").at("tile_m").as_int());
  p.p103.tile_n = ints(pr.at("sm103").at("tile_n"));
  for (const Node& t : pr.at("sm120").at("allowed_mnk").items()) {
    auto v = t.as_int_vector();
    if (v.size() != 3) t.fail("expected [M, N, K elements]");
    p.p120.allowed_mnk.push_back({int(v[0]), int(v[1]), int(v[2])});
  }
  p.p90.cluster_2x1_min_tile_m = static_cast<int>(pr.at("sm90").at("cluster_2x1_min_tile_m").as_int());
  p.p90.cluster_1x2_min_tile_n = static_cast<int>(pr.at("sm90").at("cluster_1x2_min_tile_n").as_int());
  Node a = c.at("activations");
  p.gated_activations = a.at("gated_kernel").as_string_vector();
  p.gated_source = a.at("gated_source").as_string();
  p.tma_ws_non_gated = a.at("tma_ws_non_gated").as_string_vector();
  p.tma_ws_non_gated_source = a.at("tma_ws_non_gated_source").as_string();
  p.ampere_fused_epilogue = a.at("ampere_fused_epilogue").as_string_vector();
  p.ampere_fused_epilogue_source = a.at("ampere_fused_epilogue_source").as_string();
  p.rows_times_experts_max = c.at("limits").at("rows_times_experts_max").as_int();
  p.limits_source = c.at("limits").at("source").as_string();
  return p;
}

ScaleNumelContract numel_contract(const Node& n) {
  ScaleNumelContract c;
  c.allowed_numel = n.at("allowed_numel").as_string_vector();
  for (const auto& s : c.allowed_numel)
    if (s != "1" && s != "num_tokens" && s != "num_local_experts")
      n.at("allowed_numel").fail("unknown numel rule '" + s + "' (1 | num_tokens | num_local_experts)");
  c.enforced = n.get_bool("enforced", true);
  c.dtype = n.get_string("dtype", "f32");
  c.message = n.get_string("message", "");
  c.source = n.at("source").as_string();
  return c;
}

std::map<std::string, std::vector<std::string>> string_lists(const Node& n, std::string* source) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [k, v] : n.members()) {
    if (k == "source") {
      if (source) *source = v.as_string();
      continue;
    }
    out[k] = v.as_string_vector();
  }
  return out;
}

FlashInferProfile parse_profile(const Node& root) {
  FlashInferProfile p;
  p.version = PyVersion::parse(root.at("version").as_string(), root.at("version").where());
  p.commit = root.get_string("commit", "");
  p.date = root.get_string("date", "");
  if (auto fam = root.find("families")) {
    for (const auto& [k, f] : fam->members()) {
      if (k != "flashinfer_trtllm" && k != "flashinfer_cutlass" && k != "flashinfer_cutedsl" &&
          k != "flashinfer_cutedsl_batched")
        f.fail("unknown kernel family (flashinfer_trtllm | flashinfer_cutlass | flashinfer_cutedsl | flashinfer_cutedsl_batched)");
      FamilyStatus st;
      st.present = f.at("present").as_bool();
      st.modelled = st.present && f.get_bool("modelled", true);
      st.note = f.get_string("note", "");
      if (auto u = f.find("unmodelled_sms")) st.unmodelled_sms = ints(*u);
      p.families[k] = st;
    }
  }
  if (!p.modelled_any()) return p;  // a release whose tables moesim has not read: status only
  p.trtllm = parse_trtllm(root.at("trtllm_gen"));
  p.cutlass = parse_cutlass(root.at("cutlass"));
  Node cd = root.at("cute_dsl");
  p.cute_dsl.arch_sms = ints(cd.at("arch_sms"));
  p.cute_dsl.tile_sizes = ints(cd.at("tile_sizes"));
  p.cute_dsl.quant = cd.at("quant").as_string_vector();
  p.cute_dsl.arch_source = cd.at("arch_source").as_string();
  p.cute_dsl.tile_source = cd.at("tile_source").as_string();
  if (p.family("flashinfer_cutedsl_batched").modelled) {
    Node cm = root.at("cute_dsl_masked");
    p.cute_dsl_masked.arch_sms = ints(cm.at("arch_sms"));
    p.cute_dsl_masked.quant = cm.at("quant").as_string_vector();
    Node q = cm.at("quantize");
    p.cute_dsl_masked.elts_per_thread = static_cast<int>(q.at("elts_per_thread").as_int());
    p.cute_dsl_masked.elts_per_thread_wide = static_cast<int>(q.at("elts_per_thread_sm100_new_nvcc").as_int());
    const std::string nv = q.get_string("new_nvcc", "12.9");
    if (std::sscanf(nv.c_str(), "%d.%d", &p.cute_dsl_masked.wide_nvcc_major, &p.cute_dsl_masked.wide_nvcc_minor) != 2)
      q.at("new_nvcc").fail("expected a CUDA version like 12.9");
    for (int e : {p.cute_dsl_masked.elts_per_thread, p.cute_dsl_masked.elts_per_thread_wide})
      if (e != 8 && e != 16) q.fail("elts_per_thread must be 8 or 16");
    p.cute_dsl_masked.arch_source = cm.at("arch_source").as_string();
    p.cute_dsl_masked.quantize_source = q.at("source").as_string();
    p.cute_dsl_masked.global_scale_source = cm.at("global_scale_source").as_string();
    p.cute_dsl_masked.framework_source = cm.at("framework_source").as_string();
  }
  Node api = root.at("api_contracts");
  p.api.fp4_quantize_global_scale = numel_contract(api.at("fp4_quantize_global_scale"));
  p.api.cutlass_act_global_scale = numel_contract(api.at("cutlass_act_global_scale"));
  p.api.block_scale_dtypes = string_lists(api.at("block_scale_dtypes"), nullptr);
  p.api.block_scale_dtype_source = api.at("block_scale_dtype_source").as_string();
  p.api.act_scale_layouts = string_lists(api.at("expected_act_scale_layouts"), &p.api.act_scale_layout_source);
  p.api.weight_scale_layouts = string_lists(api.at("expected_weight_scale_layouts"), &p.api.weight_scale_layout_source);
  return p;
}

}  // namespace

bool FamilyStatus::modelled_on(int sm) const {
  return modelled && std::find(unmodelled_sms.begin(), unmodelled_sms.end(), sm) == unmodelled_sms.end();
}

FamilyStatus FlashInferProfile::family(const std::string& variant) const {
  auto it = families.find(variant);
  return it == families.end() ? FamilyStatus{} : it->second;
}

bool FlashInferProfile::modelled_any() const {
  for (const char* v : {"flashinfer_trtllm", "flashinfer_cutlass", "flashinfer_cutedsl", "flashinfer_cutedsl_batched"})
    if (family(v).modelled) return true;
  return false;
}

FlashInferProfiles FlashInferProfiles::load(const std::string& models_dir) {
  namespace fs = std::filesystem;
  FlashInferProfiles out;
  out.dir_ = models_dir + "/flashinfer";
  std::error_code ec;
  if (!fs::is_directory(out.dir_, ec)) throw InputError(out.dir_, "FlashInfer profile directory not found");
  std::map<std::string, Document> docs;  // version text -> document
  std::map<std::string, std::string> files;
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(out.dir_))
    if (e.path().extension() == ".json") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    Document d = Document::load(path);
    if (!d.root().is_object() || !d.root().has("version")) continue;  // not a profile (e.g. notes)
    std::string v = d.root().at("version").as_string();
    if (docs.count(v)) throw InputError(path, "duplicate FlashInfer profile for version " + v + " (also " + files[v] + ")");
    files[v] = path;
    docs.emplace(v, std::move(d));
  }
  // Resolve inherits with cycle detection.
  std::map<std::string, json::value> merged;
  std::map<std::string, std::vector<std::string>> chains;
  std::function<const json::value&(const std::string&, std::set<std::string>&)> resolve =
      [&](const std::string& v, std::set<std::string>& seen) -> const json::value& {
    auto it = merged.find(v);
    if (it != merged.end()) return it->second;
    if (!seen.insert(v).second) throw InputError(files[v], "inherits cycle through version " + v);
    const Document& d = docs.at(v);
    Node root = d.root();
    json::value val = root.raw();
    std::vector<std::string> chain;
    if (auto inh = root.find("inherits")) {
      std::string base = inh->as_string();
      if (!docs.count(base)) inh->fail("inherits unknown version '" + base + "'");
      const json::value& b = resolve(base, seen);
      chain = chains[base];
      val = merge_json(b, val);
    }
    chain.push_back(files[v]);
    chains[v] = chain;
    return merged.emplace(v, std::move(val)).first->second;
  };
  std::map<std::string, std::map<std::string, int>> content_ids;  // variant -> section JSON -> id
  for (const auto& [v, d] : docs) {
    std::set<std::string> seen;
    const json::value& val = resolve(v, seen);
    std::string name = files[v];
    if (chains[v].size() > 1) name += " (merged over " + chains[v][chains[v].size() - 2] + ")";
    FlashInferProfile p = parse_profile(Node(&val, name, ""));
    static const std::pair<const char*, const char*> kSections[] = {{"flashinfer_trtllm", "trtllm_gen"},
                                                                     {"flashinfer_cutlass", "cutlass"},
                                                                     {"flashinfer_cutedsl", "cute_dsl"},
                                                                     {"flashinfer_cutedsl_batched", "cute_dsl_masked"}};
    for (const auto& [variant, section] : kSections) {
      const auto& o = val.as_object();
      std::string key = section;
      if (auto it = o.find(section); it != o.end()) key += json::serialize(it->value());
      if (auto it = o.find("api_contracts"); it != o.end()) key += json::serialize(it->value());
      auto& ids = content_ids[variant];
      auto [pos, inserted] = ids.emplace(std::move(key), static_cast<int>(ids.size()));
      p.content_id[variant] = pos->second;
    }
    p.file = files[v];
    p.inherits_chain = chains[v];
    out.profiles_.push_back(std::move(p));
  }
  std::sort(out.profiles_.begin(), out.profiles_.end(),
            [](const FlashInferProfile& a, const FlashInferProfile& b) { return a.version < b.version; });
  if (out.profiles_.empty()) throw InputError(out.dir_, "no FlashInfer profiles found");
  return out;
}

const FlashInferProfile& FlashInferProfiles::find(const std::string& version) const {
  std::string v = version;
  if (!v.empty() && (v[0] == 'v' || v[0] == 'V')) v = v.substr(1);
  PyVersion pv = PyVersion::parse(v, "--flashinfer");
  for (const auto& p : profiles_)
    if (p.version == pv) return p;
  std::string known;
  for (const auto& p : profiles_) known += (known.empty() ? "" : ", ") + p.version.text;
  throw InputError(dir_, "no FlashInfer profile for version '" + version + "' (known: " + known + ")");
}

}  // namespace moesim::models
