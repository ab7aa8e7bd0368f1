#pragma once
// What the shape checks of one kernel variant see: the MoE shape of one kernel call (tokens
// per call after framework chunking and EP/DP dispatch), the quantization, the facts a trace
// may carry about scales and routing, and the world data (device, library profile).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/chunking.hpp"
#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "models/lib/triton_config.hpp"

namespace moesim::kernels {

namespace launch {
struct FamilyTable;  // sim/kernels/launch_family.hpp
}

struct LaunchProblem {
  std::int64_t tokens = 0;         // T: tokens this kernel call sees
  std::int64_t num_experts = 0;    // E (global)
  std::int64_t local_experts = 0;  // experts on this rank (== E without EP)
  std::int64_t top_k = 0;          // K
  std::int64_t hidden = 0;         // H
  std::int64_t intermediate = 0;   // I per partition
  bool gated = true;
  std::string activation = "silu";  // silu | gelu | swigluoai | relu2
  std::string quant = "bf16";       // bf16 | fp16 | fp8_per_tensor | fp8_block128 | mxfp8 | nvfp4 | mxfp4 | mxfp4_bf16 | int4_w4a16
  std::string routing = "renormalize";  // renormalize | deepseek
  bool do_finalize = true;
  bool batched_layout = false;      // DeepEP low-latency [local experts, M per expert, H] layout (tokens = M per expert)
  // Facts from a trace (absent = unknown, not checked).
  std::optional<std::int64_t> act_global_scale_numel;
  std::string act_global_scale_dtype;   // "f32", ...
  std::string weight_scale_dtype;       // "ue4m3", "ue8m0", "u8", ...
  std::string weight_scale_layout;      // "128x4", "linear", "trtllm-gen", ...
  std::string act_scale_layout;
  std::optional<std::int64_t> max_expert_id, min_expert_id;
  bool ids_masked = false;
  std::optional<std::int64_t> weight_rows;  // experts stored in w13/w2 (first dim)
  std::string tactic;                   // requested tactic if known: trtllm "tile=128", cutlass "128x128x128B/1x1x1", cutedsl "tile=256"
  std::int64_t n1() const { return gated ? 2 * intermediate : intermediate; }
};

// Triton-variant context: which framework revision and config sources.
struct TritonContext {
  std::string framework = "vllm";   // vllm | sglang
  const models::FrameworkRevision* revision = nullptr;
  const models::TritonConfigRules* rules = nullptr;
  std::string rules_revision;       // id in the defaults file
  std::vector<std::string> config_dirs;  // tuned JSON directories, searched in order
};

struct LaunchEnv {
  const models::Device* device = nullptr;
  const models::FlashInferProfile* flashinfer = nullptr;  // FlashInfer variants
  TritonContext triton;                                   // triton variant
  // Engine-side families (sim/kernels/launch_family.hpp): their data, the framework release
  // or revision each framework is at ("vllm" -> "0.9.1" | "pr39213"; absent = newest), and
  // the traits given with --trait (name -> value; known-bad conditions and families read them).
  const launch::FamilyTable* launch_families = nullptr;
  std::map<std::string, std::string> releases;
  std::map<std::string, std::string> traits;
  // Parallel layout of the call (engine-side families read it: workspace sizing, dispatchers).
  std::int64_t dp = 1, ep = 1, tp = 1;
  bool batched_layout = false;  // DeepEP low-latency / batched experts activation format
};

// (activation dtype, weight dtype) of a quant scheme: bf16, fp16, fp8, fp4, int4.
std::pair<std::string, std::string> quant_dtypes(const std::string& quant);
bool is_known_quant(const std::string& quant);
// Upstream ActivationType name for the model's activation: swiglu, geglu, swiglu_bias, relu2, silu, gelu.
std::string upstream_activation(const std::string& activation, bool gated);
int dtype_bits(const std::string& dtype);

std::string fmt_int(std::int64_t v);  // 378345 -> "378,345"

}  // namespace moesim::kernels
