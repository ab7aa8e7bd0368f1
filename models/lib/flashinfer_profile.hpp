#pragma once
// FlashInfer fused-MoE profiles per version (models/flashinfer/<version>.json): TRTLLM-gen
// tile lists and routing limits, CUTLASS candidate tables, dispatch cases and tile/cluster
// predicates, CuteDSL tactic tiles and API contracts. A profile may name another one in
// "inherits"; objects merge key by key, arrays and scalars replace (so a later version lists
// only what changed and the tables stay diffable).
#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/framework_version.hpp"

namespace moesim::models {

struct TrtllmLauncher {
  std::vector<int> tiles;                  // sorted ascending
  std::vector<int> extra_tiles_if_mxfp8;   // Fp8BlockScale with MxFp8
  std::vector<int> extra_tiles_if_act_not_bf16;  // FP4 launcher
  std::map<std::string, std::vector<int>> extra_tiles_if_quant;  // quant id -> extra tiles (e.g. nvfp4 -> 192)
  bool any_activation = true;
  std::vector<std::string> activations;    // when !any_activation
  bool activation_hardwired = false;       // API ignores the activation (runs these)
  std::string source;
};

struct RoutingLimits {
  std::int64_t max_topk = 0, max_experts = 0, experts_multiple_of = 1;
  std::string source;
};

struct TrtllmGenProfile {
  std::vector<int> arch_majors;
  std::string arch_message, arch_source;
  std::map<std::string, TrtllmLauncher> launchers;  // bf16, fp8_per_tensor, fp8_block, mxint4, fp4
  bool center_must_be_in_list = false;
  bool build_launchers_for_all_tiles = false;
  std::string tile_source, cta_formula, cta_source, grid_source;
  RoutingLimits renormalize, deepseek;
  std::int64_t finalize_vecload_threshold = 1184, finalize_blocks_y_cap = 8192, finalize_block_x = 256,
               finalize_vecload_max_topk = 64;
  std::string finalize_source;
  // trtllm_fp4_block_scale_moe computes hidden_states_scale_vec_size = (num_tokens * hidden_size)
  // / numel(hidden_states_scale) with int num_tokens and int hidden_size (int32 product) until
  // PR #2853 (first in v0.6.8rc1).
  bool fp4_scale_vec_int32 = false;
  std::string fp4_scale_vec_source;
  bool skip_cluster_dim_z = false;
  std::int64_t tune_max_num_tokens = 8192;
  std::string autotune_buckets;
};

struct CutlassTile {
  int m = 0, n = 0, k_bytes = 0;
  std::string name;  // "128x128x128B"
  // shape_tuple_to_enum: m*1000000 + n*1000 + k (gemm_configs.h)
  std::int64_t enum_value() const { return std::int64_t(m) * 1000000 + std::int64_t(n) * 1000 + k_bytes; }
  bool operator==(const CutlassTile& o) const { return m == o.m && n == o.n && k_bytes == o.k_bytes; }
};
CutlassTile parse_cutlass_tile(const std::string& s, const std::string& where);

struct ClusterShape {
  int x = 1, y = 1, z = 1;
  std::string name() const;
  bool operator==(const ClusterShape& o) const { return x == o.x && y == o.y && z == o.z; }
};
ClusterShape parse_cluster(const std::string& s, const std::string& where);

struct CandidateRow {
  CutlassTile tile;
  ClusterShape cluster;
  int sm_version = 0;                  // CutlassGemmConfig::sm_version it carries
  std::vector<std::string> only_act;   // emitted only for these activation dtypes
  std::vector<int> only_sm;            // emitted only on these runtime SMs
};

struct CandidateGenerator {
  std::string name, source, dispatcher;  // dispatcher "" = by sm_version branch
  int sm_version = 0;
  std::vector<CandidateRow> rows, fp4_rows, sm103_fp4_rows;
  std::vector<std::string> requires_act, requires_weight;
};

struct GeneratorRule { int sm_min = 0, sm_max = 0; std::string generator; };

struct Sm100Predicate {
  int max_cluster_x = 2, cluster_y = 1;
  std::vector<int> tile_m, fp4_tile_n, fp8_small_tile_n;
  int fp4_tile_m = 128, tile_n_multiple = 32, tile_n_min = 32, tile_n_max = 256, even_cluster_x_tile_n_multiple = 64;
};
struct Sm103Predicate { int tile_m = 128; std::vector<int> tile_n; };
struct Sm120Predicate { std::vector<std::array<int, 3>> allowed_mnk; };
struct Sm90Predicate { int cluster_2x1_min_tile_m = 128, cluster_1x2_min_tile_n = 128; };

struct CutlassProfile {
  std::map<int, std::string> modules;        // runtime SM -> JIT module
  std::map<std::string, int> module_arch;    // module -> Arch::kMinComputeCapability
  std::string modules_source;
  std::vector<std::pair<std::string, std::string>> spec_sm120, spec_blackwell, spec_hopper;  // (act, weight)
  std::string spec_source;
  std::vector<std::pair<std::string, std::string>> ampere_pairs;
  std::vector<int> ampere_fp8_sms;
  std::string ampere_source;
  std::vector<GeneratorRule> generator_rules;
  std::string generator_select_source;
  std::map<std::string, CandidateGenerator> generators;
  std::map<std::string, std::vector<CutlassTile>> dispatch_branches;  // "90", "100", "103", "120", "sm90_mixed"
  std::vector<ClusterShape> cluster_cases;
  std::string dispatch_source, cluster_source, unsupported_tile_message, cluster_message;
  std::map<std::string, std::int64_t> default_case_line, cluster_case_line;
  Sm100Predicate p100; Sm103Predicate p103; Sm120Predicate p120; Sm90Predicate p90;
  std::string predicate_source;
  std::vector<std::string> gated_activations, tma_ws_non_gated, ampere_fused_epilogue;
  std::string gated_source, tma_ws_non_gated_source, ampere_fused_epilogue_source;
  std::int64_t rows_times_experts_max = 2147483647;
  std::string limits_source;
};

struct CuteDslProfile {
  std::vector<int> arch_sms, tile_sizes;
  std::vector<std::string> quant;
  std::string arch_source, tile_source;
};

// CuteDSL masked (batched) NVFP4 path: scaled_fp4_grouped_quantize / grouped_gemm_nt_masked /
// silu_and_mul_scaled_nvfp4_experts_quantize.
struct CuteDslMaskedProfile {
  std::vector<int> arch_sms;
  std::vector<std::string> quant;
  int elts_per_thread = 8, elts_per_thread_wide = 8;  // CVT_FP16_TO_FP4_ELTS_PER_THREAD (wide: SM100+, nvcc >= wide_nvcc)
  int wide_nvcc_major = 12, wide_nvcc_minor = 9;
  std::string arch_source, quantize_source, global_scale_source, framework_source;
};

struct ScaleNumelContract {
  std::vector<std::string> allowed_numel;  // "1", "num_tokens", "num_local_experts"
  bool enforced = false;
  std::string dtype, message, source;
};

struct ApiContracts {
  ScaleNumelContract fp4_quantize_global_scale, cutlass_act_global_scale;
  std::map<std::string, std::vector<std::string>> block_scale_dtypes;  // quant -> dtypes
  std::string block_scale_dtype_source;
  std::map<std::string, std::vector<std::string>> act_scale_layouts, weight_scale_layouts;  // variant -> layouts
  std::string act_scale_layout_source, weight_scale_layout_source;
};

// Whether a release ships a fused-MoE kernel family and whether moesim read its tables
// ("families" in the profile; absent = present and modelled).
struct FamilyStatus {
  bool present = true;
  bool modelled = true;
  std::vector<int> unmodelled_sms;  // modelled except on these runtime SMs
  std::string note;  // e.g. "first in v0.2.8" or why the tables were not read
  bool modelled_on(int sm) const;
};

struct FlashInferProfile {
  PyVersion version;
  std::string commit, date;
  std::map<std::string, FamilyStatus> families;  // variant id (flashinfer_trtllm, ...) -> status
  // Status of one variant in this release (present + modelled when not listed).
  FamilyStatus family(const std::string& variant) const;
  bool modelled_any() const;  // some family's tables are modelled (the per-family sections are parsed)
  std::string file;
  std::vector<std::string> inherits_chain;  // files merged, base first
  // Per family: an id equal for two releases exactly when the family's merged section and the
  // API contracts are identical JSON (releases that changed nothing for a family share results).
  std::map<std::string, int> content_id;
  TrtllmGenProfile trtllm;
  CutlassProfile cutlass;
  CuteDslProfile cute_dsl;
  CuteDslMaskedProfile cute_dsl_masked;
  ApiContracts api;
  std::string tag() const { return "v" + version.text; }
};

class FlashInferProfiles {
 public:
  // Every <models_dir>/flashinfer/*.json with a "version" key, inherits resolved.
  static FlashInferProfiles load(const std::string& models_dir);
  // Exact version ("0.6.8.post1", "v0.6.8.post1"); InputError listing the known ones.
  const FlashInferProfile& find(const std::string& version) const;
  const std::vector<FlashInferProfile>& all() const { return profiles_; }  // ascending version

 private:
  std::vector<FlashInferProfile> profiles_;
  std::string dir_;
};

// Object-wise deep merge: keys of `over` replace or merge into `base`.
boost::json::value merge_json(const boost::json::value& base, const boost::json::value& over);

}  // namespace moesim::models
