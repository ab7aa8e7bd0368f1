#pragma once
// Flat binary form of a Trace, used to hand a trace parsed and validated in the isolated
// reader (sim/core/isolate.hpp) back to the parent. Encoding is two-pass (size, then write
// straight into the shared mapping); decoding bounds-checks every length against the mapping.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "traces/h5.hpp"
#include "traces/trace.hpp"

namespace moesim::traces {

// Datasets the isolated reader did not read but planned (h5::File::plan_raw), keyed by the
// field they fill: "c<call>/topk_ids", "c<call>/hidden_states/data", ... (see trace_codec.cpp).
using DeferredPlans = std::map<std::string, h5::RawPlan>;
// Fills `dest` (plan.bytes bytes) for a deferred field.
using PlanFiller = std::function<void(const h5::RawPlan& plan, std::uint8_t* dest)>;

std::size_t encoded_size(const Trace& t, const DeferredPlans* plans = nullptr);
void encode(const Trace& t, std::uint8_t* out, const DeferredPlans* plans = nullptr);  // exactly encoded_size bytes
// std::runtime_error on a malformed buffer; deferred fields go to `fill` (required if any).
// The buffer is untrusted (the child parsed a hostile file): every length is bounds-checked,
// and planned datasets are allocated only up to `max_planned_bytes` in all (the file's size:
// distinct stored chunks) and each within the memory budget (InputError naming the dataset).
// The values decoded are not validated here: traces::decode_isolated_result does that.
Trace decode(const std::uint8_t* p, std::size_t n, const PlanFiller& fill = {},
             std::int64_t max_planned_bytes = std::numeric_limits<std::int64_t>::max());

}  // namespace moesim::traces
