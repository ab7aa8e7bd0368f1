#pragma once
// Where a replay's call inputs and weights come from: a trace file (weights streamed one
// expert at a time), memory (tests), or a deterministic synthesiser (benches: a DeepSeek-V3
// layer's 22 GB of bf16 weights never exist at once).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "replay/executor.hpp"
#include "sim/kernels/variant.hpp"
#include "traces/trace.hpp"

namespace moesim::replay {

// Weights held in memory, [E, N, K] bf16 bits per matrix.
class MemoryWeights final : public kernels::WeightProvider {
 public:
  MemoryWeights(std::int64_t experts, std::int64_t n1, std::int64_t hidden, std::int64_t inter,
                std::vector<std::uint16_t> w13, std::vector<std::uint16_t> w2);
  kernels::ExpertMatrix read(const std::string& which, std::int64_t expert) const override;

 private:
  std::int64_t e_, n1_, h_, i_;
  std::vector<std::uint16_t> w13_, w2_;
};

// Deterministic per-expert random bf16 weights (uniform, unit variance * scale/sqrt(K), RNE),
// generated on demand:
// expert e of matrix m always gets the same values, independent of the read order.
class SyntheticWeights final : public kernels::WeightProvider {
 public:
  SyntheticWeights(const kernels::MoeProblem& p, std::uint64_t seed, double scale);
  kernels::ExpertMatrix read(const std::string& which, std::int64_t expert) const override;

 private:
  kernels::MoeProblem p_;
  std::uint64_t seed_;
  double scale_;
};

// Random call inputs for a shape: hidden ~ N(0,1)*scale in bf16, top-k distinct experts per
// token uniformly, softmax-like positive weights (deterministic from seed).
CallInputs synth_call(const kernels::MoeProblem& p, std::uint64_t seed, double hidden_scale = 1.0);

// Builds the call inputs of trace.calls[index] (InputError when routing or hidden states are
// missing or have the wrong dtype).
CallInputs call_inputs_from_trace(const traces::Trace& trace, std::size_t index);
// Golden buffers of a call: "output" plus every intermediate, as bf16 / f32 buffers.
std::map<std::string, kernels::EmuBuffer> golden_from_trace(const traces::Trace& trace, std::size_t index);

// Applies a recorded Triton config ("BLOCK_SIZE_M=16,BLOCK_SIZE_N=64,BLOCK_SIZE_K=32,
// GROUP_SIZE_M=1,...", /context tactic) to a triton_fused_moe variant's params; other
// families and empty tactics are left alone. Returns true when something was applied.
bool apply_triton_tactic(kernels::VariantSpec& spec, const std::string& tactic, const std::string& where);

// Streams weights from a trace file through traces::WeightReader: /weights (layer < 0) or a
// multi-layer trace's /layers/LLLL/weights.
std::unique_ptr<kernels::WeightProvider> open_trace_weights(const std::string& path, std::int64_t layer = -1);

}  // namespace moesim::replay
