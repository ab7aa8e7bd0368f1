#pragma once
// Launch models of the engine-side MoE kernel families (vLLM / SGLang kernels outside
// FlashInfer: moe_align_block_size, Marlin MoE, moe_wna16, GGUF MoE, DeepGEMM + ep_scatter /
// ep_gather, moe_fused_mul_sum, vLLM CUTLASS MoE, triton_kernels matmul_ogs). A family is
// data (models/launch/<family>.json, loaded by models/lib/launch_family.cpp): per upstream
// revision, derived quantities ("let") and hazards, each a limit check written as the upstream
// source computes it, with its file:line@commit. This file holds the plain records and the
// one evaluator every family uses; sim/kernels/<family>_launch.* bind a problem's variables.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/core/int_expr.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::launch {

struct Hazard {
  std::string id;          // unique inside the family ("ep_scatter_out")
  std::string finding;     // finding_id::* (INT32_OFFSET_OVERFLOW, SMEM_EXCEEDED, ...)
  std::string severity = "error";
  std::string stage;       // align, gemm1, ep_scatter, ...
  expr::Expr when;         // optional guard: the hazard is evaluated only when it is non-zero
  expr::Expr value;        // the quantity
  std::string cmp = "<=";  // the launch is fine while `value cmp limit` holds (<=, <, ==, >=)
  expr::Expr limit;
  std::string limit_text;  // how the limit is named in a finding ("INT32_MAX", "opt-in smem per block")
  std::string message;     // what happens on the GPU
  std::string error_text;  // the error text the GPU / framework prints, when known
  std::string upstream;    // repo file:line function @commit
  std::string basis = "source";
  bool removed = false;    // a later revision drops a hazard of an earlier one
};

struct Let {
  std::string name;
  expr::Expr value;
};

struct Revision {
  std::string id;        // "pr39213", "v0.7.0", "base"
  std::string release;   // first framework release that contains it ("" = main only)
  std::string date, commit, source, note;
  std::vector<Let> lets;        // evaluated in order after the family's lets
  std::vector<Hazard> hazards;  // by id: replaces the inherited hazard of the same id
};

struct Input {
  std::string name;
  std::optional<std::int64_t> dflt;  // absent = required (refused when not given)
  std::string doc;
};

struct FamilyData {
  std::string id;           // variant id used by --backend
  std::string description;
  std::string framework;    // whose releases version it: vllm | sglang
  std::vector<std::string> quants;  // moesim quant ids it runs ("" list = any)
  int min_sm = 0, max_sm = 0;       // device range (0 = open)
  std::string availability;          // why outside the range (upstream guard)
  std::vector<Input> inputs;         // traits it reads (--trait name=value)
  std::vector<Let> lets;
  std::vector<Revision> revisions;   // oldest first; each inherits the hazards before it
  std::vector<std::string> not_modelled;  // written down, rendered in notes
  std::string file;
};

struct FamilyTable {
  std::vector<FamilyData> families;
  const FamilyData* find(const std::string& id) const {
    for (const auto& f : families)
      if (f.id == id) return &f;
    return nullptr;
  }
};

// Which revision of `f` a framework point selects: "" -> newest; a release version
// ("0.9.1", "v0.9.1") -> the newest revision whose release <= it; a revision id ("pr39213")
// -> that revision. InputError listing the revisions otherwise.
std::size_t select_revision(const FamilyData& f, const std::string& point);

// The hazards in force at revision index r (inherited, replaced, removed).
std::vector<const Hazard*> hazards_at(const FamilyData& f, std::size_t r);

// The variables every family sees: T (tokens per call), E, El (local experts), K, H, I (per
// partition), N1 (2I gated / I), gated, fused_shared (SGLang fused shared experts: E and K as
// the kernel sees them are Ek = El + fused_shared, Kk = K + fused_shared), the device
// (sm, sm_count, smem_optin, mem_bytes, grid_x_max, grid_y_max, grid_z_max), the limits
// INT32_MAX / UINT32_MAX, and the family's inputs (defaults overridden by traits).
expr::Vars base_vars(const FamilyData& f, const LaunchProblem& p, const LaunchEnv& env);

// Evaluates the family at the revision the environment selects and returns its findings.
// `vars` are the bound variables (base_vars plus what the family file adds).
std::vector<Finding> evaluate(const FamilyData& f, expr::Vars vars, const LaunchProblem& p, const LaunchEnv& env);

// The family (by id) from env.launch_families; InputError if the table is not loaded.
const FamilyData& family(const LaunchEnv& env, const std::string& id);

// A finding saying the family does not run here (quant or device outside its range), or
// nullopt when it does.
std::optional<Finding> unavailable(const FamilyData& f, const LaunchProblem& p, const LaunchEnv& env);

// Segment starts for the exact threshold search: every hazard is monotone in T over [lo, hi]
// (sizes only grow with T), so one segment.
std::vector<std::int64_t> segment_starts(const LaunchProblem&, const LaunchEnv&, std::int64_t lo, std::int64_t hi);

// One line for the check report: which revision was modelled and why.
std::string revision_note(const FamilyData& f, const LaunchEnv& env);

}  // namespace moesim::kernels::launch
