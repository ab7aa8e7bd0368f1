#pragma once
// API contracts shared by the FlashInfer variants: scale shapes (fp4_quantize globalScale,
// CUTLASS fc*_act_global), scale dtypes, scale layouts, expert-id range vs weight rows.
#include <vector>

#include "sim/kernels/finding.hpp"
#include "sim/kernels/launch_problem.hpp"

namespace moesim::kernels::contracts {

// fp4_quantize(x, globalScale): allowed numel per profile ("1", "num_tokens"); when the numel
// equals T by coincidence a per-expert scale is silently taken as row-wise.
void check_fp4_quantize_global_scale(const LaunchProblem& p, const LaunchEnv& env, const std::string& kernel,
                                     std::vector<Finding>& out);
// CUTLASS binding fc1/fc2 activation global scale: ndim 0 or [num_experts_on_rank], float32.
void check_cutlass_act_global_scale(const LaunchProblem& p, const LaunchEnv& env, std::vector<Finding>& out);
// Block-scale dtype vs quant scheme; scale layouts vs the variant's expectation.
void check_scale_dtype_and_layout(const LaunchProblem& p, const LaunchEnv& env, const std::string& kernel,
                                  std::vector<Finding>& out);
// Expert ids in [0, E) (or -1 when masked) and E <= weight rows.
void check_expert_ids(const LaunchProblem& p, const std::string& kernel, const std::string& upstream,
                      std::vector<Finding>& out);

}  // namespace moesim::kernels::contracts
