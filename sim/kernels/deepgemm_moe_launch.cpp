#include "sim/kernels/deepgemm_moe_launch.hpp"

#include "sim/kernels/launch_family.hpp"

namespace moesim::kernels::deepgemm_moe {

namespace {
std::vector<Finding> check_family(const char* id, const LaunchProblem& p, const LaunchEnv& env) {
  const auto& f = launch::family(env, id);
  return launch::evaluate(f, launch::base_vars(f, p, env), p, env);
}
}  // namespace

std::vector<Finding> check_vllm(const LaunchProblem& p, const LaunchEnv& env) { return check_family(kVllm, p, env); }
std::vector<Finding> check_sglang(const LaunchProblem& p, const LaunchEnv& env) { return check_family(kSglang, p, env); }

}  // namespace moesim::kernels::deepgemm_moe

