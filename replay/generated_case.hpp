#pragma once
// Replay inputs regenerated from a seed by moesim's counter-based generator
// (sim/core/counter_gen.hpp, "moesim.gen/1"): the production-shape goldens of issue 16
// (tests/data/golden/prod/triton_prod_goldens.json, recorded on an H200 by
// scripts/gpu/capture_triton_prod.py from the same generator) store only hashes of each stage's
// output bits, never tensors.
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "replay/executor.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::replay {

// Exponent-field ranges (lo, span) of the generated tensors; must equal the capture script's
// RANGES / SCALE_RANGE (the goldens file records them and the loader checks).
struct GenRange {
  std::uint32_t hidden_lo, hidden_span, bf16_w_lo, bf16_w_span, e4m3_w_lo, e4m3_w_span;
};
GenRange gen_range(const std::string& name, const std::string& where);  // "normal" | "wide"
inline constexpr std::uint32_t kGenScaleLo = 115, kGenScaleSpan = 4;

// Generator streams.
enum GenStream : std::uint64_t { kHidden = 1, kW13 = 2, kW2 = 3, kW13Scale = 4, kW2Scale = 5, kRouteIds = 6, kRouteW = 7 };

struct GeneratedCase {
  std::string name, variant, range, config, model;
  std::int64_t experts = 0, top_k = 0, hidden = 0, intermediate = 0, tokens = 0;
  std::uint64_t seed = 0;
  int block_m = 0, block_n = 0, block_k = 0, group_m = 0, warps = 0, stages = 0;
  bool slow = false;
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> golden;  // buffer -> (hash, count)
};

// One case of a goldens file (InputError naming `where` on a missing or bad field).
GeneratedCase parse_generated_case(const boost::json::object& o, const std::string& where);
// Checks the file's generator ranges against gen_range / kGenScale* (InputError on mismatch).
void check_generator_ranges(const boost::json::object& file, const std::string& where);

// The Triton tactic string of the case ("BLOCK_SIZE_M=16,BLOCK_SIZE_N=128,...").
std::string generated_tactic(const GeneratedCase& c);
kernels::MoeProblem generated_problem(const GeneratedCase& c);
CallInputs generated_call(const GeneratedCase& c);
// bf16 weights for triton_bf16, e4m3 codes + f32 scales (per tensor or 128x128 blocks) for the
// fp8 variants; generated per expert on demand.
std::unique_ptr<kernels::WeightProvider> generated_weights(const GeneratedCase& c);

// moesim.gen/1 hash of a replay buffer in the capture's element encoding: bf16 / f32 bits, and
// for the quantized activations (a1q, a2q; kept as bf16 images in the replay) the e4m3 codes.
std::uint64_t hash_buffer(const std::string& name, const kernels::EmuBuffer& b);

}  // namespace moesim::replay
