#pragma once
// How a framework revision splits one MoE call into kernel calls, and whether its Triton
// fused_moe kernel uses int32 offsets (models/chunking/<framework>.json).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim::models {

struct TritonChunk {
  std::string env;            // env var that overrides the default ("" = none)
  std::int64_t default_size = 0;
  std::string source;
};

struct TrtllmNvfp4Chunk {
  std::int64_t max_grid_y = 65535, max_tile_tokens_dim = 128, cap = 300000;
  std::string applies_to_class;  // "modular"
  std::string formula, source;
  // min(cap, (E + (max_grid_y - E + 1) * max_tile_tokens_dim - 1) // top_k)
  std::int64_t chunk_size(std::int64_t num_experts, std::int64_t top_k) const;
};

struct FrameworkRevision {
  std::string framework, id, date, note, commit;
  int order = 0;
  std::optional<TritonChunk> triton_chunk;
  bool triton_offsets_int32 = false;
  std::string triton_offsets_source;
  std::optional<TrtllmNvfp4Chunk> trtllm_nvfp4_chunk;
};

class ChunkingTable {
 public:
  // <models_dir>/chunking/<framework>.json
  static ChunkingTable load(const std::string& models_dir, const std::string& framework);
  // Revision id or alias; InputError listing the known ones.
  const FrameworkRevision& find(const std::string& rev) const;
  const std::vector<FrameworkRevision>& all() const { return revs_; }
  const std::string& latest() const { return latest_; }

 private:
  std::vector<FrameworkRevision> revs_;
  std::map<std::string, std::string> aliases_;
  std::string file_, latest_;
};

}  // namespace moesim::models
