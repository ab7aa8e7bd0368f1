#include "sim/kernels/triton_fused_moe_launch.hpp"

#include <algorithm>
#include <climits>

#include "sim/kernels/api_contracts.hpp"
#include "sim/kernels/threshold.hpp"

namespace moesim::kernels::triton_moe {

std::string config_dtype(const std::string& q) {
  if (q == "fp8_per_tensor" || q == "fp8" || q == "fp8_block128") return "fp8_w8a8";
  if (q == "int4_w4a16") return "int4_w4a16";
  return "";
}

namespace {
models::TritonConfigQuery query(const LaunchProblem& p, const LaunchEnv& env) {
  models::TritonConfigQuery q;
  q.framework = env.triton.framework;
  q.E = p.local_experts;
  q.N = p.intermediate;
  q.device_name = env.device->name;
  q.dtype = config_dtype(p.quant);
  if (p.quant == "fp8_block128") q.block_shape = std::make_pair<std::int64_t, std::int64_t>(128, 128);
  q.M = p.tokens;
  q.smem_per_block = env.device->smem_per_block_optin;
  return q;
}
}  // namespace

models::TritonConfig pick_config(const LaunchProblem& p, const LaunchEnv& env) {
  return models::select_triton_config(*env.triton.rules, env.triton.rules_revision, env.triton.config_dirs, query(p, env));
}

int triton_pipeline_buffers(int num_stages, int sm) {
  if (num_stages <= 1) return 1;
  return (num_stages - 1) + (sm == 90 ? 1 : 0);
}

std::int64_t smem_estimate(const models::TritonConfig& c, int a_bits, int b_bits, int sm) {
  return std::int64_t(triton_pipeline_buffers(c.num_stages, sm)) *
         ((std::int64_t(c.block_m) * c.block_k * a_bits) / 8 + (std::int64_t(c.block_k) * c.block_n * b_bits) / 8);
}

std::vector<Finding> check(const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  const auto [act, weight] = quant_dtypes(p.quant);
  if (act == "fp4" || weight == "fp4") {
    Finding f;
    f.id = finding_id::kEmptyTacticSet;
    f.severity = Severity::error;
    f.kernel = kKernel;
    f.stage = "gemm1";
    f.tokens = p.tokens;
    f.message = "the Triton fused_moe kernel has no FP4 path (framework oracles route FP4 elsewhere)";
    f.formula = "quant = " + p.quant;
    f.limit = "bf16, fp16, fp8, int8/int4 weight-only";
    f.upstream = "vllm-project/vllm vllm/model_executor/layers/fused_moe/fused_moe.py fused_moe_kernel";
    f.details.emplace_back("applies", "no");
    out.push_back(std::move(f));
    return out;
  }
  const auto* rev = env.triton.revision;
  const std::string fw = env.triton.framework + (rev ? "@" + rev->id : "");
  const std::string repo = env.triton.framework == "sglang" ? "sgl-project/sglang " : "vllm-project/vllm ";
  const models::TritonConfig cfg = pick_config(p, env);

  // int32 offsets: c_ptr + stride_cm * offs_token (offs_token = flat slot < M*top_k).
  if (rev && rev->triton_offsets_int32) {
    struct Off { const char* stage; const char* what; std::int64_t rows; std::int64_t stride; };
    const std::int64_t slots = p.tokens * p.top_k;
    const Off offs[] = {
        {"gemm1", "C = intermediate_cache1 [M, top_k, N1]: stride_cm * offs_token", slots, p.n1()},
        {"gemm1", "A = hidden_states [M, H]: (offs_token // top_k) * stride_am", p.tokens, p.hidden},
        {"gemm2", "C = intermediate_cache3 [M, top_k, H]: stride_cm * offs_token", slots, p.hidden},
        {"gemm2", "A = intermediate_cache2 [M*top_k, I]: offs_token * stride_am", slots, p.intermediate},
    };
    for (const char* stage : {"gemm1", "gemm2"}) {
      const Off* worst = nullptr;
      std::int64_t worst_v = 0;
      for (const auto& o : offs) {
        if (std::string(o.stage) != stage) continue;
        const std::int64_t v = (o.rows - 1) * o.stride;
        if (!worst || v > worst_v) worst = &o, worst_v = v;
      }
      if (worst && worst_v > INT32_MAX) {
        Finding f;
        f.id = finding_id::kInt32OffsetOverflow;
        f.severity = Severity::error;
        f.kernel = kKernel;
        f.stage = stage;
        f.tokens = p.tokens;
        f.framework = fw;
        f.message = std::string("int32 pointer offset wraps (illegal memory access): ") + worst->what;
        f.gpu_error = "CUDA error: an illegal memory access was encountered";
        f.formula = "(" + fmt_int(worst->rows) + " - 1) * " + fmt_int(worst->stride) + " = " + fmt_int(worst_v);
        f.limit = "<= 2,147,483,647";
        f.value = worst_v;
        f.limit_value = INT32_MAX;
        f.upstream = repo + rev->triton_offsets_source;
        out.push_back(std::move(f));
      }
    }
  }
  // Shared memory of the pipelined A/B tiles.
  const int a_bits = dtype_bits(act), b_bits = weight == "int4" ? 16 : dtype_bits(weight);  // int4 is dequantised to the compute type in smem
  const int bufs = triton_pipeline_buffers(cfg.num_stages, env.device->sm);
  const std::int64_t smem = smem_estimate(cfg, a_bits, b_bits, env.device->sm);
  if (smem > env.device->smem_per_block_optin) {
    Finding f;
    f.id = finding_id::kSmemExceeded;
    f.severity = Severity::warning;
    f.kernel = kKernel;
    f.stage = "gemm1";
    f.tokens = p.tokens;
    f.framework = fw;
    f.message = "the chosen Triton config needs more shared memory than the device allows per block: Triton raises "
                "OutOfResources at compile time";
    f.formula = "buffers * (BM*BK*" + std::to_string(a_bits / 8) + " + BK*BN*" + std::to_string(b_bits / 8) +
                "), buffers = " + (cfg.num_stages <= 1 ? std::string("1 (num_stages <= 1)")
                                                      : "num_stages - 1" + std::string(env.device->sm == 90 ? " + 1 (SM90 wgmma operands)" : "")) +
                " = " + std::to_string(bufs) + " * (" + std::to_string(cfg.block_m) + "*" + std::to_string(cfg.block_k) +
                "*" + std::to_string(a_bits / 8) + " + " + std::to_string(cfg.block_k) + "*" + std::to_string(cfg.block_n) +
                "*" + std::to_string(b_bits / 8) + ") = " + fmt_int(smem);
    f.limit = "<= " + fmt_int(env.device->smem_per_block_optin) + " B (" + env.device->id + " opt-in smem per block)";
    f.gpu_error = "triton.runtime.errors.OutOfResources: out of resource: shared memory, Required: " + std::to_string(smem) +
                  ", Hardware limit: " + std::to_string(env.device->smem_per_block_optin) +
                  ". Reducing block sizes or `num_stages` may help.";
    f.value = smem;
    f.limit_value = env.device->smem_per_block_optin;
    f.upstream = repo + "fused_moe_kernel launch with config " + cfg.origin +
                 "; buffers from triton-lang/triton lib/Dialect/TritonGPU/Transforms/Pipeliner/AssignLatencies.cpp "
                 "assignLatencies @ 020b1b05 and LowerLoops.cpp lowerLoads / loadRequiresAdditionalBuffer @ 00530a69 "
                 "(epilogue scratch not included)";
    f.details.emplace_back("config", "BM=" + std::to_string(cfg.block_m) + " BN=" + std::to_string(cfg.block_n) +
                                         " BK=" + std::to_string(cfg.block_k) + " stages=" + std::to_string(cfg.num_stages));
    out.push_back(std::move(f));
  }
  contracts::check_expert_ids(p, kKernel, repo + "csrc/moe/moe_align_sum_kernels.cu moe_align_block_size (counts indexed by expert id)", out);
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem& p, const LaunchEnv& env, std::int64_t lo, std::int64_t hi) {
  // The config is piecewise constant in M; find its change points exactly by scanning the
  // distinct M values where any rule input changes (a config is a pure function of M here).
  std::vector<std::int64_t> s{lo};
  auto key = [&](std::int64_t m) {
    LaunchProblem q = p;
    q.tokens = m;
    auto c = pick_config(q, env);
    return std::to_string(c.block_m) + "/" + std::to_string(c.block_n) + "/" + std::to_string(c.block_k) + "/" +
           std::to_string(c.num_stages);
  };
  // Candidate change points: powers of two and their neighbours cover the defaults' piece
  // limits (16..4096) and the tuned files' keys; the M//E and M<=E conditions add multiples of E.
  std::vector<std::int64_t> probe;
  for (std::int64_t v = 1; v <= hi && v > 0; v *= 2) probe.push_back(v);
  for (std::int64_t mul : {1, 2, 129}) probe.push_back(p.local_experts * mul);
  probe.push_back(hi);
  std::sort(probe.begin(), probe.end());
  std::int64_t prev = lo;
  std::string prev_key = key(lo);
  for (std::int64_t v : probe) {
    if (v <= prev || v > hi) continue;
    const std::string k = key(v);
    if (k != prev_key) {
      // Binary search the first M in (prev, v] with a different config; if there are several
      // changes inside, repeat from that point.
      std::int64_t a = prev;
      while (true) {
        std::int64_t l = a + 1, r = v;
        const std::string ka = key(a);
        if (key(r) == ka) break;
        while (l < r) {
          const std::int64_t m = l + (r - l) / 2;
          if (key(m) != ka) r = m; else l = m + 1;
        }
        s.push_back(l);
        a = l;
        if (a >= v) break;
      }
      prev_key = k;
    }
    prev = v;
  }
  return s;
}

}  // namespace moesim::kernels::triton_moe
