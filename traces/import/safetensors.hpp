#pragma once
// Hugging Face safetensors reader (ST:README.md:74-105, ST:safetensors/src/tensor.rs @24b0b28):
// u64 little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}},
// optional "__metadata__" of strings), then the byte buffer. The file is hostile input: the
// header is bounded (100,000,000 bytes, as upstream), every size is overflow-checked, offsets
// must be increasing, contiguous and cover the buffer exactly (no holes, no overlap), and
// END - BEGIN must equal numel * bits / 8. Tensor bytes are memory-mapped only while one
// slice is copied out, so reading a checkpoint layer never keeps more than that slice resident.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moesim::traces::import {

struct StTensorInfo {
  std::string dtype;                 // safetensors token: BF16, F32, F8_E4M3, U8, ...
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // relative to the start of the byte buffer
  std::int64_t numel() const;
};

// Bits per element of a safetensors dtype token (tensor.rs:867-890); throws InputError on
// unknown tokens, listing the known ones.
int safetensors_dtype_bits(const std::string& dtype, const std::string& where);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // parses and validates the header
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const StTensorInfo& info(const std::string& name) const;  // InputError if absent
  const std::map<std::string, StTensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Bytes of rows [row0, row0 + nrows) along dim 0 (the whole tensor for 0-d tensors when
  // row0 = 0, nrows = 1). Range-checked; the mapping is released before returning.
  std::vector<std::uint8_t> read_rows(const std::string& name, std::int64_t row0, std::int64_t nrows) const;
  std::vector<std::uint8_t> read(const std::string& name) const;

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t data_start_ = 0, file_size_ = 0;
  std::map<std::string, StTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint directory (model.safetensors.index.json + shards, or one *.safetensors file)
// or a single .safetensors file. Shards are opened lazily, one header at a time.
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& dir_or_file);
  ~SafetensorsCheckpoint();
  const std::string& root() const { return root_; }
  bool has(const std::string& name) const;
  const SafetensorsFile& file_of(const std::string& name) const;  // InputError naming the index if absent
  std::string where(const std::string& name) const;               // "shard.safetensors:tensor"
  std::vector<std::string> names_with_prefix(const std::string& prefix) const;

 private:
  std::string root_;
  std::map<std::string, std::string> weight_map_;  // tensor -> shard path
  mutable std::map<std::string, std::unique_ptr<SafetensorsFile>> open_;
};

// Writes a safetensors file (8-byte-aligned header, like the Rust writer, tensor.rs:253-255).
// Used by exporters; tensors are written in the order given.
struct StTensorOut {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};
void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace moesim::traces::import
