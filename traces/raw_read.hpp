#pragma once
// Fills a dataset's bytes from a RawPlan (h5::File::plan_raw) with pread on an already open
// file: no libhdf5, bounds checked against the plan and the file size, Fletcher32 verified
// with our own implementation of HDF5's checksum (H5checksum.c H5_checksum_fletcher32: 16-bit
// big-endian words, sums folded every 360 words). InputError naming file and dataset.
#include <cstdint>
#include <string>

#include "traces/h5.hpp"

namespace moesim::traces {

std::uint32_t hdf5_fletcher32(const std::uint8_t* data, std::size_t len);

// `dest` holds plan.bytes bytes; `file_size` is the size of the file behind `fd`.
void fill_from_plan(int fd, std::int64_t file_size, const std::string& file, const h5::RawPlan& plan, std::uint8_t* dest);

}  // namespace moesim::traces
