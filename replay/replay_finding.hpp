#pragma once
// Findings raised while replaying (OUTPUT_NOT_WRITTEN, EMULATED_OOB_ACCESS) are ordinary
// project-wide findings (sim/kernels/finding.hpp) with the buffer, element index and count
// filled in; these builders keep their wording in one place.
#include <cstdint>
#include <string>

#include "sim/kernels/finding.hpp"

namespace moesim::replay {

using ReplayFinding = kernels::Finding;

// A declared output still (partly) holding the poison pattern after its stage.
// first < 0 with count == 0: the stage never allocated the buffer at all.
kernels::Finding output_not_written(const std::string& kernel, const std::string& stage, const std::string& buffer,
                                    std::int64_t first, std::int64_t cols, std::int64_t count, std::int64_t size,
                                    const std::string& models);

// One read or write outside [0, size) of an emulated buffer.
kernels::Finding emulated_oob_access(const std::string& kernel, const std::string& stage, const std::string& buffer,
                                     bool read, std::int64_t index, std::int64_t size, const std::string& models);

}  // namespace moesim::replay
