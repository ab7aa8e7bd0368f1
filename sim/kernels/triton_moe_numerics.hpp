#pragma once
// Numerics of vLLM's Triton fused-MoE path (vllm/model_executor/layers/fused_moe/fused_moe.py
// at vLLM 52a31cce, after #31962), as pieces a replay stage calls:
//   moe_align_block_size -> fused_moe_kernel (GEMM1) -> silu_and_mul -> fused_moe_kernel
//   (GEMM2, router weight in the fp32 epilogue) -> moe_sum.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/kernels/variant.hpp"

namespace moesim::kernels::triton {

struct TileConfig {
  int block_m = 64, block_n = 64, block_k = 32, group_m = 8;
};

// How consecutive tl.dot calls along K accumulate.
enum class DotChain {
  AccChained,   // acc += tl.dot(a, b) fused into one wgmma chain: acc is C of every k16 step
  TileThenAdd,  // each BLOCK_K tile's dot starts from 0, then acc = acc + dot in fp32 (RNE)
};
DotChain dot_chain_from_name(const std::string& name, const std::string& where);

// moe_align_block_size (csrc/moe/moe_align_sum_kernels.cu). Tokens inside an expert are
// placed in ascending flat-index order; the GPU's order there is set by atomics and does not
// change any value (each row is computed independently, see docs/replay.md).
struct Alignment {
  std::vector<std::int32_t> sorted_token_ids;  // [max_num_tokens_padded], sentinel = numel
  std::vector<std::int32_t> expert_ids;        // [cdiv(max_num_tokens_padded, BM)], -1 = none
  std::int32_t num_tokens_post_padded = 0;
  std::int64_t em = 0;                         // EM the launcher passes (small-batch shrink)
};
Alignment moe_align_block_size(const std::int32_t* topk_ids, std::int64_t num_tokens,
                               std::int64_t top_k, std::int64_t num_experts, int block_m);

// silu_and_mul (csrc activation_kernels.cu): out = bf16(bf16(g / (1 + expf(-g))) * u).
std::uint16_t silu_and_mul(std::uint16_t g, std::uint16_t u);
// The silu half alone, rounded to bf16 (exposed for the table test against hardware).
std::uint16_t silu_bf16(std::uint16_t g);

// moe_sum over top_k slots of one output element (topk 2..4: bf16 += chain in k order;
// otherwise at::sum_out: fp32 accumulation, one rounding).
std::uint16_t moe_sum(const std::uint16_t* vals, std::int64_t top_k, std::int64_t stride);

// The two elementwise stages every vLLM Triton variant shares (bf16 in, bf16 out):
// silu_and_mul over [T*K, 2I] -> [T*K, I] (gated silu only, InputError naming spec.file
// otherwise) and moe_sum over [T*K, H] -> [T, H].
void silu_and_mul_stage(StageContext& ctx, const VariantSpec& spec);
void moe_sum_stage(StageContext& ctx);

std::unique_ptr<VariantImpl> make_variant(const VariantSpec& spec);

}  // namespace moesim::kernels::triton
