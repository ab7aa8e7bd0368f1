#pragma once
// FlashInfer CUTLASS fused MoE (cutlass_fused_moe): which JIT module and candidate generator a
// device gets, which candidate tactics the dispatcher can actually run (SHAPE_CASE sets and
// are_tile_shapes_supported), activation instantiations and size checks, per FlashInfer
// version. Candidate lists and dispatch predicates are separate tables in
// models/flashinfer/*.json, as in cutlass_heuristic.cpp / moe_gemm_template_dispatch_tma_ws.h.
#include <string>
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::cutlass_moe {

inline constexpr const char* kKernel = "flashinfer_cutlass";

struct Tactic {
  models::CutlassTile tile;
  models::ClusterShape cluster;
  int sm_version = 0;
  std::string generator;
  // Dispatch outcome.
  bool registered = false;      // tile has a SHAPE_CASE in its branch and the cluster passes
  std::string failure;          // "tile" | "cluster_case" | "predicate" | ""
  std::string message;          // the exception text the dispatcher would raise
  std::string branch;           // dispatch branch used ("100", "120", ...)
  int arch = 0;                 // Arch::kMinComputeCapability the predicate evaluates with
  int k_elems = 0;              // K tile in elements of the activation type
};

struct TacticSet {
  std::string module;           // JIT module ("fused_moe_100"), "" if none
  std::string path;             // "tma_ws" | "ampere" | "none"
  std::string generator;
  std::vector<Tactic> tactics;  // candidate order (front = default tactic)
  std::string why_empty;        // when no module / no specialisation
};

// Candidate tactics for (device SM, quant) under a FlashInfer profile, each run through the
// dispatcher model.
TacticSet candidate_tactics(const models::FlashInferProfile& fi, int sm, const std::string& quant);

// are_tile_shapes_supported<Arch, Tile, Cluster, T, WeightType>() as data-driven predicate.
bool tile_shapes_supported(const models::CutlassProfile& c, int arch, const models::CutlassTile& tile, int k_elems,
                           const models::ClusterShape& cl, const std::string& act, const std::string& weight,
                           bool mxfpx);

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env);

// Only the rows*experts limit depends on tokens, monotonically.
std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi);

}  // namespace moesim::kernels::cutlass_moe
