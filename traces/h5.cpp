#include "traces/h5.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include "sim/core/atomic_file.hpp"
#include "sim/core/budget.hpp"
#include "sim/core/checked.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"

namespace moesim::h5 {

namespace {
// Silence HDF5's own stderr stack traces once per process; we report errors ourselves.
struct QuietHdf5 {
  QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void quiet() { static QuietHdf5 q; }

// " (checksum mismatch: ...)" when the current HDF5 error stack reports a failed checksum
// (Fletcher32 on chunks, or the v2 superblock / object-header metadata checksums).
herr_t find_checksum(unsigned, const H5E_error2_t* e, void* found) {
  const std::string d = e->desc ? e->desc : "";
  if (d.find("checksum") != std::string::npos || d.find("Fletcher32") != std::string::npos) *static_cast<bool*>(found) = true;
  return 0;
}
std::string error_detail() {
  bool found = false;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum, &found);
  return found ? " (checksum mismatch: the file is corrupted)" : "";
}

// Limits on counts a hostile header could declare, so loops over them stay bounded.
constexpr hsize_t kMaxLinks = 1000000;
constexpr hsize_t kMaxAttrs = 4096;
constexpr std::size_t kMaxStringBytes = 1 << 20;
// zlib's largest possible expansion is 1032:1; anything beyond is not a real deflate stream.
constexpr std::int64_t kMaxDeflateRatio = 1100;

hid_t native(Scalar s) {
  switch (s) {
    case Scalar::I32: return H5T_NATIVE_INT32;
    case Scalar::I64: return H5T_NATIVE_INT64;
    case Scalar::U8: return H5T_NATIVE_UINT8;
    case Scalar::U16: return H5T_NATIVE_UINT16;
    case Scalar::F32: return H5T_NATIVE_FLOAT;
    case Scalar::F64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_UINT8;
}
// Little-endian file types, so files are identical on every host.
hid_t file_type(Scalar s) {
  switch (s) {
    case Scalar::I32: return H5T_STD_I32LE;
    case Scalar::I64: return H5T_STD_I64LE;
    case Scalar::U8: return H5T_STD_U8LE;
    case Scalar::U16: return H5T_STD_U16LE;
    case Scalar::F32: return H5T_IEEE_F32LE;
    case Scalar::F64: return H5T_IEEE_F64LE;
  }
  return H5T_STD_U8LE;
}
}  // namespace

std::size_t scalar_size(Scalar s) {
  switch (s) {
    case Scalar::I32: case Scalar::F32: return 4;
    case Scalar::I64: case Scalar::F64: return 8;
    case Scalar::U16: return 2;
    case Scalar::U8: return 1;
  }
  return 1;
}
const char* scalar_name(Scalar s) {
  switch (s) {
    case Scalar::I32: return "int32";
    case Scalar::I64: return "int64";
    case Scalar::U8: return "uint8";
    case Scalar::U16: return "uint16";
    case Scalar::F32: return "float32";
    case Scalar::F64: return "float64";
  }
  return "?";
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close();
    id_ = o.id_;
    kind_ = o.kind_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::close() {
  if (id_ < 0) return;
  switch (kind_) {
    case Kind::File: H5Fclose(id_); break;
    case Kind::Group: H5Gclose(id_); break;
    case Kind::Dataset: H5Dclose(id_); break;
    case Kind::Dataspace: H5Sclose(id_); break;
    case Kind::Datatype: H5Tclose(id_); break;
    case Kind::Attribute: H5Aclose(id_); break;
    case Kind::Plist: H5Pclose(id_); break;
  }
  id_ = -1;
}

void File::fail(const std::string& obj, const std::string& problem) const {
  throw InputError(path_ + (obj.empty() ? "" : ":" + obj), problem);
}

File File::open_read(const std::string& path) {
  quiet();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "is a directory, expected an HDF5 file");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw InputError(path, "cannot open file for reading");
  }
  note_input(path);
  isolate::note_reading("/");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(path, "not an HDF5 file (bad signature: corrupt, truncated or wrong file)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw InputError(path, "cannot open HDF5 file (corrupt or truncated)" + error_detail());
  File f(Handle(id, Handle::Kind::File), path);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) f.file_size_ = static_cast<std::int64_t>(st.st_size);
  return f;
}

File File::open_append(const std::string& path) {
  { File probe = open_read(path); }
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0) throw InputError(path, "cannot open HDF5 file for writing");
  return File(Handle(id, Handle::Kind::File), path);
}

File File::create(const std::string& path) {
  quiet();
  auto out = std::make_shared<AtomicOutput>(path);
  // libver low = v1.8 gives the version-2 superblock and version-2 object headers, both with
  // metadata checksums; Debian's h5py (HDF5 1.10) reads them.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), Handle::Kind::Plist);
  if (H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) throw InputError(path, "cannot set HDF5 format bounds");
  hid_t id = H5Fcreate(out->temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  if (id < 0) throw InputError(path, "cannot create HDF5 file" + error_detail());
  File f(Handle(id, Handle::Kind::File), path);
  f.out_ = std::move(out);
  f.uncaught_ = std::uncaught_exceptions();
  return f;
}

File File::in_memory(const std::string& name) {
  quiet();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), Handle::Kind::Plist);
  if (H5Pset_fapl_core(fapl.id(), 1 << 16, 0) < 0 || H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0)
    throw InputError(name, "cannot set up an in-memory HDF5 file");
  hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  if (id < 0) throw InputError(name, "cannot create an in-memory HDF5 file" + error_detail());
  return File(Handle(id, Handle::Kind::File), name);
}

File::~File() {
  if (!out_ || out_->committed()) return;
  if (std::uncaught_exceptions() > uncaught_) {
    h_.close();  // unwinding: discard (AtomicOutput unlinks the temporary)
    return;
  }
  try {
    commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moesim: error: %s\n", e.what());
  }
}

void File::commit() {
  if (!out_) fail("", "commit() on a file not opened with File::create");
  const hid_t id = h_.id();
  if (id >= 0 && H5Fflush(id, H5F_SCOPE_GLOBAL) < 0) fail("", "cannot flush HDF5 file" + error_detail());
  h_.close();
  out_->commit();
  out_.reset();
}

bool File::exists(const std::string& obj) const {
  if (obj.empty() || obj == "/") return true;
  // H5Lexists fails if an intermediate component is missing, so walk the path.
  std::string cur;
  std::size_t pos = obj[0] == '/' ? 1 : 0;
  while (pos <= obj.size()) {
    std::size_t next = obj.find('/', pos);
    if (next == std::string::npos) next = obj.size();
    cur += "/" + obj.substr(pos, next - pos);
    if (H5Lexists(h_.id(), cur.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(h_.id(), cur.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next + 1;
  }
  return true;
}

Handle File::open_object(const std::string& obj) const {
  if (!exists(obj)) fail(obj, "missing");
  isolate::note_reading(obj);
  hid_t id = H5Oopen(h_.id(), obj.c_str(), H5P_DEFAULT);
  if (id < 0) fail(obj, "cannot open object (corrupt file?)" + error_detail());
  H5I_type_t t = H5Iget_type(id);
  return Handle(id, t == H5I_DATASET ? Handle::Kind::Dataset : t == H5I_GROUP ? Handle::Kind::Group : Handle::Kind::Datatype);
}

bool File::is_group(const std::string& obj) const {
  if (!exists(obj)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name2(h_.id(), obj.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

bool File::is_dataset(const std::string& obj) const {
  if (!exists(obj)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name2(h_.id(), obj.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_DATASET;
}

std::vector<std::string> File::children(const std::string& group) const {
  if (!is_group(group)) fail(group, "missing group");
  Handle g(H5Gopen2(h_.id(), group.c_str(), H5P_DEFAULT), Handle::Kind::Group);
  if (!g.valid()) fail(group, "cannot open group (corrupt file?)");
  H5G_info_t info;
  if (H5Gget_info(g.id(), &info) < 0) fail(group, "cannot list group (corrupt file?)" + error_detail());
  if (info.nlinks > kMaxLinks) fail(group, "declares " + std::to_string(info.nlinks) + " members (limit " + std::to_string(kMaxLinks) + ")");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail(group, "cannot read link names (corrupt file?)" + error_detail());
    if (static_cast<std::size_t>(n) > kMaxStringBytes) fail(group, "link name of " + std::to_string(n) + " bytes");
    std::string name(static_cast<std::size_t>(n), '\0');
    H5Lget_name_by_idx(g.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void File::make_group(const std::string& obj) {
  if (exists(obj)) return;
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), Handle::Kind::Plist);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  Handle g(H5Gcreate2(h_.id(), obj.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), Handle::Kind::Group);
  if (!g.valid()) fail(obj, "cannot create group");
}

std::vector<std::string> File::attr_names(const std::string& obj) const {
  Handle o = open_object(obj);
  H5O_info_t info;
  if (H5Oget_info2(o.id(), &info, H5O_INFO_NUM_ATTRS) < 0) fail(obj, "cannot read object header (corrupt file?)" + error_detail());
  if (info.num_attrs > kMaxAttrs) fail(obj, "declares " + std::to_string(info.num_attrs) + " attributes (limit " + std::to_string(kMaxAttrs) + ")");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t n = H5Aget_name_by_idx(o.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail(obj, "cannot read attribute names (corrupt file?)" + error_detail());
    if (static_cast<std::size_t>(n) > kMaxStringBytes) fail(obj, "attribute name of " + std::to_string(n) + " bytes");
    std::string name(static_cast<std::size_t>(n), '\0');
    if (H5Aget_name_by_idx(o.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT) < 0)
      fail(obj, "cannot read attribute names (corrupt file?)" + error_detail());
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool File::has_attr(const std::string& obj, const std::string& name) const {
  if (!exists(obj)) return false;
  isolate::note_reading(obj + "@" + name);
  return H5Aexists_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::optional<std::string> File::attr_string_opt(const std::string& obj, const std::string& name) const {
  if (!has_attr(obj, name)) return std::nullopt;
  return attr_string(obj, name);
}
std::optional<std::int64_t> File::attr_int_opt(const std::string& obj, const std::string& name) const {
  if (!has_attr(obj, name)) return std::nullopt;
  return attr_int(obj, name);
}

std::string File::attr_string(const std::string& obj, const std::string& name) const {
  const std::string where = obj + "@" + name;
  if (!has_attr(obj, name)) fail(where, "missing attribute");
  Handle a(H5Aopen_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), Handle::Kind::Attribute);
  if (!a.valid()) fail(where, "cannot open attribute");
  Handle t(H5Aget_type(a.id()), Handle::Kind::Datatype);
  if (H5Tget_class(t.id()) != H5T_STRING) fail(where, "expected a string attribute");
  Handle sp(H5Aget_space(a.id()), Handle::Kind::Dataspace);
  if (H5Sget_simple_extent_npoints(sp.id()) != 1) fail(where, "expected a scalar string attribute");
  if (H5Tis_variable_str(t.id()) > 0) {
    // h5py writes Python str attributes as variable-length UTF-8.
    Handle mt(H5Tcopy(H5T_C_S1), Handle::Kind::Datatype);
    H5Tset_size(mt.id(), H5T_VARIABLE);
    H5Tset_cset(mt.id(), H5Tget_cset(t.id()));
    char* buf = nullptr;
    if (H5Aread(a.id(), mt.id(), &buf) < 0) fail(where, "cannot read string attribute" + error_detail());
    std::string s = buf ? std::string(buf, strnlen(buf, kMaxStringBytes + 1)) : "";
    H5free_memory(buf);
    if (s.size() > kMaxStringBytes) fail(where, "string attribute longer than 1 MiB");
    return s;
  }
  std::size_t n = H5Tget_size(t.id());
  if (n == 0 || n > kMaxStringBytes) fail(where, "fixed-length string attribute of " + std::to_string(n) + " bytes (limit 1 MiB)");
  std::string s(n, '\0');
  Handle mt(H5Tcopy(H5T_C_S1), Handle::Kind::Datatype);
  H5Tset_size(mt.id(), n);
  H5Tset_strpad(mt.id(), H5T_STR_NULLPAD);
  if (H5Aread(a.id(), mt.id(), s.data()) < 0) fail(where, "cannot read string attribute");
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  return s;
}

std::int64_t File::attr_int(const std::string& obj, const std::string& name) const {
  const std::string where = obj + "@" + name;
  if (!has_attr(obj, name)) fail(where, "missing attribute");
  Handle a(H5Aopen_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), Handle::Kind::Attribute);
  if (!a.valid()) fail(where, "cannot open attribute" + error_detail());
  Handle t(H5Aget_type(a.id()), Handle::Kind::Datatype);
  H5T_class_t c = H5Tget_class(t.id());
  Handle sp(H5Aget_space(a.id()), Handle::Kind::Dataspace);
  if (H5Sget_simple_extent_npoints(sp.id()) != 1) fail(where, "expected a scalar attribute");
  if (c == H5T_INTEGER) {
    std::int64_t v = 0;
    if (H5Aread(a.id(), H5T_NATIVE_INT64, &v) < 0) fail(where, "cannot read integer attribute");
    return v;
  }
  if (c == H5T_ENUM) {  // h5py writes numpy bool as an enum of int8
    std::int8_t v = 0;
    if (H5Aread(a.id(), H5T_NATIVE_INT8, &v) < 0) fail(where, "cannot read boolean attribute");
    return v;
  }
  fail(where, "expected an integer attribute");
}

double File::attr_double(const std::string& obj, const std::string& name) const {
  const std::string where = obj + "@" + name;
  if (!has_attr(obj, name)) fail(where, "missing attribute");
  Handle a(H5Aopen_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), Handle::Kind::Attribute);
  if (!a.valid()) fail(where, "cannot open attribute" + error_detail());
  Handle t(H5Aget_type(a.id()), Handle::Kind::Datatype);
  H5T_class_t c = H5Tget_class(t.id());
  Handle sp(H5Aget_space(a.id()), Handle::Kind::Dataspace);
  if (H5Sget_simple_extent_npoints(sp.id()) != 1) fail(where, "expected a scalar attribute");
  if (c != H5T_FLOAT && c != H5T_INTEGER) fail(where, "expected a numeric attribute");
  double v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v) < 0) fail(where, "cannot read numeric attribute");
  return v;
}

void File::set_attr(const std::string& obj, const std::string& name, const std::string& v) {
  Handle t(H5Tcopy(H5T_C_S1), Handle::Kind::Datatype);
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  Handle sp(H5Screate(H5S_SCALAR), Handle::Kind::Dataspace);
  if (has_attr(obj, name)) H5Adelete_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(h_.id(), obj.c_str(), name.c_str(), t.id(), sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           Handle::Kind::Attribute);
  const char* p = v.c_str();
  if (!a.valid() || H5Awrite(a.id(), t.id(), &p) < 0) fail(obj + "@" + name, "cannot write attribute");
}

void File::set_attr(const std::string& obj, const std::string& name, std::int64_t v) {
  Handle sp(H5Screate(H5S_SCALAR), Handle::Kind::Dataspace);
  if (has_attr(obj, name)) H5Adelete_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(h_.id(), obj.c_str(), name.c_str(), H5T_STD_I64LE, sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           Handle::Kind::Attribute);
  if (!a.valid() || H5Awrite(a.id(), H5T_NATIVE_INT64, &v) < 0) fail(obj + "@" + name, "cannot write attribute");
}

void File::set_attr(const std::string& obj, const std::string& name, double v) {
  Handle sp(H5Screate(H5S_SCALAR), Handle::Kind::Dataspace);
  if (has_attr(obj, name)) H5Adelete_by_name(h_.id(), obj.c_str(), name.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(h_.id(), obj.c_str(), name.c_str(), H5T_IEEE_F64LE, sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           Handle::Kind::Attribute);
  if (!a.valid() || H5Awrite(a.id(), H5T_NATIVE_DOUBLE, &v) < 0) fail(obj + "@" + name, "cannot write attribute");
}

Handle File::open_dataset(const std::string& ds) const {
  if (!exists(ds)) fail(ds, "missing dataset");
  if (!is_dataset(ds)) fail(ds, "expected a dataset, found a group");
  isolate::note_reading(ds);
  Handle d(H5Dopen2(h_.id(), ds.c_str(), H5P_DEFAULT), Handle::Kind::Dataset);
  if (!d.valid()) fail(ds, "cannot open dataset (corrupt file?)" + error_detail());
  return d;
}

std::vector<std::int64_t> File::shape(const std::string& ds) const {
  Handle d = open_dataset(ds);
  Handle sp(H5Dget_space(d.id()), Handle::Kind::Dataspace);
  int nd = H5Sget_simple_extent_ndims(sp.id());
  if (nd < 0 || nd > H5S_MAX_RANK) fail(ds, "cannot read dataspace (corrupt file?)" + error_detail());
  std::vector<hsize_t> dims(static_cast<std::size_t>(nd));
  if (H5Sget_simple_extent_dims(sp.id(), dims.data(), nullptr) < 0) fail(ds, "cannot read dataspace (corrupt file?)" + error_detail());
  std::vector<std::int64_t> out;
  for (auto v : dims) {
    if (v > static_cast<hsize_t>(INT64_MAX)) fail(ds, "dimension " + std::to_string(v) + " does not fit in 64 bits");
    out.push_back(static_cast<std::int64_t>(v));
  }
  checked_product(out, path_ + ":" + ds);
  return out;
}

Scalar File::scalar(const std::string& ds) const {
  Handle d = open_dataset(ds);
  Handle t(H5Dget_type(d.id()), Handle::Kind::Datatype);
  H5T_class_t c = H5Tget_class(t.id());
  std::size_t sz = H5Tget_size(t.id());
  if (c == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(t.id()) == H5T_SGN_2;
    if (is_signed && sz == 4) return Scalar::I32;
    if (is_signed && sz == 8) return Scalar::I64;
    if (!is_signed && sz == 1) return Scalar::U8;
    if (!is_signed && sz == 2) return Scalar::U16;
    fail(ds, std::string(is_signed ? "signed" : "unsigned") + " " + std::to_string(sz * 8) +
                 "-bit integers are not a stored type of trace format v1");
  }
  if (c == H5T_FLOAT) {
    if (sz == 4) return Scalar::F32;
    if (sz == 8) return Scalar::F64;
    fail(ds, std::to_string(sz * 8) + "-bit floats are not a stored type (store fp16/bf16 as uint16 with a dtype attribute)");
  }
  fail(ds, "unsupported HDF5 type class");
}

std::vector<std::uint8_t> File::read_raw(const std::string& ds, Scalar want) const {
  std::vector<std::uint8_t> out;
  read_into_impl(ds, want, [](std::size_t bytes, void* ctx) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
    v->resize(bytes);
    return static_cast<void*>(v->data());
  }, &out);
  return out;
}

void File::read_into_impl(const std::string& ds, Scalar want, void* (*alloc)(std::size_t, void*), void* ctx) const {
  Scalar got = scalar(ds);
  if (got != want) fail(ds, std::string("wrong dtype: expected ") + scalar_name(want) + ", found " + scalar_name(got));
  Handle d = open_dataset(ds);
  const std::string where = path_ + ":" + ds;
  const std::int64_t n = checked_product(shape(ds), where);
  const std::int64_t bytes = checked_mul(n, static_cast<std::int64_t>(scalar_size(want)), where);
  check_storage(ds, d.id(), bytes);
  void* buf = alloc(static_cast<std::size_t>(bytes), ctx);
  if (n > 0 && H5Dread(d.id(), native(want), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    fail(ds, "cannot read data (corrupt or truncated file)" + error_detail());
}

std::optional<RawPlan> File::plan_raw(const std::string& ds, Scalar want) const {
  Scalar got = scalar(ds);
  if (got != want) fail(ds, std::string("wrong dtype: expected ") + scalar_name(want) + ", found " + scalar_name(got));
  Handle d = open_dataset(ds);
  const std::string where = path_ + ":" + ds;
  const auto dims = shape(ds);
  const std::int64_t n = checked_product(dims, where);
  const std::int64_t bytes = checked_mul(n, static_cast<std::int64_t>(scalar_size(want)), where);
  check_storage(ds, d.id(), bytes);
  RawPlan plan;
  plan.dataset = ds;
  plan.bytes = bytes;
  if (bytes == 0 || dims.empty()) return bytes == 0 ? std::optional<RawPlan>(plan) : std::nullopt;
  Handle t(H5Dget_type(d.id()), Handle::Kind::Datatype);
  if (H5Tequal(t.id(), file_type(want)) <= 0) return std::nullopt;  // e.g. big-endian on disk: let libhdf5 convert
  Handle dcpl(H5Dget_create_plist(d.id()), Handle::Kind::Plist);
  const H5D_layout_t layout = H5Pget_layout(dcpl.id());
  const int nf = H5Pget_nfilters(dcpl.id());
  if (layout == H5D_CONTIGUOUS) {
    if (nf != 0) return std::nullopt;
    plan.chunks.push_back({static_cast<std::int64_t>(H5Dget_offset(d.id())), bytes, 0, bytes, false});
    return plan;
  }
  if (layout != H5D_CHUNKED) return std::nullopt;
  bool fletcher = false;
  if (nf > 1) return std::nullopt;
  if (nf == 1) {
    unsigned flags = 0, cd[8];
    std::size_t ncd = 8;
    unsigned cfg = 0;
    if (H5Pget_filter2(dcpl.id(), 0, &flags, &ncd, cd, 0, nullptr, &cfg) != H5Z_FILTER_FLETCHER32) return std::nullopt;
    fletcher = true;
  }
  const int rank = static_cast<int>(dims.size());
  std::vector<hsize_t> cdims(dims.size());
  if (H5Pget_chunk(dcpl.id(), rank, cdims.data()) != rank) return std::nullopt;
  std::int64_t row_bytes = static_cast<std::int64_t>(scalar_size(want));
  for (std::size_t i = 1; i < dims.size(); ++i) {
    if (static_cast<std::int64_t>(cdims[i]) != dims[i]) return std::nullopt;  // chunks must hold whole rows
    row_bytes = checked_mul(row_bytes, dims[i], where);
  }
  const std::int64_t chunk_rows = static_cast<std::int64_t>(cdims[0]);
  const std::int64_t stored = checked_mul(chunk_rows, row_bytes, where);
  Handle fs(H5Dget_space(d.id()), Handle::Kind::Dataspace);
  hsize_t nchunks = 0;
  if (H5Dget_num_chunks(d.id(), fs.id(), &nchunks) < 0) fail(ds, "cannot read the chunk index (corrupt file?)" + error_detail());
  for (hsize_t i = 0; i < nchunks; ++i) {
    haddr_t addr = 0;
    hsize_t csize = 0;
    unsigned mask = 0;
    std::vector<hsize_t> off(dims.size());
    if (H5Dget_chunk_info(d.id(), fs.id(), i, off.data(), &mask, &addr, &csize) < 0)
      fail(ds, "cannot read the chunk index (corrupt file?)" + error_detail());
    const bool f32 = fletcher && !(mask & 1u);
    if (static_cast<std::int64_t>(csize) != stored + (f32 ? 4 : 0)) return std::nullopt;
    const std::int64_t row0 = static_cast<std::int64_t>(off[0]);
    if (row0 < 0 || row0 >= dims[0] || row0 % chunk_rows) fail(ds, "chunk " + std::to_string(i) + " has an impossible offset (corrupt file?)");
    const std::int64_t rows = std::min(chunk_rows, dims[0] - row0);
    plan.chunks.push_back({static_cast<std::int64_t>(addr), stored, row0 * row_bytes, rows * row_bytes, f32});
  }
  return plan;
}

void File::check_storage(const std::string& ds, hid_t d, std::int64_t bytes) const {
  const std::string where = path_ + ":" + ds;
  require_within_budget(bytes, where, "this dataset");
  Handle dcpl(H5Dget_create_plist(d), Handle::Kind::Plist);
  if (!dcpl.valid()) fail(ds, "cannot read the dataset's storage properties (corrupt file?)" + error_detail());
  const H5D_layout_t layout = H5Pget_layout(dcpl.id());
  if (layout == H5D_VIRTUAL) fail(ds, "virtual datasets (data in other files) are not read");
  if (H5Pget_external_count(dcpl.id()) != 0) fail(ds, "external storage (data in other files) is not read");
  const int nf = H5Pget_nfilters(dcpl.id());
  if (nf < 0 || nf > 32) fail(ds, "cannot read the filter pipeline (corrupt file?)" + error_detail());
  bool compressed = false;
  for (int i = 0; i < nf; ++i) {
    unsigned flags = 0, cd[8];
    std::size_t ncd = 8;
    char name[64] = {0};
    unsigned cfg = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &ncd, cd, sizeof name, name, &cfg);
    if (id == H5Z_FILTER_DEFLATE) compressed = true;
    else if (id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      fail(ds, "filter " + std::to_string(id) + " ('" + std::string(name, strnlen(name, sizeof name)) +
                   "') is not read (moesim reads deflate, shuffle and fletcher32)");
  }
  if (bytes == 0) return;
  if (layout == H5D_COMPACT) {
    if (bytes > 65536) fail(ds, "compact dataset declares " + std::to_string(bytes) + " bytes (compact storage holds at most 64 KiB)");
    return;
  }
  if (layout == H5D_CONTIGUOUS) {
    const haddr_t off = H5Dget_offset(d);
    if (off == HADDR_UNDEF) fail(ds, "declares " + std::to_string(bytes) + " bytes but stores no data");
    if (file_size_ > 0 && (off > static_cast<haddr_t>(file_size_) || static_cast<haddr_t>(bytes) > static_cast<haddr_t>(file_size_) - off))
      fail(ds, "declares " + std::to_string(bytes) + " bytes at offset " + std::to_string(off) + ", past the end of the " +
                   std::to_string(file_size_) + "-byte file (truncated or corrupt)");
    return;
  }
  if (layout != H5D_CHUNKED) fail(ds, "unknown storage layout (corrupt file?)");
  // Chunked: every chunk must be stored, inside the file, and the total must be plausible.
  Handle fs(H5Dget_space(d), Handle::Kind::Dataspace);
  hsize_t nchunks = 0;
  if (H5Dget_num_chunks(d, fs.id(), &nchunks) < 0) fail(ds, "cannot read the chunk index (corrupt file?)" + error_detail());
  int rank = H5Sget_simple_extent_ndims(fs.id());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0))), cdims(dims.size());
  H5Sget_simple_extent_dims(fs.id(), dims.data(), nullptr);
  if (rank <= 0 || H5Pget_chunk(dcpl.id(), rank, cdims.data()) != rank) fail(ds, "cannot read the chunk shape (corrupt file?)" + error_detail());
  std::int64_t want_chunks = 1;
  std::int64_t chunk_bytes = bytes / std::max<std::int64_t>(1, checked_product(std::vector<std::int64_t>(dims.begin(), dims.end()), where));
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (cdims[i] == 0) fail(ds, "zero chunk dimension (corrupt file?)");
    if (cdims[i] > static_cast<hsize_t>(INT64_MAX)) fail(ds, "chunk dimension does not fit in 64 bits (corrupt file?)");
    want_chunks = checked_mul(want_chunks, static_cast<std::int64_t>((dims[i] + cdims[i] - 1) / cdims[i]), where);
    chunk_bytes = checked_mul(chunk_bytes, static_cast<std::int64_t>(cdims[i]), where);
  }
  // libhdf5 allocates one whole chunk per read: a chunk far larger than the dataset is hostile.
  require_within_budget(chunk_bytes, where, "one chunk of this dataset");
  if (chunk_bytes > 8 * std::max<std::int64_t>(bytes, 65536))
    fail(ds, "chunk of " + std::to_string(chunk_bytes) + " bytes for a dataset of " + std::to_string(bytes) + " bytes (corrupt file?)");
  if (static_cast<std::int64_t>(nchunks) != want_chunks)
    fail(ds, "stores " + std::to_string(nchunks) + " of its " + std::to_string(want_chunks) + " chunks (missing data)");
  std::int64_t stored = 0;
  for (hsize_t i = 0; i < nchunks; ++i) {
    haddr_t addr = 0;
    hsize_t csize = 0;
    unsigned mask = 0;
    std::vector<hsize_t> off(dims.size());
    if (H5Dget_chunk_info(d, fs.id(), i, off.data(), &mask, &addr, &csize) < 0)
      fail(ds, "cannot read the chunk index (corrupt file?)" + error_detail());
    if (file_size_ > 0 && (addr > static_cast<haddr_t>(file_size_) || csize > static_cast<hsize_t>(file_size_) - addr))
      fail(ds, "chunk " + std::to_string(i) + " lies past the end of the file (truncated or corrupt)");
    stored = checked_add(stored, static_cast<std::int64_t>(csize), where);
  }
  if (compressed ? bytes / kMaxDeflateRatio > stored : stored < bytes)
    fail(ds, "declares " + std::to_string(bytes) + " bytes but stores only " + std::to_string(stored) +
                 (compressed ? " compressed bytes (beyond any deflate ratio)" : " bytes"));
}

std::vector<std::uint8_t> File::read_rows(const std::string& ds, Scalar want, std::int64_t first, std::int64_t count) const {
  Scalar got = scalar(ds);
  if (got != want) fail(ds, std::string("wrong dtype: expected ") + scalar_name(want) + ", found " + scalar_name(got));
  auto dims = shape(ds);
  if (dims.empty()) fail(ds, "expected at least one dimension");
  if (first < 0 || count < 0 || count > dims[0] || first > dims[0] - count)
    fail(ds, "row range [" + std::to_string(first) + ", " + std::to_string(first + count) + ") outside dimension 0 of size " +
                 std::to_string(dims[0]));
  Handle d = open_dataset(ds);
  Handle fs(H5Dget_space(d.id()), Handle::Kind::Dataspace);
  std::vector<hsize_t> start(dims.size(), 0), cnt(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(first);
  cnt[0] = static_cast<hsize_t>(count);
  H5Sselect_hyperslab(fs.id(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr);
  Handle ms(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), Handle::Kind::Dataspace);
  const std::string where = path_ + ":" + ds;
  const std::vector<std::int64_t> cnt64(cnt.begin(), cnt.end());
  const std::int64_t n = checked_product(cnt64, where);
  const std::int64_t bytes = checked_mul(n, static_cast<std::int64_t>(scalar_size(want)), where);
  require_within_budget(bytes, where, "these rows");
  std::vector<std::uint8_t> out(static_cast<std::size_t>(bytes));
  if (n > 0 && H5Dread(d.id(), native(want), ms.id(), fs.id(), H5P_DEFAULT, out.data()) < 0)
    fail(ds, "cannot read rows (corrupt or truncated file)" + error_detail());
  return out;
}

void File::create_dataset(const std::string& ds, Scalar s, const std::vector<std::int64_t>& shape,
                          const std::vector<std::int64_t>& chunk_dims, int gzip) {
  auto slash = ds.rfind('/');
  if (slash != std::string::npos && slash > 0) make_group(ds.substr(0, slash));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle sp(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), Handle::Kind::Dataspace);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), Handle::Kind::Plist);
  if (!chunk_dims.empty()) {
    std::vector<hsize_t> ch(chunk_dims.begin(), chunk_dims.end());
    for (std::size_t i = 0; i < ch.size(); ++i) ch[i] = std::max<hsize_t>(1, std::min<hsize_t>(ch[i], dims[i] ? dims[i] : 1));
    H5Pset_chunk(dcpl.id(), static_cast<int>(ch.size()), ch.data());
    if (gzip > 0) H5Pset_deflate(dcpl.id(), static_cast<unsigned>(gzip));
    H5Pset_fletcher32(dcpl.id());  // every chunk carries a checksum, verified on read
  }
  Handle d(H5Dcreate2(h_.id(), ds.c_str(), file_type(s), sp.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT), Handle::Kind::Dataset);
  if (!d.valid()) fail(ds, "cannot create dataset");
}

void File::write(const std::string& ds, Scalar s, const std::vector<std::int64_t>& shape, const void* data,
                 const std::vector<std::int64_t>& chunk_dims, int gzip) {
  create_dataset(ds, s, shape, chunk_dims, gzip);
  std::int64_t n = 1;
  for (auto v : shape) n *= v;
  if (n == 0) return;
  Handle d = open_dataset(ds);
  if (H5Dwrite(d.id(), native(s), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) fail(ds, "cannot write dataset");
}

void File::write_rows(const std::string& ds, Scalar s, std::int64_t first, std::int64_t count, const void* data) {
  auto dims = shape(ds);
  Handle d = open_dataset(ds);
  Handle fs(H5Dget_space(d.id()), Handle::Kind::Dataspace);
  std::vector<hsize_t> start(dims.size(), 0), cnt(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(first);
  cnt[0] = static_cast<hsize_t>(count);
  H5Sselect_hyperslab(fs.id(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr);
  Handle ms(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), Handle::Kind::Dataspace);
  if (H5Dwrite(d.id(), native(s), ms.id(), fs.id(), H5P_DEFAULT, data) < 0) fail(ds, "cannot write rows");
}

}  // namespace moesim::h5
