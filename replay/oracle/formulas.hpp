#pragma once
// Formulas a selected candidate's properties may compute (named from the JSON data by
// "compute"). Each one is a single upstream formula, cited where it is implemented.
#include <string>

#include "replay/oracle/context.hpp"

namespace moesim::oracle {

// Returns the property value as text; throws InputError(where, ...) for an unknown formula.
std::string compute_formula(const std::string& name, const Context& ctx, const std::string& where);

// vLLM #43599, TrtLlmNvFp4ExpertsBase._get_chunk_size: the largest token count whose
// grid.y stays within 65535, capped at 300000. E = global experts, top_k = experts per token.
long long trtllm_nvfp4_chunk_size(long long num_experts, long long top_k);

}  // namespace moesim::oracle
