#include "traces/weights.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <cstring>
#include <mutex>
#include <optional>

#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "traces/dtypes.hpp"
#include "traces/h5.hpp"
#include "traces/trace_io.hpp"

namespace moesim::traces {

namespace {
std::string ds_name(const std::string& which, const std::string& where, std::int64_t layer) {
  if (which != "w13" && which != "w2") throw InputError(where, "unknown weight '" + which + "' (expected w13 or w2)");
  return weights_group(layer) + "/" + which;
}

// NaN/Inf in a weight tensor is bad input: it would silently poison every diff.
void check_finite(const h5::File& f, const std::string& ds, std::int64_t expert, const Tensor& t) {
  const std::size_t n = static_cast<std::size_t>(t.numel());
  auto report = [&](std::size_t i) {
    f.fail(ds, "non-finite weight in expert " + std::to_string(expert) + " at flat index " + std::to_string(i));
  };
  if (t.dtype == "bf16") {
    const auto* p = reinterpret_cast<const std::uint16_t*>(t.bytes.data());
    for (std::size_t i = 0; i < n; ++i)
      if ((p[i] & 0x7F80u) == 0x7F80u) report(i);
  } else if (t.dtype == "fp16") {
    const auto* p = reinterpret_cast<const std::uint16_t*>(t.bytes.data());
    for (std::size_t i = 0; i < n; ++i)
      if ((p[i] & 0x7C00u) == 0x7C00u) report(i);
  } else if (t.dtype == "f32") {
    const auto* p = reinterpret_cast<const float*>(t.bytes.data());
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) report(i);
  } else if (t.dtype == "fp8_e4m3fn") {
    for (std::size_t i = 0; i < n; ++i)
      if ((t.bytes[i] & 0x7Fu) == 0x7Fu) report(i);
  } else if (t.dtype == "fp8_e5m2") {
    for (std::size_t i = 0; i < n; ++i)
      if ((t.bytes[i] & 0x7Cu) == 0x7Cu) report(i);
  }
}
}  // namespace

struct WeightReader::Impl {
  h5::File file;
  WeightsInfo info;
  std::int64_t layer = -1;
  mutable std::mutex mu;  // HDF5 (serial build) is not thread-safe
};

namespace {
struct Identity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  long long mtime_ns = 0;
  bool operator==(const Identity&) const = default;
};
Identity identity(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw InputError(path, "no such file");
  return {st.st_dev, st.st_ino, st.st_size, static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}
}  // namespace

WeightReader::WeightReader(const std::string& path, std::int64_t layer) {
  // The isolated reader validates the whole file and reads every weight row once under its
  // limits; the in-process reads below then touch only metadata and chunks it has already
  // parsed. The file must be the same one (device, inode, size, mtime) as the one checked.
  const Identity before = identity(path);
  ReadOptions opt;
  opt.load_activations = false;
  opt.verify_weights = true;
  if (layer >= 0) opt.verify_layers = std::set<std::int64_t>{layer};
  Trace t = read_trace(path, opt);
  if (t.multi_layer() && layer < 0)
    throw InputError(path + ":/layers", "multi-layer trace: weights are per layer (/layers/LLLL/weights); name the layer");
  if (!t.multi_layer() && layer >= 0)
    throw InputError(path + ":/layers", "single-layer trace: no /layers/" + std::to_string(layer) + " (its weights are /weights)");
  if (layer >= 0 && std::none_of(t.layers.begin(), t.layers.end(), [&](const LayerInfo& l) { return l.index == layer; }))
    throw InputError(path + ":" + layer_group(layer), "no such layer in this trace");
  if (!t.weights.present) throw InputError(path + ":" + weights_group(layer), "trace has no weights (needed for numeric replay)");
  h5::File f = h5::File::open_read(path);
  if (!(identity(path) == before)) throw InputError(path, "file changed while it was being read; not reading it in-process");
  impl_ = std::unique_ptr<Impl>(new Impl{std::move(f), t.weights, layer, {}});
}

WeightReader::~WeightReader() = default;

const WeightsInfo& WeightReader::info() const { return impl_->info; }

ExpertWeights WeightReader::read(const std::string& which, std::int64_t expert) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const h5::File& f = impl_->file;
  const std::string ds = ds_name(which, f.path(), impl_->layer);
  auto shape = f.shape(ds);
  if (expert < 0 || expert >= shape[0])
    f.fail(ds, "expert " + std::to_string(expert) + " out of range [0, " + std::to_string(shape[0]) + ")");
  ExpertWeights w;
  const DtypeInfo& info = dtype_info(impl_->info.dtype, f.path() + ":" + ds);
  w.w.dtype = impl_->info.dtype;
  w.w.shape.assign(shape.begin() + 1, shape.end());
  w.w.bytes = f.read_rows(ds, info.storage, expert, 1);
  check_finite(f, ds, expert, w.w);
  if (f.exists(ds + "_scale")) {
    Tensor s;
    auto sshape = f.shape(ds + "_scale");
    h5::Scalar st = f.scalar(ds + "_scale");
    s.dtype = f.attr_string_opt(ds + "_scale", "dtype").value_or(default_dtype(st));
    s.layout = f.attr_string_opt(ds + "_scale", "layout").value_or("linear");
    s.shape.assign(sshape.begin() + 1, sshape.end());
    s.bytes = f.read_rows(ds + "_scale", st, expert, 1);
    check_finite(f, ds + "_scale", expert, s);
    w.scale = std::move(s);
  }
  if (f.exists(ds + "_global_scale")) {
    auto g = f.read<float>(ds + "_global_scale", h5::Scalar::F32);
    if (static_cast<std::int64_t>(g.size()) <= expert) f.fail(ds + "_global_scale", "fewer entries than experts");
    if (!std::isfinite(g[static_cast<std::size_t>(expert)]))
      f.fail(ds + "_global_scale", "non-finite global scale for expert " + std::to_string(expert));
    w.global_scale = g[static_cast<std::size_t>(expert)];
  }
  if (impl_->info.has_biases) {  // f32 [E, N]: one row per expert (shape checked by the reader)
    const std::string bn = ds + "_bias";
    const auto bytes = f.read_rows(bn, h5::Scalar::F32, expert, 1);
    std::vector<float> b(bytes.size() / 4);
    std::memcpy(b.data(), bytes.data(), b.size() * 4);
    if (static_cast<std::int64_t>(b.size()) != w.w.shape.at(0))
      f.fail(bn, "expected " + std::to_string(w.w.shape.at(0)) + " bias values per expert, got " + std::to_string(b.size()));
    for (std::size_t i = 0; i < b.size(); ++i)
      if (!std::isfinite(b[i])) f.fail(bn, "non-finite bias in expert " + std::to_string(expert) + " at index " + std::to_string(i));
    w.bias = std::move(b);
  }
  return w;
}

struct WeightWriter::Impl {
  std::optional<h5::File> own;
  h5::File* file;
  WeightsInfo info;
  std::int64_t layer = -1;
};

WeightWriter::WeightWriter(const std::string& path, const ModelShape& model, const WeightsInfo& info,
                           std::vector<std::int64_t> w13_scale_shape, std::vector<std::int64_t> w2_scale_shape,
                           std::int64_t layer) {
  auto impl = std::unique_ptr<Impl>(new Impl{h5::File::open_append(path), nullptr, info, layer});
  impl->file = &*impl->own;
  impl_ = std::move(impl);
  create(model, info, w13_scale_shape, w2_scale_shape);
}

WeightWriter::WeightWriter(h5::File& file, const ModelShape& model, const WeightsInfo& info,
                           std::vector<std::int64_t> w13_scale_shape, std::vector<std::int64_t> w2_scale_shape,
                           std::int64_t layer) {
  impl_ = std::unique_ptr<Impl>(new Impl{std::nullopt, &file, info, layer});
  create(model, info, w13_scale_shape, w2_scale_shape);
}

void WeightWriter::create(const ModelShape& model, const WeightsInfo& info, const std::vector<std::int64_t>& w13_scale_shape,
                          const std::vector<std::int64_t>& w2_scale_shape) {
  h5::File& f = *impl_->file;
  const std::string& path = f.path();
  const std::string g = weights_group(impl_->layer);
  const DtypeInfo& d = dtype_info(info.dtype, path + ":" + g);
  const std::int64_t per = d.elems_per_storage;
  const std::int64_t n1 = model.gated ? 2 * model.intermediate : model.intermediate;
  const std::vector<std::int64_t> s13{model.num_experts, n1, model.hidden / per}, s2{model.num_experts, model.hidden, model.intermediate / per};
  // One chunk per expert: reading expert e reads exactly one chunk (HDF5 caps chunks at 4 GiB).
  f.create_dataset(g + "/w13", d.storage, s13, {1, s13[1], s13[2]});
  f.create_dataset(g + "/w2", d.storage, s2, {1, s2[1], s2[2]});
  f.set_attr(g + "/w13", "dtype", info.dtype);
  f.set_attr(g + "/w2", "dtype", info.dtype);
  if (info.has_scales) {
    const DtypeInfo& sd = dtype_info(info.scale_dtype, path + ":" + g);
    std::vector<std::int64_t> a{model.num_experts}, b{model.num_experts};
    a.insert(a.end(), w13_scale_shape.begin(), w13_scale_shape.end());
    b.insert(b.end(), w2_scale_shape.begin(), w2_scale_shape.end());
    std::vector<std::int64_t> ca = a, cb = b;
    ca[0] = cb[0] = 1;
    f.create_dataset(g + "/w13_scale", sd.storage, a, ca);
    f.create_dataset(g + "/w2_scale", sd.storage, b, cb);
    for (const std::string& n : {g + "/w13_scale", g + "/w2_scale"}) {
      f.set_attr(n, "dtype", info.scale_dtype);
      f.set_attr(n, "layout", info.scale_layout);
    }
  }
  if (info.has_biases) {  // f32 [E, N1] and [E, H], one chunk row per expert
    f.create_dataset(g + "/w13_bias", h5::Scalar::F32, {model.num_experts, n1}, {1, n1});
    f.create_dataset(g + "/w2_bias", h5::Scalar::F32, {model.num_experts, model.hidden}, {1, model.hidden});
    f.set_attr(g + "/w13_bias", "dtype", std::string("f32"));
    f.set_attr(g + "/w2_bias", "dtype", std::string("f32"));
  }
}

WeightWriter::~WeightWriter() = default;

void WeightWriter::write(const std::string& which, std::int64_t expert, const ExpertWeights& w) {
  h5::File& f = *impl_->file;
  const std::string ds = ds_name(which, f.path(), impl_->layer);
  f.write_rows(ds, f.scalar(ds), expert, 1, w.w.bytes.data());
  if (w.scale) f.write_rows(ds + "_scale", f.scalar(ds + "_scale"), expert, 1, w.scale->bytes.data());
  if (impl_->info.has_biases) {
    const std::int64_t rows = f.shape(ds + "_bias").at(1);
    if (!w.bias || static_cast<std::int64_t>(w.bias->size()) != rows)
      throw std::logic_error("WeightWriter: " + ds + "_bias needs " + std::to_string(rows) + " values for expert " + std::to_string(expert));
    f.write_rows(ds + "_bias", h5::Scalar::F32, expert, 1, w.bias->data());
  } else if (w.bias) {
    throw std::logic_error("WeightWriter: a bias for " + ds + " but the weights were created without biases");
  }
}

void WeightWriter::write_global_scales(const std::string& which, const std::vector<float>& per_expert) {
  h5::File& f = *impl_->file;
  const std::string ds = ds_name(which, f.path(), impl_->layer) + "_global_scale";
  f.write(ds, h5::Scalar::F32, {static_cast<std::int64_t>(per_expert.size())}, per_expert.data());
  f.set_attr(ds, "dtype", std::string("f32"));
}

}  // namespace moesim::traces
