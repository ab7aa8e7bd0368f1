#include "traces/import/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sim/core/error.hpp"

namespace moesim::traces::import {

namespace {

constexpr std::uint64_t kMaxHeader = 100'000'000;  // ST:safetensors/src/tensor.rs:10

struct DtypeBits {
  const char* name;
  int bits;
};
// ST:safetensors/src/tensor.rs:811-890.
constexpr std::array<DtypeBits, 22> kStDtypes{{
    {"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8},
    {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16}, {"U16", 16},
    {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32}, {"C64", 64}, {"F64", 64},
    {"I64", 64}, {"U64", 64},
}};

bool mul_ok(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

}  // namespace

std::int64_t StTensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // validated against overflow when the header was parsed
  return n;
}

int safetensors_dtype_bits(const std::string& dtype, const std::string& where) {
  for (const auto& d : kStDtypes)
    if (dtype == d.name) return d.bits;
  std::string known;
  for (const auto& d : kStDtypes) known += std::string(known.empty() ? "" : " ") + d.name;
  throw InputError(where, "unknown safetensors dtype '" + dtype + "' (known: " + known + ")");
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw InputError(path, "not a regular file");
  }
  file_size_ = static_cast<std::uint64_t>(st.st_size);
  auto fail = [&](const std::string& where, const std::string& problem) {
    ::close(fd_);
    fd_ = -1;
    throw InputError(path + (where.empty() ? "" : ":" + where), problem);
  };
  std::uint8_t len_bytes[8];
  if (file_size_ < 8 || ::pread(fd_, len_bytes, 8, 0) != 8) fail("", "truncated: shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kMaxHeader) fail("", "header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
  if (n > file_size_ - 8) fail("", "truncated: header length " + std::to_string(n) + " exceeds the file size " + std::to_string(file_size_));
  std::string header(static_cast<std::size_t>(n), '\0');
  if (n > 0 && ::pread(fd_, header.data(), n, 8) != static_cast<ssize_t>(n)) fail("", "cannot read the header");
  if (header.empty() || header[0] != '{') fail("", "header does not begin with '{'");
  data_start_ = 8 + n;
  const std::uint64_t buffer = file_size_ - data_start_;
  boost::json::value root;
  try {
    // Trailing 0x20 padding is allowed by the format; JSON parsing skips whitespace.
    root = boost::json::parse(header);
  } catch (const std::exception& e) {
    fail("header", std::string("malformed JSON: ") + e.what());
  }
  if (!root.is_object()) fail("header", "not a JSON object");
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& kv : root.as_object()) {
    const std::string name(kv.key());
    if (name == "__metadata__") {
      if (!kv.value().is_object()) fail("__metadata__", "must be an object of strings");
      for (const auto& m : kv.value().as_object()) {
        if (!m.value().is_string()) fail("__metadata__/" + std::string(m.key()), "metadata values must be strings");
        metadata_[std::string(m.key())] = std::string(m.value().as_string());
      }
      continue;
    }
    if (!kv.value().is_object()) fail(name, "tensor entry is not an object");
    const auto& o = kv.value().as_object();
    StTensorInfo t;
    const auto* dt = o.if_contains("dtype");
    const auto* sh = o.if_contains("shape");
    const auto* off = o.if_contains("data_offsets");
    if (!dt || !dt->is_string()) fail(name, "missing or non-string dtype");
    if (!sh || !sh->is_array()) fail(name, "missing or non-array shape");
    if (!off || !off->is_array() || off->as_array().size() != 2) fail(name, "data_offsets must be [BEGIN, END]");
    t.dtype = std::string(dt->as_string());
    const int bits = safetensors_dtype_bits(t.dtype, path + ":" + name);
    std::uint64_t numel = 1;
    for (const auto& d : sh->as_array()) {
      if (!d.is_int64() && !d.is_uint64()) fail(name, "shape entries must be non-negative integers");
      if (d.is_int64() && d.as_int64() < 0) fail(name, "negative dimension in shape");
      const std::uint64_t v = d.is_int64() ? static_cast<std::uint64_t>(d.as_int64()) : d.as_uint64();
      if (v > static_cast<std::uint64_t>(INT64_MAX) || !mul_ok(numel, v, numel) || numel > static_cast<std::uint64_t>(INT64_MAX))
        fail(name, "shape element count overflows");
      t.shape.push_back(static_cast<std::int64_t>(v));
    }
    for (int i = 0; i < 2; ++i) {
      const auto& v = off->as_array()[static_cast<std::size_t>(i)];
      if (!v.is_uint64() && !(v.is_int64() && v.as_int64() >= 0)) fail(name, "data_offsets must be non-negative integers");
      (i == 0 ? t.begin : t.end) = v.is_uint64() ? v.as_uint64() : static_cast<std::uint64_t>(v.as_int64());
    }
    if (t.end < t.begin) fail(name, "data_offsets END " + std::to_string(t.end) + " before BEGIN " + std::to_string(t.begin));
    std::uint64_t nbits = 0;
    if (!mul_ok(numel, static_cast<std::uint64_t>(bits), nbits)) fail(name, "byte size overflows");
    if (nbits % 8 != 0) fail(name, "element count x " + std::to_string(bits) + " bits is not a whole number of bytes");
    if (t.end - t.begin != nbits / 8)
      fail(name, "data_offsets span " + std::to_string(t.end - t.begin) + " bytes but shape x dtype " + t.dtype + " needs " +
                     std::to_string(nbits / 8));
    if (t.end > buffer)
      fail(name, "data_offsets END " + std::to_string(t.end) + " beyond the byte buffer (" + std::to_string(buffer) +
                     " bytes; file truncated?)");
    order.emplace_back(t.begin, name);
    tensors_.emplace(name, std::move(t));
  }
  // Contiguous, increasing offsets covering the buffer exactly (tensor.rs:626-660).
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    const auto& ta = tensors_.at(a.second);
    const auto& tb = tensors_.at(b.second);
    return ta.begin != tb.begin ? ta.begin < tb.begin : ta.end < tb.end;
  });
  std::uint64_t pos = 0;
  for (const auto& [b, name] : order) {
    const auto& t = tensors_.at(name);
    if (t.begin != pos)
      fail(name, t.begin > pos ? "hole in the byte buffer before data_offsets BEGIN " + std::to_string(t.begin) + " (expected " + std::to_string(pos) + ")"
                               : "data_offsets overlap the previous tensor (BEGIN " + std::to_string(t.begin) + " < " + std::to_string(pos) + ")");
    pos = t.end;
  }
  if (pos != buffer) fail("", "byte buffer not fully indexed: tensors end at " + std::to_string(pos) + " of " + std::to_string(buffer) + " bytes");
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

const StTensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InputError(path_ + ":" + name, "tensor not in this file");
  return it->second;
}

std::vector<std::uint8_t> SafetensorsFile::read_rows(const std::string& name, std::int64_t row0, std::int64_t nrows) const {
  const StTensorInfo& t = info(name);
  const std::uint64_t total = t.end - t.begin;
  const std::int64_t rows = t.shape.empty() ? 1 : t.shape[0];
  if (row0 < 0 || nrows < 0 || row0 > rows || nrows > rows - row0)
    throw InputError(path_ + ":" + name, "rows [" + std::to_string(row0) + ", " + std::to_string(row0 + nrows) +
                                             ") outside dim 0 of size " + std::to_string(rows));
  const std::uint64_t row_bytes = rows == 0 ? 0 : total / static_cast<std::uint64_t>(rows);
  if (rows != 0 && row_bytes * static_cast<std::uint64_t>(rows) != total)
    throw InputError(path_ + ":" + name, "rows are not whole bytes (packed sub-byte dtype); read the whole tensor");
  const std::uint64_t off = data_start_ + t.begin + row_bytes * static_cast<std::uint64_t>(row0);
  const std::uint64_t len = row_bytes * static_cast<std::uint64_t>(nrows);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  if (len == 0) return out;
  // Map just this slice, copy it out, unmap: resident pages never outlive the call.
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t map_off = off / page * page, lead = off - map_off;
  void* m = ::mmap(nullptr, static_cast<std::size_t>(len + lead), PROT_READ, MAP_PRIVATE, fd_, static_cast<off_t>(map_off));
  if (m == MAP_FAILED) throw InputError(path_ + ":" + name, std::string("mmap failed: ") + std::strerror(errno));
  std::memcpy(out.data(), static_cast<const std::uint8_t*>(m) + lead, static_cast<std::size_t>(len));
  ::munmap(m, static_cast<std::size_t>(len + lead));
  return out;
}

std::vector<std::uint8_t> SafetensorsFile::read(const std::string& name) const {
  const StTensorInfo& t = info(name);
  if (t.shape.empty() || t.shape[0] == 0 || (t.end - t.begin) % static_cast<std::uint64_t>(t.shape[0]) == 0)
    return read_rows(name, 0, t.shape.empty() ? 1 : t.shape[0]);
  // Packed sub-byte tensor whose rows are not whole bytes: one read of the whole span.
  std::vector<std::uint8_t> out(static_cast<std::size_t>(t.end - t.begin));
  if (!out.empty() && ::pread(fd_, out.data(), out.size(), static_cast<off_t>(data_start_ + t.begin)) != static_cast<ssize_t>(out.size()))
    throw InputError(path_ + ":" + name, "short read");
  return out;
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& dir_or_file) : root_(dir_or_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(dir_or_file, ec)) {
    auto f = std::make_unique<SafetensorsFile>(dir_or_file);
    for (const auto& kv : f->tensors()) weight_map_[kv.first] = dir_or_file;
    open_[dir_or_file] = std::move(f);
    return;
  }
  if (!fs::is_directory(dir_or_file, ec)) throw InputError(dir_or_file, "not a checkpoint directory or .safetensors file");
  const fs::path index = fs::path(dir_or_file) / "model.safetensors.index.json";
  if (fs::exists(index, ec)) {
    std::ifstream in(index, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::json::value v;
    try {
      v = boost::json::parse(text);
    } catch (const std::exception& e) {
      throw InputError(index.string(), std::string("malformed JSON: ") + e.what());
    }
    const auto* wm = v.is_object() ? v.as_object().if_contains("weight_map") : nullptr;
    if (!wm || !wm->is_object()) throw InputError(index.string() + ":/weight_map", "missing or not an object");
    for (const auto& kv : wm->as_object()) {
      if (!kv.value().is_string()) throw InputError(index.string() + ":/weight_map/" + std::string(kv.key()), "shard name must be a string");
      const std::string shard(kv.value().as_string());
      // A shard name is a file next to the index, never a path out of the checkpoint.
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        throw InputError(index.string() + ":/weight_map/" + std::string(kv.key()), "shard '" + shard + "' is not a file name in the checkpoint directory");
      weight_map_[std::string(kv.key())] = (fs::path(dir_or_file) / shard).string();
    }
    return;
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir_or_file, ec))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  if (files.empty()) throw InputError(dir_or_file, "no model.safetensors.index.json and no *.safetensors file");
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    auto f = std::make_unique<SafetensorsFile>(p);
    for (const auto& kv : f->tensors()) {
      if (weight_map_.count(kv.first)) throw InputError(p + ":" + kv.first, "tensor also in " + weight_map_[kv.first]);
      weight_map_[kv.first] = p;
    }
    open_[p] = std::move(f);
  }
}

SafetensorsCheckpoint::~SafetensorsCheckpoint() = default;

bool SafetensorsCheckpoint::has(const std::string& name) const { return weight_map_.count(name) != 0; }

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = weight_map_.find(name);
  if (it == weight_map_.end()) throw InputError(root_ + ":" + name, "tensor not in the checkpoint");
  auto& slot = open_[it->second];
  if (!slot) slot = std::make_unique<SafetensorsFile>(it->second);  // headers only; data is mapped per read
  if (!slot->has(name)) throw InputError(it->second + ":" + name, "the index maps this tensor here, but the shard does not hold it");
  return *slot;
}

std::string SafetensorsCheckpoint::where(const std::string& name) const {
  auto it = weight_map_.find(name);
  return (it == weight_map_.end() ? root_ : std::filesystem::path(it->second).filename().string()) + ":" + name;
}

std::vector<std::string> SafetensorsCheckpoint::names_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = weight_map_.lower_bound(prefix); it != weight_map_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    out.push_back(it->first);
  return out;
}

void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  boost::json::object h;
  if (!metadata.empty()) {
    boost::json::object m;
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    h["__metadata__"] = std::move(m);
  }
  std::uint64_t off = 0;
  for (const auto& t : tensors) {
    boost::json::array shape;
    for (auto d : t.shape) shape.push_back(d);
    h[t.name] = {{"dtype", t.dtype}, {"shape", std::move(shape)}, {"data_offsets", {off, off + t.size}}};
    off += t.size;
  }
  std::string header = boost::json::serialize(h);
  while (header.size() % 8 != 0) header.push_back(' ');
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path, "cannot create");
    std::uint8_t len[8];
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& t : tensors) out.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(t.size));
    if (!out.flush()) throw InputError(path, "write failed");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace moesim::traces::import
