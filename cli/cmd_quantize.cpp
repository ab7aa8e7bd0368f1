// moesim quantize: quantizes one HDF5 dataset under a named library rule and writes packed
// values, scales (with their layout tag) and the global scale to a new HDF5 file.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "sim/core/bits.hpp"
#include "sim/core/atomic_file.hpp"
#include "sim/core/checked.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"
#include "sim/formats/fast.hpp"
#include "sim/formats/semantics.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/mx.hpp"
#include "sim/quant/nvfp4.hpp"
#include "traces/h5.hpp"

namespace moesim::cli {
namespace {

constexpr const char* kUsage =
    "quantize IN.h5 OUT.h5 --dataset PATH --format nvfp4|mx|fp8 [options]\n\n"
    "Quantizes the 2-D dataset PATH of IN.h5 (f32, or u16 with dtype attribute bf16/fp16; leading\n"
    "dimensions of N-d data are flattened into rows) and writes OUT.h5 with /data, /scales and\n"
    "(nvfp4) /global_scale. Attributes name the format, rule, dtype and scale layout tag.\n\n"
    "  nvfp4 rules: vllm-kernel (default), flashinfer-te-exact, te-ref, torchao, torchao-single-level, modelopt;\n"
    "               4-over-6: te-4over6[-mse][-fp16err][-e448], flashinfer-4over6[-exact][-mse][-fp16err][-e256]\n"
    "  mx rules:    ocp-floor (default), rceil, even, flashinfer-roundup, vllm-exp-trunc; --elem e2m1|e4m3|e5m2\n"
    "  fp8:         --granularity per-tensor|per-token|group-1x128|block-128x128, --cast NAME\n"
    "  layouts:     linear (default), swizzled_128x4, swizzled_8x4, trtllm_r128c4, trtllm_r8c4, trtllm_r8c16";

struct Input {
  std::vector<float> x;
  std::int64_t rows = 0, cols = 0;
  std::string dtype;
};

Input read_input(const std::string& path, const std::string& ds) {
  h5::File f = h5::File::open_read(path);
  const std::string where = path + ":" + ds;
  if (!f.is_dataset(ds)) throw InputError(where, "no such dataset");
  const auto shape = f.shape(ds);
  if (shape.size() < 2) throw InputError(where, "expected a 2-D (or higher) dataset, got rank " + std::to_string(shape.size()));
  Input in;
  in.cols = shape.back();
  in.rows = checked_product(std::vector<std::int64_t>(shape.begin(), shape.end() - 1), where);
  const h5::Scalar s = f.scalar(ds);
  if (s == h5::Scalar::F32) {
    in.dtype = "f32";
    in.x = f.read<float>(ds, h5::Scalar::F32);
  } else if (s == h5::Scalar::U16) {
    in.dtype = f.attr_string_opt(ds, "dtype").value_or("");
    if (in.dtype != "bf16" && in.dtype != "fp16")
      throw InputError(where, "u16 data needs a dtype attribute 'bf16' or 'fp16' (got '" + in.dtype + "')");
    const auto raw = f.read<std::uint16_t>(ds, h5::Scalar::U16);
    in.x.resize(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i)
      in.x[i] = in.dtype == "bf16" ? fmt::fast::bf16_to_f32(raw[i]) : static_cast<float>(fmt::to_double(fmt::kFP16, raw[i]));
  } else {
    throw InputError(where, std::string("unsupported element type ") + h5::scalar_name(s) + " (want f32, or u16 bf16/fp16)");
  }
  for (std::size_t i = 0; i < in.x.size(); ++i)
    if (!std::isfinite(in.x[i]))
      throw InputError(where, "non-finite value at flat index " + std::to_string(i) + " (row " + std::to_string(i / in.cols) +
                                  "); quantizer rules are undefined there");
  return in;
}

// The isolated reader's half (runs in the pool's worker): the validated floats, encoded.
void quantize_input_reader(const std::string& path, const std::string& ds, isolate::Sink& sink) {
  const Input in = read_input(path, ds);
  const std::size_t n = 3 * sizeof(std::int64_t) + in.dtype.size() + in.x.size() * sizeof(float);
  std::uint8_t* p = sink.allocate(n);
  const std::int64_t head[3] = {in.rows, in.cols, static_cast<std::int64_t>(in.dtype.size())};
  std::memcpy(p, head, sizeof head);
  std::memcpy(p + sizeof head, in.dtype.data(), in.dtype.size());
  if (!in.x.empty()) std::memcpy(p + sizeof head + in.dtype.size(), in.x.data(), in.x.size() * sizeof(float));
}
[[maybe_unused]] const bool kRegistered = isolate::register_handler("quantize-input", quantize_input_reader);

// The input is untrusted: parse it in the isolated reader (sim/core/isolate.hpp) and take
// back only the validated floats.
Input read_input_isolated(const std::string& path, const std::string& ds) {
  const isolate::Result r = isolate::run(path, "quantize-input", ds);
  note_input(path);
  Input in;
  std::int64_t head[3];
  if (r.size() < sizeof head) throw std::runtime_error("isolated reader returned a short buffer");
  std::memcpy(head, r.data(), sizeof head);
  const std::size_t body = r.size() - sizeof head;
  if (head[2] < 0 || static_cast<std::size_t>(head[2]) > body || (body - static_cast<std::size_t>(head[2])) % sizeof(float))
    throw std::runtime_error("isolated reader returned a malformed buffer");
  in.rows = head[0], in.cols = head[1];
  in.dtype.assign(reinterpret_cast<const char*>(r.data()) + sizeof head, static_cast<std::size_t>(head[2]));
  in.x.resize((body - static_cast<std::size_t>(head[2])) / sizeof(float));
  if (!in.x.empty()) std::memcpy(in.x.data(), r.data() + sizeof head + head[2], in.x.size() * sizeof(float));
  return in;
}

int run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string in_path, out_path, dataset, format, rule, layout = "linear", elem = "e2m1", gran = "per-tensor",
                                                    cast = "cvt.rn.satfinite.e4m3x2.f32", gs_arg = "auto";
  int block = 0;
  opts.add_options()("input", po::value(&in_path)->required(), "input HDF5 file")(
      "output", po::value(&out_path)->required(), "output HDF5 file (overwritten)")(
      "dataset,d", po::value(&dataset)->required(), "dataset path in the input file")(
      "format,f", po::value(&format)->required(), "nvfp4 | mx | fp8")("rule,r", po::value(&rule), "quantizer rule (see above)")(
      "layout,l", po::value(&layout), "scale layout tag for nvfp4/mx scales")("elem", po::value(&elem), "mx element: e2m1, e4m3, e5m2")(
      "block", po::value(&block), "mx block size (32, or 16 for vllm-exp-trunc; default 32)")(
      "granularity", po::value(&gran), "fp8 granularity")("cast", po::value(&cast), "fp8 element cast (named fmt cast)")(
      "global-scale", po::value(&gs_arg),
      "nvfp4/mx global scale as the rule's API takes it: 'auto' (from the tensor amax, per tensor) or a number");
  po::positional_options_description pos;
  pos.add("input", 1).add("output", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, kUsage)) return kExitOk;

  const Input in = read_input_isolated(in_path, dataset);
  const std::string src = in_path + ":" + dataset;
  const float amax = quant::amax_abs(in.x.data(), static_cast<std::int64_t>(in.x.size()));
  auto parse_gs = [&](float from_amax) {
    if (gs_arg == "auto") return from_amax;
    try {
      std::size_t used = 0;
      const float v = std::stof(gs_arg, &used);
      if (used != gs_arg.size() || !std::isfinite(v)) throw std::invalid_argument("x");
      return v;
    } catch (const std::exception&) {
      throw InputError("--global-scale", "'" + gs_arg + "' is neither 'auto' nor a finite number");
    }
  };

  h5::File out = h5::File::create(out_path);
  out.set_attr("/", "format", format);
  out.set_attr("/", "source", src);
  out.set_attr("/", "source_dtype", in.dtype);
  out.set_attr("/", "moesim_version", std::string(MOESIM_VERSION));
  const std::vector<std::int64_t> shape{in.rows, in.cols};
  out.set_attr("/", "rows", in.rows);
  out.set_attr("/", "cols", in.cols);

  if (format == "nvfp4") {
    const quant::Nvfp4Rule r = quant::parse_nvfp4_rule(rule.empty() ? "vllm-kernel" : rule);
    const quant::SfLayout l = quant::parse_layout(layout);
    if (in.cols % 16) throw InputError(src, "cols=" + std::to_string(in.cols) + " is not a multiple of the NVFP4 block 16");
    const float g = parse_gs(quant::global_scale_from_amax(r, amax));
    const quant::GlobalScale gs{quant::GlobalScale::Shape::PerTensor, {g}, {}};
    const auto q = quant::quantize_nvfp4(in.x.data(), in.rows, in.cols, gs, r);
    const std::int64_t sc = in.cols / 16;
    const auto laid = quant::sf_to_layout(q.scales.data(), in.rows, sc, l);
    out.set_attr("/", "rule", std::string(quant::nvfp4_rule_name(r)));
    out.write("/data", h5::Scalar::U8, {in.rows, in.cols / 2}, q.packed.data());
    out.set_attr("/data", "dtype", std::string("e2m1x2"));
    out.write("/scales", h5::Scalar::U8, {static_cast<std::int64_t>(laid.size())}, laid.data());
    out.set_attr("/scales", "dtype", std::string("fp8_e4m3fn"));
    out.set_attr("/scales", "layout", std::string(quant::layout_tag(l)));
    out.set_attr("/scales", "logical_rows", in.rows);
    out.set_attr("/scales", "logical_cols", sc);
    out.write("/global_scale", h5::Scalar::F32, {1}, &g);
    out.set_attr("/global_scale", "semantics", quant::nvfp4_global_scale_semantics(r));
    std::printf("%s: nvfp4 %s, %lldx%lld, amax %g, global scale %g, scales %s -> %s\n", src.c_str(),
                std::string(quant::nvfp4_rule_name(r)).c_str(), static_cast<long long>(in.rows), static_cast<long long>(in.cols),
                amax, g, std::string(quant::layout_tag(l)).c_str(), out_path.c_str());
  } else if (format == "mx") {
    const quant::MxScaleRule r = quant::parse_mx_rule(rule.empty() ? "ocp-floor" : rule);
    const quant::MxElem e = quant::parse_mx_elem(elem);
    const quant::SfLayout l = quant::parse_layout(layout);
    const int b = block ? block : 32;
    const float g = r == quant::MxScaleRule::VllmExpTrunc ? parse_gs(2688.0f / amax) : 1.0f;
    const auto q = quant::quantize_mx(in.x.data(), in.rows, in.cols, e, r, b, g);
    const std::int64_t sc = in.cols / b;
    const auto laid = quant::sf_to_layout(q.scales.data(), in.rows, sc, l);
    out.set_attr("/", "rule", std::string(quant::mx_rule_name(r)));
    out.set_attr("/", "block", static_cast<std::int64_t>(b));
    const bool fp4 = e == quant::MxElem::E2M1;
    out.write("/data", h5::Scalar::U8, {in.rows, fp4 ? in.cols / 2 : in.cols}, q.data.data());
    out.set_attr("/data", "dtype", std::string(fp4 ? "e2m1x2" : (e == quant::MxElem::E4M3 ? "fp8_e4m3fn" : "fp8_e5m2")));
    out.write("/scales", h5::Scalar::U8, {static_cast<std::int64_t>(laid.size())}, laid.data());
    out.set_attr("/scales", "dtype", std::string("ue8m0"));
    out.set_attr("/scales", "layout", std::string(quant::layout_tag(l)));
    out.set_attr("/scales", "logical_rows", in.rows);
    out.set_attr("/scales", "logical_cols", sc);
    if (r == quant::MxScaleRule::VllmExpTrunc) out.write("/global_scale", h5::Scalar::F32, {1}, &g);
    std::printf("%s: mx %s %s block %d, %lldx%lld, scales %s -> %s\n", src.c_str(), std::string(quant::mx_rule_name(r)).c_str(),
                std::string(quant::mx_elem_name(e)).c_str(), b, static_cast<long long>(in.rows), static_cast<long long>(in.cols),
                std::string(quant::layout_tag(l)).c_str(), out_path.c_str());
  } else if (format == "fp8") {
    const quant::Fp8Granularity g = quant::parse_fp8_granularity(gran);
    const auto q = quant::quantize_fp8(in.x.data(), in.rows, in.cols, g, cast);
    out.set_attr("/", "rule", std::string(quant::fp8_granularity_name(g)));
    out.set_attr("/", "cast", cast);
    out.write("/data", h5::Scalar::U8, shape, q.data.data());
    out.set_attr("/data", "dtype", std::string("fp8_e4m3fn"));
    out.write("/scales", h5::Scalar::F32, {q.scale_rows, q.scale_cols}, q.scales.data());
    out.set_attr("/scales", "dtype", std::string("f32"));
    out.set_attr("/scales", "semantics", std::string("decode: x ~ q * scale"));
    std::printf("%s: fp8 %s, %lldx%lld, scales [%lld, %lld] -> %s\n", src.c_str(), std::string(quant::fp8_granularity_name(g)).c_str(),
                static_cast<long long>(in.rows), static_cast<long long>(in.cols), static_cast<long long>(q.scale_rows),
                static_cast<long long>(q.scale_cols), out_path.c_str());
  } else {
    throw InputError("--format", "unknown format '" + format + "' (known: nvfp4, mx, fp8)");
  }
  out.commit();  // the output appears (renamed into place) only now, complete
  return kExitOk;
}

const Registrar reg("quantize", "quantize an HDF5 tensor under a named NVFP4/MX/FP8 library rule", run);

}  // namespace
}  // namespace moesim::cli
