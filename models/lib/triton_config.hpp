#pragma once
// Triton fused_moe kernel configs as vLLM and SGLang choose them: tuned JSON files named by
// (E, N, device, dtype, block_shape) with nearest-M lookup, else the framework's default
// config rules (models/triton_configs/<framework>_defaults.json).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moesim::models {

struct TritonConfig {
  std::int64_t block_m = 0, block_n = 0, block_k = 0, group_m = 1, num_warps = 4, num_stages = 3;
  std::string origin;  // "tuned <file> key <M>" or "default <rev> rule <i>"
};

struct TritonConfigQuery {
  std::string framework = "vllm";  // vllm | sglang
  std::int64_t E = 0;              // local experts (w2.shape[0])
  std::int64_t N = 0;              // intermediate size per partition (w2.shape[2])
  std::string device_name;         // torch.cuda.get_device_name()
  std::string dtype;               // "" (bf16/fp16), fp8_w8a8, int8_w8a16, int4_w4a16, ...
  std::optional<std::pair<std::int64_t, std::int64_t>> block_shape;  // [bn, bk]
  std::int64_t M = 0;              // tokens
  std::int64_t smem_per_block = 232448;
  bool down = false;               // SGLang "_down" file
  bool per_channel_quant = false;  // SGLang name suffix
};

// The file name the framework looks for (vLLM: H200 normalised, block_shape without space;
// SGLang: block_shape "[bn, bk]", per_channel and _down suffixes).
std::string tuned_config_file_name(const TritonConfigQuery& q);

class TritonConfigRules {
 public:
  static TritonConfigRules load(const std::string& models_dir, const std::string& framework);
  // Default config of revision `rev` (id or alias).
  TritonConfig default_config(const TritonConfigQuery& q, const std::string& rev) const;
  std::string resolve(const std::string& rev) const;
  std::string file;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Nearest key in a tuned file ("min(keys, key=|k-M|)", first in file order on ties).
// Returns nullopt when the file does not exist in any of `dirs`; InputError if malformed.
std::optional<TritonConfig> lookup_tuned_config(const std::vector<std::string>& dirs, const TritonConfigQuery& q);

// Tuned file if present, else defaults; for SGLang down configs BLOCK_SIZE_M is forced to the
// up config's (one moe_align result feeds both GEMMs).
TritonConfig select_triton_config(const TritonConfigRules& rules, const std::string& rev,
                                  const std::vector<std::string>& dirs, const TritonConfigQuery& q);

}  // namespace moesim::models
