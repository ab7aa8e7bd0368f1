#pragma once
// moesim import vllm-routed-experts | sglang-routed-experts: the per-request routed expert ids
// both servers return (capture_formats.md s1.1, s1.4) into trace calls of one MoE layer.
//   vLLM   choices[i].routed_experts = base64(np.save(array)), shape (T-1, num_hidden_layers, K),
//          dtype from the .npy header (u1/u2 per V0 protocol.py:491-500, i4 after PR #51906);
//          null when the request was aborted before its first forward pass. Raw .npy files too.
//   SGLang meta_info.routed_experts (/generate) or response-level sglext.routed_experts
//          (OpenAI, PR #17648; choices[i].sgl_ext also accepted) = base64 of raw little-endian
//          int32, C order (token, layer, K), no shape: reshaped with config.json's L and K.
// Ids are logical (captured before EPLB). No routing weights are captured: --weights uniform
// (1/K) or counts (expert_counts only); the choice is the call's `source` attribute.
#include <string>
#include <vector>

#include "traces/import/import_result.hpp"

namespace moesim::traces::import {

struct RoutedExpertsRequest {
  std::string engine;                 // "vllm" | "sglang"
  std::vector<std::string> inputs;    // JSON response, JSONL of responses, or (vLLM) .npy files
  std::string config;                 // HF config.json of the served model
  std::string layer;                  // a MoE layer index; "all" is refused (issue 18)
  std::int64_t tokens_per_call = 0;   // 0: one call per request; N: requests concatenated, cut every N tokens
  std::string weights = "uniform";    // uniform | counts
  std::string framework;              // recording context, e.g. vllm@v0.11.0 (default: the engine name)
  std::string device;
  std::string output;
  std::string models_dir;
};

ImportResult import_routed_experts(const RoutedExpertsRequest& req);

// One request's capture, decoded: ids [T, L, K] row-major.
struct RoutedCapture {
  std::string where;                  // file:/json/pointer of the field
  std::int64_t tokens = 0, layers = 0, top_k = 0;
  std::vector<std::int64_t> ids;
};

// Decodes every capture in one file (exposed for tests). Null captures are counted in *nulls.
std::vector<RoutedCapture> read_routed_captures(const std::string& engine, const std::string& path, std::int64_t layers,
                                                std::int64_t top_k, int* nulls);

}  // namespace moesim::traces::import
