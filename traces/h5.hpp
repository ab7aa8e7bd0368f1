#pragma once
// Thin RAII layer over the HDF5 C API. Every failure becomes an InputError naming the file
// and the object path, so corrupt or truncated files give one line, never an HDF5 stack dump.
// HDF5 is not thread-safe in Debian's serial build: callers serialise access (WeightReader
// holds a mutex).
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace moesim::h5 {

// Owns one hid_t and closes it with the right H5*close.
class Handle {
 public:
  enum class Kind { File, Group, Dataset, Dataspace, Datatype, Attribute, Plist };
  Handle() = default;
  Handle(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  Handle(Handle&& o) noexcept : id_(o.id_), kind_(o.kind_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { close(); }
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close();

 private:
  hid_t id_ = -1;
  Kind kind_ = Kind::File;
};

// Scalar kinds we store. bf16/fp8/fp4 live in integer containers with a dtype attribute.
enum class Scalar { I32, I64, U8, U16, F32, F64 };
std::size_t scalar_size(Scalar s);
const char* scalar_name(Scalar s);

class File {
 public:
  static File open_read(const std::string& path);
  static File create(const std::string& path);  // truncates
  static File open_append(const std::string& path);  // read-write, must exist
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }

  bool exists(const std::string& obj) const;  // any link on the path, checked component-wise
  bool is_group(const std::string& obj) const;
  bool is_dataset(const std::string& obj) const;
  std::vector<std::string> children(const std::string& group) const;  // sorted by name

  void make_group(const std::string& obj);  // creates intermediate groups

  // Attributes (on a group or dataset at `obj`).
  bool has_attr(const std::string& obj, const std::string& name) const;
  std::string attr_string(const std::string& obj, const std::string& name) const;
  std::int64_t attr_int(const std::string& obj, const std::string& name) const;
  double attr_double(const std::string& obj, const std::string& name) const;
  std::optional<std::string> attr_string_opt(const std::string& obj, const std::string& name) const;
  std::optional<std::int64_t> attr_int_opt(const std::string& obj, const std::string& name) const;
  void set_attr(const std::string& obj, const std::string& name, const std::string& v);
  void set_attr(const std::string& obj, const std::string& name, std::int64_t v);
  void set_attr(const std::string& obj, const std::string& name, double v);

  // Datasets.
  std::vector<std::int64_t> shape(const std::string& ds) const;
  Scalar scalar(const std::string& ds) const;  // throws on types we do not store
  // Reads the whole dataset, converting nothing: the stored scalar must equal `want`.
  std::vector<std::uint8_t> read_raw(const std::string& ds, Scalar want) const;
  // Reads index [first, first+count) along dimension 0 of an N-d dataset (one expert of [E,...]).
  std::vector<std::uint8_t> read_rows(const std::string& ds, Scalar want, std::int64_t first,
                                      std::int64_t count) const;
  template <class T>
  std::vector<T> read(const std::string& ds, Scalar want) const {
    std::vector<T> out;
    read_into(ds, want, [&](std::size_t bytes) {
      out.resize(bytes / sizeof(T));
      return static_cast<void*>(out.data());
    });
    return out;
  }
  // Reads the whole dataset into memory obtained from alloc(bytes) (no intermediate copy).
  template <class Alloc>
  void read_into(const std::string& ds, Scalar want, Alloc&& alloc) const {
    read_into_impl(ds, want, [](std::size_t bytes, void* ctx) { return (*static_cast<Alloc*>(ctx))(bytes); }, &alloc);
  }
  // Writes a dataset; chunk_dims empty = contiguous. gzip level 0 = none.
  void write(const std::string& ds, Scalar s, const std::vector<std::int64_t>& shape, const void* data,
             const std::vector<std::int64_t>& chunk_dims = {}, int gzip = 0);
  // Creates an empty chunked dataset, then writes row blocks into it (streaming writers).
  void create_dataset(const std::string& ds, Scalar s, const std::vector<std::int64_t>& shape,
                      const std::vector<std::int64_t>& chunk_dims, int gzip = 0);
  void write_rows(const std::string& ds, Scalar s, std::int64_t first, std::int64_t count, const void* data);

  [[noreturn]] void fail(const std::string& obj, const std::string& problem) const;

 private:
  void read_into_impl(const std::string& ds, Scalar want, void* (*alloc)(std::size_t, void*), void* ctx) const;
  File(Handle h, std::string path) : h_(std::move(h)), path_(std::move(path)) {}
  Handle open_object(const std::string& obj) const;
  Handle open_dataset(const std::string& ds) const;
  std::string h5_error_text() const;
  Handle h_;
  std::string path_;
};

}  // namespace moesim::h5
