#pragma once
// `moesim check` engine: for every (kernel variant x device x FlashInfer version x framework
// revision) target, turns the workload's calls into the kernel calls each variant sees
// (EP/DP dispatch, framework chunking, synthetic worst cases), runs the variant's launch
// checks, adds known-bad versions and empirical crash regions, and optionally finds the exact
// first failing token count of each finding.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/chunking.hpp"
#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "models/lib/known_bad.hpp"
#include "models/lib/triton_config.hpp"
#include "replay/check/workload.hpp"
#include "replay/dispatch/dispatch.hpp"
#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_family.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::check {

struct VariantInfo {
  std::string id;             // flashinfer_trtllm | flashinfer_cutlass | flashinfer_cutedsl | flashinfer_cutedsl_batched | triton
  std::string description;
  bool uses_flashinfer = true;
  std::function<std::vector<kernels::Finding>(const kernels::LaunchProblem&, const kernels::LaunchEnv&)> check;
  std::function<std::vector<std::int64_t>(const kernels::LaunchProblem&, const kernels::LaunchEnv&, std::int64_t, std::int64_t)> segments;
  std::string launch_family;  // engine-side family: its models/launch data id ("" for FlashInfer/Triton variants)
};
const std::vector<VariantInfo>& variants();
const VariantInfo& find_variant(const std::string& id);  // InputError listing ids

struct CheckOptions {
  std::vector<std::string> devices;      // empty -> workload.context.device
  std::vector<std::string> flashinfer;   // empty -> context version; {"all"} -> every profile
  std::vector<std::string> backends;     // empty or {"all"} -> every variant
  std::string framework = "vllm";        // Triton rules / chunking: vllm | sglang
  std::string framework_revision;        // "" -> latest
  bool framework_explicit = false;       // a revision was named (chunking applies to FlashInfer variants too)
  std::vector<std::string> triton_config_dirs;
  dispatch::ParallelConfig parallel;
  bool synthetic = true;                 // profile run / autotune warm-up when max_num_tokens is known
  bool threshold = false;
  std::int64_t threshold_cap = std::int64_t(1) << 27;
  std::string tactic;                    // requested tactic (see LaunchProblem::tactic)
  std::string trtllm_class = "auto";     // vLLM TRTLLM NVFP4 class: auto | monolithic | modular
  // Engine-side families: framework -> release or revision ("vllm" -> "0.9.1" | "pr39213"),
  // and traits they read (name -> integer text; also known-bad conditions, oracle traits). See sim/kernels/launch_family.hpp.
  std::map<std::string, std::string> releases;
  std::map<std::string, std::string> traits;
};

struct CheckedTarget {
  std::string variant, device, flashinfer, framework;
  std::size_t kernel_calls = 0;
};

struct CheckReport {
  std::vector<kernels::Finding> findings;
  std::vector<CheckedTarget> targets;
  std::vector<std::string> notes;
  bool has_error() const;
};

class CheckEngine {
 public:
  explicit CheckEngine(const std::string& models_dir);
  CheckReport run(const Workload& w, const CheckOptions& opt) const;

  // Exact first failing tokens-per-call of finding `f` for this variant and problem, in [1, cap].
  std::optional<std::int64_t> threshold(const VariantInfo& v, const kernels::Finding& f, kernels::LaunchProblem p,
                                        const kernels::LaunchEnv& env, std::int64_t cap) const;

  const models::DeviceTable& devices() const { return devices_; }
  const models::FlashInferProfiles& flashinfer() const { return profiles_; }
  const models::KnownBadTable& known_bad() const { return known_bad_; }
  const models::ChunkingTable& chunking(const std::string& framework) const;
  const models::TritonConfigRules& triton_rules(const std::string& framework) const;
  const kernels::launch::FamilyTable& launch_families() const { return families_; }

 private:
  models::DeviceTable devices_;
  models::FlashInferProfiles profiles_;
  models::KnownBadTable known_bad_;
  models::ChunkingTable vllm_chunks_, sglang_chunks_;
  models::TritonConfigRules vllm_rules_, sglang_rules_;
  kernels::launch::FamilyTable families_;
};

// Framework chunking of one kernel call: the distinct tokens-per-call values the kernel sees.
struct ChunkPlan {
  std::vector<std::int64_t> tokens;  // e.g. {chunk, remainder} or {M}
  std::string note;                  // "" when not chunked
};
ChunkPlan chunk_plan(const std::string& variant, const std::string& quant, std::int64_t m, std::int64_t num_experts,
                     std::int64_t top_k, const models::FrameworkRevision* rev, bool modular_class,
                     const std::map<std::string, std::string>& env, bool chunkable);

}  // namespace moesim::check
