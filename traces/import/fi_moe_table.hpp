#pragma once
// FlashInfer fused-MoE entry points as data (models/capture/flashinfer_api_logging_moe.json) and
// the routing recomputation from routing_logits, shared by the importers that meet FlashInfer's
// parameter names: flashinfer-dump (API-logging dumps) and flashinfer-bench (definitions and
// workloads, whose input names are the entry point's parameter names).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/lib/json_node.hpp"

namespace moesim::traces::import {

struct FiEntryPoint {
  std::string name, routing, hidden, hidden_scale, ids, weights, w1, w2, variant, source;
  std::vector<std::string> params;
};

struct FiMoeTable {
  models::Document doc;
  std::string module;  // "flashinfer.fused_moe.core"
  std::vector<FiEntryPoint> eps;
  std::vector<std::pair<std::string, std::string>> not_modelled;  // name -> why
  std::vector<std::string> routing_methods;                       // RoutingMethodType names by value
  const FiEntryPoint* find(const std::string& name) const;
  std::string method_name(int method) const;  // "?" outside the enum
};

FiMoeTable load_fi_moe_table(const std::string& models_dir);

// FlashInfer kernels take gemm1 weights as W31 ([up; gate]); moesim stores [gate; up]. Swaps
// the two halves of one expert's gemm1 rows in place; kW31Note is the importers' note.
void w31_rows_to_w13(std::vector<std::uint8_t>& rows);
inline constexpr const char* kW31Note = "gemm1 weights were W31 ([up; gate], as FlashInfer takes them); stored as [gate; up]";

// Routing recomputed in fp64 from logits [T, E] for the RoutingMethodType values whose rule is a
// composition of softmax / sigmoid / top-k / renormalisation (FI tllm_enums.py:10-32): 0, 1, 4,
// 5, 6, 8, 9. Ties go to the lower expert id. Other methods: InputError naming `where`.
void recompute_routing(const std::vector<double>& logits, std::int64_t T, std::int64_t E, std::int64_t K, int method,
                       const std::string& where, std::vector<std::int32_t>& ids, std::vector<float>& w);
bool routing_recomputable(int method);

// RoutingMethodType 2 (DeepSeekV3) as FlashInfer's reference describes it
// (FI flashinfer/trace/templates/moe.py, _trtllm_fp8_block_scale_moe_ds_routing_reference):
// s = sigmoid(logits), b = s + bias; a group's score is the sum of its two largest b; the
// topk_group best groups are kept; the K largest b among their experts are selected (ordered by
// b, ties to the lower id); weights = s / (sum of the selected s + 1e-20) * routed_scaling_factor.
// In fp64. n_group must divide E, topk_group <= n_group, K <= topk_group * E / n_group.
void recompute_routing_ds(const std::vector<double>& logits, const std::vector<double>& bias, std::int64_t T, std::int64_t E,
                          std::int64_t K, std::int64_t n_group, std::int64_t topk_group, double routed_scaling_factor,
                          const std::string& where, std::vector<std::int32_t>& ids, std::vector<float>& w);
// "recomputed from routing_logits (RoutingMethodType 1 Renormalize, fp64, ...)" for a call's source.
std::string recomputed_source(const FiMoeTable& t, int method);

// F32 / BF16 little-endian bytes to doubles; non-finite values are InputError naming `where`.
std::vector<double> as_doubles(const std::vector<std::uint8_t>& b, const std::string& dt, const std::string& where);

}  // namespace moesim::traces::import
