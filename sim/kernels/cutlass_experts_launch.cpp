#include "sim/kernels/cutlass_experts_launch.hpp"

#include "sim/kernels/launch_family.hpp"

namespace moesim::kernels::cutlass_experts {

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  const auto& f = launch::family(env, kVllm);
  return launch::evaluate(f, launch::base_vars(f, p, env), p, env);
}

}  // namespace moesim::kernels::cutlass_experts
