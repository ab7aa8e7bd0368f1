#include "replay/replay_finding.hpp"

namespace moesim::replay {

kernels::Finding output_not_written(const std::string& kernel, const std::string& stage, const std::string& buffer,
                                    std::int64_t first, std::int64_t cols, std::int64_t count, std::int64_t size,
                                    const std::string& models) {
  kernels::Finding f;
  f.id = kernels::finding_id::kOutputNotWritten;
  f.severity = kernels::Severity::error;
  f.kernel = kernel;
  f.stage = stage;
  f.buffer = buffer;
  f.upstream = models;
  if (first < 0) {
    f.message = "stage never allocated its declared output '" + buffer + "'";
    f.formula = f.message;
    f.count = 0;
    return f;
  }
  f.message = "output elements no kernel wrote: the consumer reads the poison pattern (stale memory on a GPU)";
  f.formula = std::to_string(count) + " of " + std::to_string(size) +
              " elements still hold the poison pattern after the stage; first at index " + std::to_string(first) +
              " (row " + std::to_string(first / cols) + ", col " + std::to_string(first % cols) + ")";
  f.limit = "every element of '" + buffer + "' written (" + std::to_string(size) + ")";
  f.index = first;
  f.count = count;
  f.value = size - count;
  f.limit_value = size;
  return f;
}

kernels::Finding emulated_oob_access(const std::string& kernel, const std::string& stage, const std::string& buffer,
                                     bool read, std::int64_t index, std::int64_t size, const std::string& models) {
  kernels::Finding f;
  f.id = kernels::finding_id::kEmulatedOobAccess;
  f.severity = kernels::Severity::error;
  f.kernel = kernel;
  f.stage = stage;
  f.buffer = buffer;
  f.upstream = models;
  f.message = std::string("emulated ") + (read ? "read" : "write") + " outside the buffer (an illegal memory access on a GPU)";
  f.gpu_error = "CUDA error: an illegal memory access was encountered";
  f.formula = std::string(read ? "read" : "write") + " of element " + std::to_string(index) + " outside [0, " +
              std::to_string(size) + ")";
  f.limit = "0 <= index < " + std::to_string(size);
  f.index = index;
  f.count = 1;
  f.value = index;
  f.limit_value = size;
  return f;
}

}  // namespace moesim::replay
