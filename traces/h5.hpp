#pragma once
// Thin RAII layer over the HDF5 C API. Every failure becomes an InputError naming the file
// and the object path, so corrupt or truncated files give one line, never an HDF5 stack dump.
// HDF5 is not thread-safe in Debian's serial build: callers serialise access (WeightReader
// holds a mutex).
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moesim {
class AtomicOutput;
}

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

// Where the raw little-endian bytes of a simple dataset lie in the file, so that they can be
// read without libhdf5 (pread + our own Fletcher32 check): the isolated reader parses the
// metadata and hands back this plan; the parent fills its buffer (traces/raw_read.hpp).
struct RawChunk {
  std::int64_t file_offset = 0;   // of the stored chunk data
  std::int64_t stored = 0;        // bytes stored there (without the checksum)
  std::int64_t dest_offset = 0;   // where the chunk starts in the dataset's bytes
  std::int64_t copy = 0;          // bytes of it inside the dataset (< stored for an edge chunk)
  bool fletcher32 = false;        // a 4-byte Fletcher32 checksum follows the stored data
};
struct RawPlan {
  std::string dataset;            // for error messages
  std::int64_t bytes = 0;         // dataset size
  std::vector<RawChunk> chunks;
};

// Scalar kinds we store. bf16/fp8/fp4 live in integer containers with a dtype attribute.
enum class Scalar { I32, I64, U8, U16, F32, F64 };
std::size_t scalar_size(Scalar s);
const char* scalar_name(Scalar s);

class File {
 public:
  static File open_read(const std::string& path);
  // Creates `path` atomically: HDF5 writes a temporary next to it (sim/core/atomic_file.hpp)
  // which commit() renames into place. A File destroyed during exception unwinding leaves no
  // file and the old `path` untouched; destroyed normally without commit() it commits (a
  // failure then is printed to stderr -- call commit() to get it as an InputError). Files get
  // checksummed metadata (superblock v2, object header v2).
  static File create(const std::string& path);
  void commit();
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File();
  static File open_append(const std::string& path);  // read-write, must exist
  // A file that lives only in memory (core driver, no backing store), same format bounds as
  // create(): for warming the library up on trusted data.
  static File in_memory(const std::string& name);
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }

  bool exists(const std::string& obj) const;  // any link on the path, checked component-wise
  bool is_group(const std::string& obj) const;
  bool is_dataset(const std::string& obj) const;
  std::vector<std::string> children(const std::string& group) const;  // sorted by name

  void make_group(const std::string& obj);  // creates intermediate groups

  // Attributes (on a group or dataset at `obj`).
  bool has_attr(const std::string& obj, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& obj) const;  // sorted, at most 4096
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
  // The dataset's byte plan if it is stored simply enough to be read without libhdf5
  // (contiguous and unfiltered, or chunked in whole rows with at most Fletcher32, little-endian
  // `want` on disk); nullopt otherwise. Runs the same checks as a read (type, shape, storage,
  // budget).
  std::optional<RawPlan> plan_raw(const std::string& ds, Scalar want) const;
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
  // Writes a dataset; chunk_dims empty = contiguous. gzip level 0 = none. Chunked datasets get
  // the Fletcher32 filter (a checksum per chunk, verified on every read).
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
  // Filters, layout, chunk index and real storage size against the `bytes` the shape declares,
  // and the memory budget; fails before anything is allocated.
  void check_storage(const std::string& ds, hid_t d, std::int64_t bytes) const;
  std::shared_ptr<AtomicOutput> out_;  // declared before h_: the HDF5 file closes first
  int uncaught_ = 0;                   // std::uncaught_exceptions() at create()
  Handle h_;
  std::string path_;
  std::int64_t file_size_ = 0;
};

}  // namespace moesim::h5
