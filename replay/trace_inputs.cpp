// Adapters from traces/ (HDF5 trace format v1) to replay inputs.
#include <cstring>

#include "replay/inputs.hpp"
#include "sim/core/error.hpp"
#include "sim/formats/fast.hpp"
#include "traces/weights.hpp"

namespace moesim::replay {

namespace {
std::string call_where(const traces::Trace& t, std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/calls/%04zu", index);
  return (t.path.empty() ? std::string("trace") : t.path) + ":" + buf;
}

kernels::EmuBuffer tensor_buffer(const std::string& name, const traces::Tensor& t, const std::string& where) {
  kernels::ElemType et;
  if (t.dtype == "fp8_e4m3fn") {  // quantized activations: widened exactly to bf16 (see triton_fp8_numerics.hpp)
    traces::Tensor wide;
    wide.dtype = "bf16";
    wide.shape = t.shape;
    wide.bytes.resize(t.bytes.size() * 2);
    for (std::size_t i = 0; i < t.bytes.size(); ++i) {
      const std::uint16_t b = fmt::fast::f32_to_bf16_rn(fmt::fast::e4m3_to_f32(t.bytes[i]));
      std::memcpy(wide.bytes.data() + 2 * i, &b, 2);
    }
    return tensor_buffer(name, wide, where);
  }
  if (t.dtype == "bf16") et = kernels::ElemType::BF16;
  else if (t.dtype == "f32") et = kernels::ElemType::F32;
  else if (t.dtype == "f64") et = kernels::ElemType::F64;
  else if (t.dtype == "i32") et = kernels::ElemType::I32;
  else throw InputError(where, "golden dtype '" + t.dtype + "' is not comparable yet (bf16, f32, f64, i32)");
  std::vector<std::int64_t> shape = t.shape;
  if (shape.size() > 2) {  // [T, K, N] slot tensors -> canonical [T*K, N]
    std::int64_t rows = 1;
    for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    shape = {rows, shape.back()};
  }
  kernels::EmuBuffer b(name, et, shape);
  if (t.bytes.size() != static_cast<std::size_t>(b.size()) * kernels::elem_size(et))
    throw InputError(where, "byte size does not match its shape");
  std::memcpy(b.mutable_data<std::uint8_t>(), t.bytes.data(), t.bytes.size());
  b.mark_all_written();
  return b;
}

class TraceWeights final : public kernels::WeightProvider {
 public:
  TraceWeights(const std::string& path, std::int64_t layer) : reader_(path, layer), path_(path), group_(traces::weights_group(layer)) {}
  std::string source() const override { return path_; }
  kernels::ExpertMatrix read(const std::string& which, std::int64_t expert) const override {
    traces::ExpertWeights w = reader_.read(which, expert);
    if (w.w.shape.size() != 2)
      throw InputError(path_ + ":" + group_ + "/" + which, "expected a 2-D expert slice");
    kernels::ExpertMatrix m;
    m.dtype = w.w.dtype;
    m.rows = w.w.shape[0];
    m.cols = w.w.shape[1];
    m.bytes = std::move(w.w.bytes);
    if (w.scale && w.scale->dtype == "f32") {  // fp8 weight scales: per expert [E] or 128x128 blocks [E, N/128, K/128]
      m.scale.resize(w.scale->bytes.size() / 4);
      std::memcpy(m.scale.data(), w.scale->bytes.data(), m.scale.size() * 4);
      m.scale_shape = w.scale->shape;
    } else if (w.scale && (w.scale->dtype == "ue4m3" || w.scale->dtype == "ue8m0")) {  // NVFP4 / MXFP4 block scales, raw bytes
      m.scale_dtype = w.scale->dtype;
      m.scale_layout = w.scale->layout;
      m.scale_shape = w.scale->shape;
      m.scale_bytes = std::move(w.scale->bytes);
    }
    m.global_scale = w.global_scale;  // NVFP4 per-expert fp32 global (decode) scale
    if (w.bias) m.bias = std::move(*w.bias);  // expert biases (w13: [gate; up]), f32 per output row
    return m;
  }

 private:
  traces::WeightReader reader_;
  std::string path_, group_;
};
}  // namespace

CallInputs call_inputs_from_trace(const traces::Trace& trace, std::size_t index) {
  const std::string where = call_where(trace, index);
  if (index >= trace.calls.size())
    throw InputError(trace.path, "call " + std::to_string(index) + " out of range (trace has " +
                                     std::to_string(trace.calls.size()) + ")");
  const traces::MoeCall& c = trace.calls[index];
  CallInputs in;
  auto& p = in.problem;
  p.num_tokens = c.num_tokens;
  p.top_k = trace.model.top_k;
  p.num_experts = trace.model.num_experts;
  p.hidden = trace.model.hidden;
  p.intermediate = trace.model.intermediate;
  p.gated = trace.model.gated;
  p.activation = trace.model.activation;
  // Every layer of a multi-layer trace agrees on having biases (the reader checks it).
  p.has_bias = trace.weights.has_biases;
  if (!c.has_routing()) throw InputError(where + "/topk_ids", "replay needs routing (the trace has counts only)");
  if (!c.hidden_states) throw InputError(where + "/hidden_states", "replay needs the activations entering the layer");
  if (c.hidden_states->data.dtype != "bf16")
    throw InputError(where + "/hidden_states", "dtype '" + c.hidden_states->data.dtype + "' not supported yet (bf16)");
  in.topk_ids = c.topk_ids;
  in.topk_weights = c.topk_weights;
  in.hidden_states.resize(c.hidden_states->data.bytes.size() / 2);
  std::memcpy(in.hidden_states.data(), c.hidden_states->data.bytes.data(), in.hidden_states.size() * 2);
  validate_inputs(in, where);
  return in;
}

std::map<std::string, kernels::EmuBuffer> golden_from_trace(const traces::Trace& trace, std::size_t index) {
  std::map<std::string, kernels::EmuBuffer> out;
  const std::string where = call_where(trace, index);
  const traces::MoeCall& c = trace.calls.at(index);
  if (c.golden_output) out.emplace("output", tensor_buffer("golden/output", c.golden_output->data, where + "/golden/output"));
  for (const auto& [name, t] : c.intermediates)
    out.emplace(name, tensor_buffer("golden/" + name, t, where + "/golden/" + name));
  return out;
}

std::unique_ptr<kernels::WeightProvider> open_trace_weights(const std::string& path, std::int64_t layer) {
  return std::make_unique<TraceWeights>(path, layer);
}

}  // namespace moesim::replay
