#pragma once
// Streams one expert's weights at a time from a trace file (datasets /weights/w13 [E, N, K]
// chunked (1, N, K), so reading expert e touches one chunk).
#include <memory>
#include <string>
#include <vector>

#include "traces/trace.hpp"

namespace moesim::traces {

struct ExpertWeights {
  Tensor w;                          // [N, K] (packed as stored)
  std::optional<Tensor> scale;       // block scales for this expert
  std::optional<float> global_scale; // per-expert fp32 global scale if present
  std::optional<std::vector<float>> bias;  // per output row ([N]: w13 [gate; up], w2 [H]) when the trace has biases
};

class WeightReader {
 public:
  // layer < 0: a single-layer trace's /weights. layer >= 0: /layers/LLLL/weights of a
  // multi-layer trace; only that layer's weights are verified and read.
  explicit WeightReader(const std::string& path, std::int64_t layer = -1);
  ~WeightReader();
  WeightReader(const WeightReader&) = delete;
  WeightReader& operator=(const WeightReader&) = delete;
  const WeightsInfo& info() const;
  // which: "w13" (GEMM1, [N1 = 2I or I, H]) or "w2" (GEMM2, [H, I]).
  ExpertWeights read(const std::string& which, std::int64_t expert) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesim::traces

namespace moesim::h5 {
class File;
}

namespace moesim::traces {

// Writes /weights/{w13,w2}[_scale] into an existing trace file one expert at a time, so a
// DeepSeek-V3-sized layer never has to sit in memory.
class WeightWriter {
 public:
  // Opens `path` (written by write_trace) read-write and creates the datasets for `info`.
  // scale shapes are per expert ([rows, cols] of scale bytes) when info.has_scales.
  // In-place (not atomic): prefer the h5::File& form inside write_trace(t, path, extra).
  // layer >= 0 writes /layers/LLLL/weights of a multi-layer trace (the Trace written needs
  // that layer in Trace::layers), layer < 0 the single-layer /weights.
  WeightWriter(const std::string& path, const ModelShape& model, const WeightsInfo& info,
               std::vector<std::int64_t> w13_scale_shape = {}, std::vector<std::int64_t> w2_scale_shape = {},
               std::int64_t layer = -1);
  // Writes into an open file (the one write_trace's `extra` callback gets), which the caller
  // commits: the weights are part of the one atomic output.
  WeightWriter(h5::File& file, const ModelShape& model, const WeightsInfo& info,
               std::vector<std::int64_t> w13_scale_shape = {}, std::vector<std::int64_t> w2_scale_shape = {},
               std::int64_t layer = -1);
  ~WeightWriter();
  // w.bias is written to <which>_bias when info.has_biases (required then, [rows] values).
  void write(const std::string& which, std::int64_t expert, const ExpertWeights& w);
  // Per-expert fp32 global scales ([E]: NVFP4 decode scales), written once after the experts.
  void write_global_scales(const std::string& which, const std::vector<float>& per_expert);

 private:
  void create(const ModelShape& model, const WeightsInfo& info, const std::vector<std::int64_t>& w13_scale_shape,
              const std::vector<std::int64_t>& w2_scale_shape);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesim::traces
