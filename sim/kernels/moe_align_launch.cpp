#include "sim/kernels/moe_align_launch.hpp"

#include "sim/kernels/launch_family.hpp"

namespace moesim::kernels::moe_align {

namespace {
std::vector<Finding> check_family(const char* id, const LaunchProblem& p, const LaunchEnv& env) {
  const auto& f = launch::family(env, id);
  expr::Vars v = launch::base_vars(f, p, env);
  // topk_ids.numel(): every routed slot of the call (the kernel sees the global ids; with
  // an expert map it counts all E experts, see the family's "let").
  v["numel"] = p.tokens * v["Kk"];
  return launch::evaluate(f, v, p, env);
}
}  // namespace

std::vector<Finding> check_vllm(const LaunchProblem& p, const LaunchEnv& env) { return check_family(kVllm, p, env); }

}  // namespace moesim::kernels::moe_align

