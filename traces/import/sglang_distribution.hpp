#pragma once
// moesim import sglang-expert-distribution: SGLang's expert-distribution recorder dumps
// (python/sglang/srt/eplb/expert_distribution.py @d55f1c2, capture_formats.md s1.3), written by
// torch.save and read through python3-torch (scripts/capture/pt_to_safetensors.py --tree):
//   per_token  {records: [{forward_pass_id, rank, input_ids, positions, extend_seq_lens,
//              forward_mode, topk_ids_of_layer int32 [layers, rows, 8] PHYSICAL ids (-1 pad),
//              global_physical_count}], last_physical_to_logical_map [layers, physical]}
//              -> one call per forward pass (the exact batch), ids mapped physical -> logical
//   per_pass   same records without topk_ids_of_layer -> counts-only calls (mapped to logical)
//   stat       {rank, logical_count int32 [buffer, layers, logical], ...} -> counts-only calls
#include <string>

#include "traces/import/import_result.hpp"

namespace moesim::traces::import {

struct SglangDistributionRequest {
  std::string input;    // expert_distribution_recorder_*.pt
  std::string config;   // the model's config.json
  std::string layer;    // a MoE layer index
  std::string output;
  std::string models_dir, source_dir, python;
};

ImportResult import_sglang_distribution(const SglangDistributionRequest& req);

}  // namespace moesim::traces::import
