#include "replay/executor.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>

#include "sim/core/error.hpp"
#include "traces/context_rules.hpp"

namespace moesim::replay {

using kernels::ElemType;
using kernels::EmuBuffer;

const EmuBuffer* ReplayResult::stage_buffer(const std::string& stage_id) const {
  auto it = stage_output.find(stage_id);
  if (it == stage_output.end()) return nullptr;
  auto b = buffers.find(it->second);
  return b == buffers.end() ? nullptr : &b->second;
}

const EmuBuffer& ReplayResult::output() const {
  const EmuBuffer* b = stage_buffer(stage_order.back());
  if (!b) throw std::logic_error("replay result has no output buffer");
  return *b;
}

int resolve_threads(int requested) {
  // 0 = default (all). Otherwise 1..min(omp_get_thread_limit(), traces::kMaxThreads): more
  // threads than the runtime can create made libgomp crash.
  const int cap = std::min(omp_get_thread_limit(), traces::kMaxThreads);
  if (requested == 0) return std::min(omp_get_max_threads(), cap);
  if (requested < 0 || requested > cap)
    throw InputError("--threads", "must be in [1, " + std::to_string(cap) + "] (0 or absent = all cores), got " + std::to_string(requested));
  return requested;
}

void validate_inputs(const CallInputs& in, const std::string& where) {
  const auto& p = in.problem;
  if (p.num_tokens < 0 || p.top_k <= 0 || p.num_experts <= 0 || p.hidden <= 0 || p.intermediate <= 0)
    throw InputError(where, "model shape must have positive top_k, num_experts, hidden, intermediate");
  if (static_cast<std::int64_t>(in.hidden_states.size()) != p.num_tokens * p.hidden)
    throw InputError(where + "/hidden_states", "expected " + std::to_string(p.num_tokens * p.hidden) +
                                                   " bf16 values [T, H], got " + std::to_string(in.hidden_states.size()));
  if (static_cast<std::int64_t>(in.topk_ids.size()) != p.slots())
    throw InputError(where + "/topk_ids", "expected [T, K] = " + std::to_string(p.slots()) + " ids, got " +
                                              std::to_string(in.topk_ids.size()));
  if (static_cast<std::int64_t>(in.topk_weights.size()) != p.slots())
    throw InputError(where + "/topk_weights", "expected [T, K] = " + std::to_string(p.slots()) + " weights, got " +
                                                  std::to_string(in.topk_weights.size()));
  for (std::size_t i = 0; i < in.topk_weights.size(); ++i)
    if (!std::isfinite(in.topk_weights[i]))
      throw InputError(where + "/topk_weights", "non-finite routing weight at flat index " + std::to_string(i));
}

ReplayResult run_replay(const kernels::VariantSpec& spec, const CallInputs& inputs,
                        const kernels::WeightProvider& weights, const ReplayOptions& opt) {
  auto impl = kernels::make_variant_impl(spec);
  return run_replay(spec, *impl, inputs, weights, opt);
}

ReplayResult run_replay(const kernels::VariantSpec& spec, kernels::VariantImpl& impl, const CallInputs& inputs,
                        const kernels::WeightProvider& weights, const ReplayOptions& opt) {
  validate_inputs(inputs, "call");
  const auto& p = inputs.problem;
  // Expert biases are never dropped silently: a variant that does not model them refuses.
  if (p.has_bias && !kernels::models_biases(spec)) {
    std::string which;
    for (const auto& id : kernels::list_variants())
      if (kernels::models_biases(kernels::find_variant(id))) which += (which.empty() ? "" : ", ") + id;
    const std::string src = weights.source();
    throw InputError((src.empty() ? std::string("weights") : src) + ":w13_bias",
                     "the trace's experts have biases and variant '" + spec.id + "' does not model them; variants that do: " +
                         (which.empty() ? std::string("none") : which));
  }
  const ReplayPlan plan = build_plan(spec);
  ReplayResult res;
  res.variant = spec.id;
  kernels::MemoryLog log;

  // Inputs as the kernel finds them in device memory (fully written).
  auto add_input = [&](const std::string& name, ElemType t, std::vector<std::int64_t> shape, const void* src,
                       std::size_t bytes) {
    EmuBuffer b(name, t, std::move(shape));
    std::memcpy(b.mutable_data<std::uint8_t>(), src, bytes);
    b.mark_all_written();
    res.buffers.insert_or_assign(name, std::move(b));
  };
  add_input("hidden_states", ElemType::BF16, {p.num_tokens, p.hidden}, inputs.hidden_states.data(),
            inputs.hidden_states.size() * 2);
  add_input("topk_ids", ElemType::I32, {p.num_tokens, p.top_k}, inputs.topk_ids.data(), inputs.topk_ids.size() * 4);
  add_input("topk_weights", ElemType::F32, {p.num_tokens, p.top_k}, inputs.topk_weights.data(),
            inputs.topk_weights.size() * 4);
  for (const auto& ext : plan.external_inputs)
    if (!res.buffers.count(ext))
      throw InputError(spec.file + ":/stages", "stage input '" + ext + "' is produced by no stage and is not a call input");

  const int threads = resolve_threads(opt.threads);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t oi = 0; oi < plan.order.size(); ++oi) {
    const kernels::StageSpec& st = spec.stages[plan.order[oi]];
    const auto ts = std::chrono::steady_clock::now();
    kernels::StageContext ctx{p, weights, res.buffers, log, st, threads};
    try {
      impl.run_stage(ctx);
    } catch (const InputError& e) {
      // Kernels name weights as "w13[e]": the error is about the weights' file; name it.
      const std::string src = weights.source();
      if (src.empty() || e.where().find(src) != std::string::npos) throw;
      const bool weight = e.where().rfind("w13", 0) == 0 || e.where().rfind("w2", 0) == 0;
      throw InputError(src + ":" + (weight ? "/weights/" : "") + e.where(), e.problem());
    }
    res.timings.push_back({st.id, std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count()});
    res.stage_order.push_back(st.id);
    res.stage_output[st.id] = st.outputs.at(0);
    for (const auto& o : st.outputs) {
      auto it = res.buffers.find(o);
      if (it == res.buffers.end()) {
        res.findings.push_back(output_not_written(spec.id, st.id, o, -1, 1, 0, 0, st.models));
        continue;
      }
      if (!st.check_written) continue;
      const std::int64_t n = it->second.count_unwritten();
      if (n > 0) {
        const auto first = it->second.unwritten(1).front();
        const std::int64_t cols = it->second.cols();
        res.findings.push_back(output_not_written(spec.id, st.id, o, first, cols, n, it->second.size(), st.models));
      }
    }
    if (opt.on_stage) opt.on_stage(oi + 1, plan.order.size(), st.id);
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  for (const auto& ev : log.events()) {
    const bool rd = ev.kind == kernels::MemoryEvent::Kind::OobRead;
    const kernels::StageSpec* st = spec.stage(ev.stage);
    res.findings.push_back(emulated_oob_access(spec.id, ev.stage, ev.buffer, rd, ev.index, ev.size, st ? st->models : ""));
  }
  return res;
}

}  // namespace moesim::replay
