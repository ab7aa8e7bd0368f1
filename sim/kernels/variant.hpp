#pragma once
// A kernel variant as the replay engine sees it: a description loaded from
// models/kernels/<id>.json (stages, fidelity, assumptions, parameters) and an implementation
// that runs one stage at a time on emulated buffers.
//
// Stage outputs use one canonical layout across variants so replays can be diffed stage by
// stage: per-slot buffers are [T*K, N] with slot = token*top_k + k (vLLM's flat index), per
// token buffers are [T, H].
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/kernels/emulated_memory.hpp"

namespace moesim::kernels {

// Stage kinds, in the order a MoE layer runs them.
// route_align, quantize_act, permute, gemm1, activation, requantize, gemm2, finalize
bool is_known_stage_kind(const std::string& kind);

struct StageSpec {
  std::string id;    // unique within the variant; names the golden intermediate too
  std::string kind;  // one of the kinds above
  std::vector<std::string> inputs;   // buffer names
  std::vector<std::string> outputs;  // buffer names; outputs[0] is the stage's primary output
  std::string fidelity;              // per-stage label (defaults to the variant's)
  std::string models;                // upstream source location this stage models
  bool check_written = true;         // report OUTPUT_NOT_WRITTEN for its outputs
};

struct VariantSpec {
  std::string id;           // "triton_bf16"
  std::string family;       // implementation family: "reference_fp64", "triton_fused_moe", ...
  std::string description;
  std::string fidelity;     // hw-verified | model-exact | modelled
  std::vector<std::string> assumptions;
  // What the hw-verified label covers (instruction paths, configs, shape ranges), one line
  // each; outside them the variant is `modelled`. Printed by `moesim replay --list-variants`.
  std::vector<std::string> hw_verified_scope;
  std::string quant;        // bf16 | fp8_per_tensor | fp8_block128 | ...
  std::vector<StageSpec> stages;
  boost::json::object params;  // family-specific parameters
  std::string file;            // where it was loaded from

  const StageSpec* stage(const std::string& id) const;
  std::string param_string(const std::string& key, const std::string& dflt) const;
  std::int64_t param_int(const std::string& key, std::int64_t dflt) const;
  double param_double(const std::string& key, double dflt) const;  // a JSON integer counts as a number
};

inline const char* kFidelityLabels[] = {"hw-verified", "model-exact", "modelled"};

// Loads and checks one variant description (InputError naming file and JSON pointer).
VariantSpec load_variant(const std::string& path);

// Library-version-dependent behaviour as data. A variant may carry
//   params.library_min_version: "0.6.4"   (the API does not exist before)
//   params.by_library_version: {"<param>": [{"from": "0.6.4", "until": "0.6.5", "value": ..,
//                                           "source": ".."}, ...]}  (from inclusive, until exclusive)
// apply_library_version sets every such param to the row covering `version` and records it in
// params.library_version. A variant without the table is left alone. InputError (naming `where`)
// for an unparsable version, one before library_min_version, or one no row covers.
void apply_library_version(VariantSpec& spec, const std::string& version, const std::string& where);
bool has_library_version_table(const VariantSpec& spec);
// models_dir()/kernels/<id>.json; InputError listing the known ids when absent.
VariantSpec find_variant(const std::string& id);
// Ids of every variant description under models_dir()/kernels (files with a "stages" key).
std::vector<std::string> list_variants();
// params.biases = true: the variant adds ExpertMatrix::bias (MoeProblem::has_bias); any
// other variant refuses a problem with biases (replay/executor.cpp).
bool models_biases(const VariantSpec& spec);

// The MoE problem one call replays: shape and routing. Activations and weights are buffers /
// a WeightProvider.
struct MoeProblem {
  std::int64_t num_tokens = 0;   // T
  std::int64_t top_k = 0;        // K
  std::int64_t num_experts = 0;  // E
  std::int64_t hidden = 0;       // H
  std::int64_t intermediate = 0; // I
  bool gated = true;
  std::string activation = "silu";
  bool has_bias = false;  // experts carry biases (ExpertMatrix::bias): only variants with params.biases = true model them
  std::int64_t n1() const { return gated ? 2 * intermediate : intermediate; }
  std::int64_t slots() const { return num_tokens * top_k; }
};

// One expert's weight matrix [rows, cols] as stored (bf16 bits for bf16 weights), plus
// optional scales. Produced by the replay layer from a trace, a synthesiser or memory.
struct ExpertMatrix {
  std::string dtype;                   // "bf16", "fp8_e4m3fn", ...
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint8_t> bytes;
  std::vector<float> scale;            // block / per-tensor scales (f32) if any
  std::vector<std::int64_t> scale_shape;
  // Narrow block scales as stored (NVFP4 "ue4m3", MXFP4 "ue8m0"): raw bytes [rows, cols/block]
  // in `scale_layout` (a sim/quant layout tag), and the per-expert fp32 global (decode) scale.
  std::string scale_dtype;
  std::string scale_layout = "linear";
  std::vector<std::uint8_t> scale_bytes;
  std::optional<float> global_scale;
  std::vector<float> bias;             // per output row when the expert has a bias (w13: [gate; up]), else empty
  const std::uint16_t* bf16() const { return reinterpret_cast<const std::uint16_t*>(bytes.data()); }
};

class WeightProvider {
 public:
  virtual ~WeightProvider() = default;
  // which: "w13" ([N1, H]) or "w2" ([H, I]). Throws InputError on bad data.
  virtual ExpertMatrix read(const std::string& which, std::int64_t expert) const = 0;
  // The file the weights come from ("" if none): replay names it in errors about them.
  virtual std::string source() const { return {}; }
};

// Everything a stage may touch.
struct StageContext {
  const MoeProblem& problem;
  const WeightProvider& weights;
  std::map<std::string, EmuBuffer>& buffers;
  MemoryLog& log;
  const StageSpec& stage;
  int threads = 1;

  // Creates (or recreates) an output buffer, poisoned, as the kernel would find it.
  EmuBuffer& create(const std::string& name, ElemType type, std::vector<std::int64_t> shape);
  // An existing buffer; InputError if the variant description wires a missing one.
  EmuBuffer& in(const std::string& name);
};

class VariantImpl {
 public:
  virtual ~VariantImpl() = default;
  virtual void run_stage(StageContext& ctx) = 0;
};

// Implementation for spec.family (table of factories in variant.cpp).
std::unique_ptr<VariantImpl> make_variant_impl(const VariantSpec& spec);

}  // namespace moesim::kernels
