#pragma once
// In-memory form of a moesim trace (HDF5 trace format v1, docs/trace-format.md).
// A trace is a model shape, a recording context and one or more MoE calls. Everything beyond
// the shape is optional: a shape-only trace carries routing, or only per-expert token counts.
// Weights are never held here in full: WeightReader streams them one expert at a time.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim::traces {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kFormatTag = "moesim-trace";

struct ModelShape {
  std::string name;                // preset or model name ("" if unknown)
  std::int64_t num_experts = 0;    // E (routed experts)
  std::int64_t top_k = 0;          // K
  std::int64_t hidden = 0;         // H
  std::int64_t intermediate = 0;   // I (per expert, per partition before TP split)
  std::string activation = "silu"; // silu | gelu | swigluoai | relu2 (see models/activations)
  bool gated = true;               // GEMM1 emits [gate; up] = 2I columns, activation is act(g)*u
  std::int64_t num_shared_experts = 0;
  std::string quant = "bf16";      // bf16 | fp8_per_tensor | fp8_block128 | nvfp4 | mxfp4 | mxfp4_bf16 ...
  std::string weight_layout = "linear";  // layout tag of packed weights (sim/quant layouts)
  std::string scale_layout = "linear";   // layout tag of block scales
};

struct RecordingContext {
  std::string device;              // e.g. "sm90", "h100", "b200" (models/devices)
  std::string flashinfer_version;  // e.g. "0.6.8.post1"
  std::string framework;           // NAME@REVISION, e.g. "vllm@pr44220" (models/frameworks)
  std::string backend;             // kernel variant id if known (e.g. "flashinfer_cutlass")
  std::string tactic;              // tactic / config id if known
  std::int64_t tp = 1, ep = 1, dp = 1;
  std::int64_t max_num_batched_tokens = 0;
  std::map<std::string, std::string> env;  // relevant env vars at recording time
};

// A dense tensor as stored: raw little-endian bytes plus its logical dtype.
// dtype: "f32", "f64", "i32", "i64", "u8", "bf16" (u16 storage), "fp16" (u16),
//        "fp8_e4m3fn"/"fp8_e5m2" (u8), "e2m1x2" (u8, two fp4 per byte, low nibble first),
//        "ue4m3"/"ue8m0" (u8 scale bytes).
struct Tensor {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
  std::string layout = "linear";   // layout tag for scale tensors / packed data
  std::int64_t numel() const;
  std::size_t element_size() const;  // bytes per stored element
};

// Quantized activations/outputs: data + optional block scales + optional global scale.
struct QTensor {
  Tensor data;
  std::optional<Tensor> scale;         // block scales (layout tag in scale->layout)
  std::optional<Tensor> global_scale;  // f32 [1] or [num_tokens] or [num_experts]
};

struct MoeCall {
  std::int64_t num_tokens = 0;       // T
  std::int64_t layer = -1;           // model layer if known
  // Routing [T*K] row-major; empty in counts-only mode.
  std::vector<std::int32_t> topk_ids;
  std::vector<float> topk_weights;
  bool ids_masked = false;           // -1 ids are allowed (EP masking) and mean "not routed here"
  // Counts-only mode: tokens per expert [E] (sum = T*K minus masked).
  std::vector<std::int64_t> expert_counts;
  std::optional<Tensor> router_logits;        // f32 [T, E]
  std::optional<QTensor> hidden_states;       // [T, H] bf16 or quantized
  std::optional<QTensor> golden_output;       // [T, H] what the GPU produced
  bool golden_recorded = false;               // golden/output exists (also when activations were not loaded)
  std::map<std::string, Tensor> intermediates;  // per-stage golden intermediates by stage name
  std::map<std::string, std::string> attrs;     // free-form provenance (kernel, capture tool)

  bool has_routing() const { return !topk_ids.empty(); }
  // Tokens per expert, from routing or from expert_counts.
  std::vector<std::int64_t> tokens_per_expert(std::int64_t num_experts) const;
};

struct WeightsInfo {
  bool present = false;
  std::string dtype;            // storage dtype of w13 / w2 (see Tensor::dtype)
  std::vector<std::int64_t> w13_shape;  // [E, N1, K1(packed)]
  std::vector<std::int64_t> w2_shape;   // [E, N2, K2(packed)]
  bool has_scales = false;
  std::string scale_dtype;
  std::string scale_layout;
  bool has_global_scales = false;
  // Expert biases (gpt-oss): w13_bias f32 [E, N1] ([gate; up] like w13) and w2_bias f32 [E, H],
  // both or neither; added to each GEMM's result before the activation / the router weight.
  bool has_biases = false;
};

// One MoE layer of a multi-layer trace (/layers/LLLL, docs/trace-format.md): its index in
// the model and its weights (/layers/LLLL/weights, the same datasets as /weights).
struct LayerInfo {
  std::int64_t index = 0;
  WeightsInfo weights;
};

// Layer indices are decimal group names /layers/LLLL, at most this many layers per trace.
inline constexpr std::int64_t kMaxLayers = 4096;
inline constexpr std::int64_t kMaxLayerIndex = 99999;

struct Trace {
  std::string path;  // file it came from ("" if built in memory)
  ModelShape model;
  RecordingContext context;
  std::vector<MoeCall> calls;
  // Single-layer trace: /weights. Multi-layer trace: the weights of layers.front() (every
  // layer's weights have the same dtype and shapes; present = every layer has weights).
  WeightsInfo weights;
  // Multi-layer trace: its layers, sorted by index; every call's `layer` is one of them.
  // Empty: a single-layer (v1) trace.
  std::vector<LayerInfo> layers;
  std::map<std::string, std::string> attrs;  // provenance: created_by, seed, preset, ...

  bool multi_layer() const { return !layers.empty(); }
};

// The HDF5 group of a layer's weights: "/weights" for layer < 0 (single-layer trace), else
// "/layers/LLLL/weights" (LLLL zero-padded to 4 digits).
std::string weights_group(std::int64_t layer);
std::string layer_group(std::int64_t layer);

}  // namespace moesim::traces
