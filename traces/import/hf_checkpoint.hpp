#pragma once
// moesim import hf-checkpoint: one MoE layer's (or several layers') routed experts from a Hugging Face safetensors
// checkpoint (single file or sharded with model.safetensors.index.json) into trace /weights,
// streamed one expert at a time, with the model shape from config.json and the calls
// (routing, activations) from another trace (synth or any importer).
//
// Weight formats, recognised from the tensors themselves and cross-checked against the
// checkpoint's quantization config (capture_formats.md s3.2-3.3):
//   bf16           <proj>.weight BF16                           -> w13/w2 bf16
//   fp8 128x128    <proj>.weight F8_E4M3 + weight_scale_inv F32|F8_E8M0 [cdiv(N,128), cdiv(K,128)]
//                  (DeepSeek-V3; the value is the multiplier)   -> fp8_e4m3fn + f32 block128x128
//   fp8 per tensor <proj>.weight F8_E4M3 + weight_scale F32 [] (ModelOpt FP8) -> fp8_per_tensor
//   NVFP4          <proj>.weight U8 [N, K/2] + weight_scale F8_E4M3 [N, K/16] + weight_scale_2 F32
//                  [] or [1] (+ input_scale) (ModelOpt)         -> e2m1x2 + ue4m3 + global scale
//   MXFP4          gpt-oss fused gate_up_proj_blocks U8 [E, 2I, H/32, 16] + _scales U8 [E, 2I, H/32]
//                  (rows interleaved gate, up, gate, ...)       -> e2m1x2 + ue8m0, [gate; up]
//                  + gate_up_proj_bias [E, 2I] (interleaved alike), down_proj_bias [E, H] (BF16|F32)
//                                                               -> w13_bias [gate; up], w2_bias (f32)
// w13 is always [gate; up] (vLLM W13, layer.py:747-753).
#include <string>

#include "traces/import/import_result.hpp"

namespace moesim::traces::import {

struct HfCheckpointRequest {
  std::string checkpoint;   // directory (config.json + shards) or one .safetensors file
  std::string config;       // config.json (default: <checkpoint dir>/config.json)
  std::string layer;        // decoder layer index: a single-layer trace (/weights)
  std::string layers;       // "all" or "L1,L2,...": a multi-layer trace (/layers/LLLL/weights); give layer or layers
  std::string calls_from;   // trace whose calls (routing, activations) the output carries
  std::string output;
  bool drop_biases = false; // import gpt-oss without its (non-zero) expert biases, with a note per tensor
  std::string models_dir;
};

ImportResult import_hf_checkpoint(const HfCheckpointRequest& req);

}  // namespace moesim::traces::import
