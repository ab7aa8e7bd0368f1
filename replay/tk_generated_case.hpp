#pragma once
// Generated inputs of the triton_kernels MXFP4 goldens (issue 16): the H200 ran Triton's
// triton_kernels matmul_ogs (scripts/gpu/capture_triton_kernels_mxfp4.py) on tensors from
// moesim's counter-based generator (sim/core/counter_gen.hpp); the goldens file
// (tests/data/golden/triton_kernels/tk_mxfp4_goldens.json) holds per-stage hashes only.
// Hidden states and routing are those of replay/generated_case.hpp; MXFP4 weights, ue8m0 scales
// and fp32 biases use the streams below (the script's numpy twin: gen_e2m1 / gen_ue8m0 / gen_bias).
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "replay/executor.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::replay {

enum TkGenStream : std::uint64_t { kTkB13 = 8, kTkB2 = 9 };  // W13/W2 codes and scales: kW13.. kW2Scale

struct TkGenRange {
  std::uint32_t hidden_lo, hidden_span, scale_lo, scale_span, bias_lo, bias_span;
};
TkGenRange tk_gen_range(const std::string& name, const std::string& where);  // normal | wide

struct TkCase {
  std::string name, variant, range, model;
  std::int64_t experts = 0, top_k = 0, hidden = 0, intermediate = 0, tokens = 0;
  std::uint64_t seed = 0;
  bool slow = false;
  std::vector<std::string> opt_flags;  // per matmul_ogs launch, "block_m=16,block_n=256,..."
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> golden;  // buffer -> (hash, count)
};

// Loads the goldens file (InputError naming the file on a schema, range or swiglu mismatch).
std::vector<TkCase> load_tk_goldens(const std::string& path);
CallInputs tk_generated_call(const TkCase& c);
// e2m1x2 [n, k/2] + ue8m0 [n, k/32] in `layout` ("linear" or quant::kTkHopperMxW8) + f32 bias.
std::unique_ptr<kernels::WeightProvider> tk_generated_weights(const TkCase& c, const std::string& layout = "linear");
// One canonical expert as the generator makes it (packed codes, scale bytes, bias).
kernels::ExpertMatrix tk_generated_expert(const TkCase& c, const std::string& which, std::int64_t expert);

}  // namespace moesim::replay
