#include "traces/raw_read.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim::traces {

std::uint32_t hdf5_fletcher32(const std::uint8_t* data, std::size_t len) {
  std::uint32_t a = 0, b = 0;
  std::size_t words = len / 2;
  while (words) {
    std::size_t block = words < 360 ? words : 360;  // keeps the 32-bit sums from overflowing
    words -= block;
    for (; block; --block, data += 2) {
      a += (static_cast<std::uint32_t>(data[0]) << 8) | data[1];
      b += a;
    }
    a = (a & 0xffff) + (a >> 16);
    b = (b & 0xffff) + (b >> 16);
  }
  if (len & 1) {
    a += static_cast<std::uint32_t>(data[0]) << 8;
    b += a;
    a = (a & 0xffff) + (a >> 16);
    b = (b & 0xffff) + (b >> 16);
  }
  a = (a & 0xffff) + (a >> 16);
  b = (b & 0xffff) + (b >> 16);
  return (b << 16) | a;
}

namespace {
void pread_all(int fd, std::uint8_t* dst, std::int64_t n, std::int64_t off, const std::string& where) {
  while (n > 0) {
    const ssize_t r = pread(fd, dst, static_cast<std::size_t>(n), static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw InputError(where, r == 0 ? "data ends early (truncated file)" : std::string("read failed: ") + std::strerror(errno));
    dst += r, n -= r, off += r;
  }
}
}  // namespace

void fill_from_plan(int fd, std::int64_t file_size, const std::string& file, const h5::RawPlan& plan, std::uint8_t* dest) {
  const std::string where = file + ":" + plan.dataset;
  std::vector<std::uint8_t> edge;
  std::int64_t covered = 0;
  std::vector<h5::RawChunk> chunks = plan.chunks;
  std::sort(chunks.begin(), chunks.end(), [](const auto& a, const auto& b) { return a.dest_offset < b.dest_offset; });
  for (const auto& c : chunks) {
    if (c.dest_offset != covered) throw InputError(where, "stored chunks do not tile the dataset (corrupt file)");
    const std::int64_t tail = c.fletcher32 ? 4 : 0;
    if (c.file_offset < 0 || c.stored < 0 || c.copy < 0 || c.copy > c.stored || c.dest_offset < 0 ||
        c.dest_offset > plan.bytes || c.copy > plan.bytes - c.dest_offset || c.file_offset > file_size ||
        c.stored + tail > file_size - c.file_offset)
      throw InputError(where, "data lies outside the file (corrupt or truncated)");
    std::uint8_t* buf = dest + c.dest_offset;
    if (c.copy != c.stored) {  // edge chunk: stored in full, only part of it is inside the dataset
      edge.resize(static_cast<std::size_t>(c.stored));
      buf = edge.data();
    }
    pread_all(fd, buf, c.stored, c.file_offset, where);
    if (c.fletcher32) {
      std::uint8_t s[4];
      pread_all(fd, s, 4, c.file_offset + c.stored, where);
      const std::uint32_t want = hdf5_fletcher32(buf, static_cast<std::size_t>(c.stored));
      const std::uint32_t le = s[0] | (s[1] << 8) | (s[2] << 16) | (static_cast<std::uint32_t>(s[3]) << 24);
      const std::uint32_t swapped = __builtin_bswap32(le);  // HDF5 also accepts the byte-swapped form
      if (le != want && swapped != want) throw InputError(where, "Fletcher32 checksum mismatch (checksum mismatch: the file is corrupted)");
    }
    if (buf != dest + c.dest_offset) std::memcpy(dest + c.dest_offset, buf, static_cast<std::size_t>(c.copy));
    covered += c.copy;
  }
  if (covered != plan.bytes) throw InputError(where, "stored chunks do not cover the dataset (missing data)");
}

}  // namespace moesim::traces
