#include "traces/import/flashinfer_dump.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

#include "models/lib/json_node.hpp"
#include "sim/core/bits.hpp"
#include "sim/core/error.hpp"
#include "traces/import/fi_moe_table.hpp"
#include "traces/import/pt_convert.hpp"
#include "traces/import/safetensors.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces::import {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

using EntryPoint = FiEntryPoint;
using Table = FiMoeTable;

// The last non-empty JSON line of a metadata.jsonl (FI _read_jsonl_last_record).
json::object last_record(const fs::path& p, std::size_t* records) {
  std::ifstream in(p);
  if (!in) throw InputError(p.string(), "cannot open");
  std::string line, last;
  std::size_t n = 0, lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) throw InputError(p.string() + ":" + std::to_string(lineno), "not a JSON object record");
    last = line;
    ++n;
  }
  if (n == 0) throw InputError(p.string(), "empty metadata.jsonl");
  *records = n;
  return json::parse(last).as_object();
}

// Positional parameter names from str(inspect.signature(f)): "(a: T, b: Optional[T] = None, *, c=1) -> R".
std::vector<std::string> signature_params(const std::string& sig) {
  std::vector<std::string> out;
  const auto open = sig.find('(');
  if (open == std::string::npos) return out;
  int depth = 0;
  std::string cur;
  bool kwonly = false;
  auto flush = [&] {
    std::string name = cur.substr(0, cur.find_first_of(":="));
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name == "*" || name.rfind("*", 0) == 0) kwonly = true;
    else if (!name.empty() && name != "/" && name != "self" && !kwonly) out.push_back(name);
    cur.clear();
  };
  for (std::size_t i = open + 1; i < sig.size(); ++i) {
    const char c = sig[i];
    if (c == '[' || c == '(' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == ')') {
      if (depth == 0) {
        flush();
        return out;
      }
      --depth;
    }
    if (c == '\'' || c == '"') {  // default string values
      const auto e = sig.find(c, i + 1);
      if (e == std::string::npos) return {};
      cur += sig.substr(i, e - i + 1);
      i = e;
      continue;
    }
    if (c == ',' && depth == 0) flush();
    else cur.push_back(c);
  }
  return {};
}

struct Call {
  fs::path dir;
  json::object rec;
  std::size_t records = 0;
  const EntryPoint* ep = nullptr;
  std::vector<std::string> params;
  std::unique_ptr<SafetensorsFile> in, out;
  PtConverted pt_in, pt_out;
  std::string where(const std::string& key) const { return (dir / (in ? fs::path(in->path()).filename() : "inputs")).string() + ":" + key; }
  // Key of parameter `name` in the dump: kwarg_<name>, or arg_<i> by its signature position.
  std::string key(const std::string& name, const std::string& nested = "") const {
    const std::string kw = "kwarg_" + name + nested;
    if (in && in->has(kw)) return kw;
    const auto& meta = rec.at("input_metadata").as_object();
    if (meta.contains("kwarg_" + name)) return kw;
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i] == name) return "arg_" + std::to_string(i) + nested;
    return kw;
  }
  bool has_tensor(const std::string& name, const std::string& nested = "") const { return in && in->has(key(name, nested)); }
  const json::value* meta(const std::string& name) const {
    const auto& m = rec.at("input_metadata").as_object();
    const std::string k = key(name);
    return m.if_contains(k);
  }
  std::optional<double> number(const std::string& name) const {
    const json::value* v = meta(name);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    if (v->is_double()) return v->as_double();
    if (v->is_bool()) return v->as_bool() ? 1.0 : 0.0;
    if (v->is_object() && v->as_object().contains("value") && v->as_object().at("value").is_number())
      return v->as_object().at("value").to_number<double>();
    throw InputError((dir / "metadata.jsonl").string() + ":/input_metadata/" + key(name), "expected a number");
  }
};

void open_tensors(Call& c, const FlashinferDumpRequest& req) {
  auto open = [&](const std::string& stem, std::unique_ptr<SafetensorsFile>& f, PtConverted& conv) {
    const fs::path st = c.dir / (stem + ".safetensors"), pt = c.dir / (stem + ".pt");
    if (fs::exists(pt)) {  // torch.save zip+pickle, FlashInfer's default format
      conv = convert_pt(req.python, req.source_dir, pt.string(), false);
      f = std::make_unique<SafetensorsFile>(conv.safetensors);
    } else if (fs::exists(st)) {
      f = std::make_unique<SafetensorsFile>(st.string());
    }
  };
  open("inputs", c.in, c.pt_in);
  open("outputs", c.out, c.pt_out);
}

std::vector<fs::path> call_dirs(const std::string& input) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  const fs::path p(input);
  auto add = [&](const fs::path& d) {
    dirs.push_back(d);
    const fs::path gf = d / "graph_flushes";
    if (fs::is_directory(gf, ec)) {
      std::vector<fs::path> fl;
      for (const auto& e : fs::directory_iterator(gf, ec))
        if (fs::exists(e.path() / "metadata.jsonl", ec)) fl.push_back(e.path());
      std::sort(fl.begin(), fl.end());
      dirs.insert(dirs.end(), fl.begin(), fl.end());
    }
  };
  if (fs::is_regular_file(p, ec) && p.filename() == "session.jsonl") {
    // Records name their dump_dir as the recording host saw it; resolve by basename here.
    std::ifstream in(p);
    std::string line;
    std::vector<std::string> seen;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      boost::system::error_code jec;
      auto v = json::parse(line, jec);
      if (jec || !v.is_object() || !v.as_object().contains("dump_dir") || !v.as_object().at("dump_dir").is_string())
        throw InputError(p.string() + ":" + std::to_string(lineno), "record without a dump_dir string");
      const std::string base = fs::path(std::string(v.as_object().at("dump_dir").as_string())).filename().string();
      if (std::find(seen.begin(), seen.end(), base) == seen.end()) seen.push_back(base);
    }
    for (const auto& b : seen) {
      if (b.empty() || b == "." || b == "..") throw InputError(p.string(), "dump_dir '" + b + "' is not a call directory name");
      if (!fs::exists(p.parent_path() / b / "metadata.jsonl", ec)) throw InputError((p.parent_path() / b).string(), "call directory of session.jsonl missing");
      add(p.parent_path() / b);
    }
    return dirs;
  }
  if (!fs::is_directory(p, ec)) throw InputError(input, "not a FlashInfer dump directory or session.jsonl");
  if (fs::exists(p / "metadata.jsonl", ec)) {
    add(p);
    return dirs;
  }
  std::vector<fs::path> sub;
  for (const auto& e : fs::directory_iterator(p, ec))
    if (e.is_directory() && fs::exists(e.path() / "metadata.jsonl", ec)) sub.push_back(e.path());
  std::sort(sub.begin(), sub.end());
  for (const auto& d : sub) add(d);
  if (dirs.empty()) throw InputError(input, "no call directories (*/metadata.jsonl) in this dump");
  return dirs;
}

std::vector<std::int32_t> as_ids(const SafetensorsFile& f, const std::string& key, std::int64_t T, std::int64_t K, const std::string& where) {
  const auto& t = f.info(key);
  if (t.shape != std::vector<std::int64_t>{T, K}) throw InputError(where, "shape mismatch for routing ids");
  const auto b = f.read(key);
  std::vector<std::int32_t> out(static_cast<std::size_t>(T * K));
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::int64_t v;
    if (t.dtype == "I32") { std::int32_t x; std::memcpy(&x, b.data() + 4 * i, 4); v = x; }
    else if (t.dtype == "I64") { std::memcpy(&v, b.data() + 8 * i, 8); }
    else if (t.dtype == "I16") { std::int16_t x; std::memcpy(&x, b.data() + 2 * i, 2); v = x; }
    else throw InputError(where, "routing ids dtype " + t.dtype + ", expected I32, I64 or I16");
    if (v < INT32_MIN || v > INT32_MAX) throw InputError(where, "expert id out of int32 range at flat index " + std::to_string(i));
    out[i] = static_cast<std::int32_t>(v);
  }
  return out;
}

}  // namespace

ImportResult import_flashinfer_dump(const FlashinferDumpRequest& req) {
  const Table table = load_fi_moe_table(req.models_dir);
  ImportResult res;
  res.kind = "flashinfer-dump";
  res.inputs = {req.input};
  Trace tr;
  std::string fi_version, device = req.device;
  if (device.empty() && !req.log.empty()) {
    std::ifstream lg(req.log);
    if (!lg) throw InputError(req.log, "cannot open");
    std::string line;
    while (std::getline(lg, line)) {
      const auto p = line.find("Compute capability:");
      const auto s = line.find("(SM");
      if (p != std::string::npos && s != std::string::npos) {
        const auto e = line.find(')', s);
        std::string sm = line.substr(s + 3, e == std::string::npos ? std::string::npos : e - s - 3);
        std::transform(sm.begin(), sm.end(), sm.begin(), ::tolower);
        device = "sm" + sm;
        break;
      }
    }
    if (device.empty()) throw InputError(req.log, "no \"Compute capability: X.Y (SMxy)\" line (FlashInfer API logging system information)");
  }
  std::vector<std::string> skipped;
  int crashed = 0;
  for (const auto& d : call_dirs(req.input)) {
    Call c;
    c.dir = d;
    c.rec = last_record(d / "metadata.jsonl", &c.records);
    const std::string meta_where = (d / "metadata.jsonl").string();
    if (!c.rec.contains("function_name") || !c.rec.at("function_name").is_string()) throw InputError(meta_where, "record has no function_name");
    if (!c.rec.contains("input_metadata") || !c.rec.at("input_metadata").is_object()) throw InputError(meta_where, "record has no input_metadata object");
    const std::string fn(c.rec.at("function_name").as_string());
    for (const auto& e : table.eps)
      if (e.name == fn) c.ep = &e;
    if (!c.ep) {
      for (const auto& [n, why] : table.not_modelled)
        if (n == fn) throw InputError(meta_where, "FlashInfer entry point " + fn + " is not modelled by the importer yet (" + why + ")");
      skipped.push_back(fn);
      continue;
    }
    if (const auto* v = c.rec.if_contains("versions"); v && v->is_object())
      if (const auto* f = v->as_object().if_contains("flashinfer"); f && f->is_string() && f->as_string() != "<unavailable>") {
        const std::string ver(f->as_string());
        if (!fi_version.empty() && fi_version != ver) throw InputError(meta_where, "FlashInfer version " + ver + " differs from an earlier call's " + fi_version);
        fi_version = ver;
      }
    if (const auto* s = c.rec.if_contains("function_signature"); s && s->is_string()) c.params = signature_params(std::string(s->as_string()));
    if (c.params.empty()) c.params = c.ep->params;
    open_tensors(c, req);
    const std::string status = c.rec.contains("execution_status") && c.rec.at("execution_status").is_string()
                                   ? std::string(c.rec.at("execution_status").as_string()) : "";
    bool exported = false;  // written by moesim export: "inputs_saved" because it never ran, not a crash
    if (const auto* v = c.rec.if_contains("versions"); v && v->is_object()) exported = v->as_object().contains("exported_by");
    const bool is_crash = status != "completed" && !c.out && !exported;
    if (!c.in && fs::is_directory(d / "graph_flushes")) {
      res.notes.push_back(d.filename().string() + ": CUDA-graph capture record; its graph_flushes snapshots are the calls");
      continue;
    }
    if (!c.in) {
      if (c.rec.contains("graph_capture") && c.rec.at("graph_capture").is_bool() && c.rec.at("graph_capture").as_bool())
        throw InputError(d.string(), "CUDA-graph capture record without tensors: import its graph_flushes/flush_NNNN snapshots");
      throw InputError(d.string(), "no inputs.safetensors or inputs.pt");
    }
    // ---- shapes ----
    const SafetensorsFile& in = *c.in;
    const std::string hk = c.key(c.ep->hidden);
    if (!in.has(hk)) throw InputError(c.where(hk), "missing the " + c.ep->hidden + " tensor");
    const auto& hi = in.info(hk);
    if (hi.shape.size() != 2) throw InputError(c.where(hk), "expected [tokens, hidden]");
    const std::int64_t T = hi.shape[0];
    const bool fp4_act = hi.dtype == "U8";
    const std::int64_t H = hi.shape[1] * (fp4_act ? 2 : 1);
    const std::string w1k = c.key(c.ep->w1), w2k = c.key(c.ep->w2);
    if (!in.has(w1k) || !in.has(w2k)) throw InputError(c.where(in.has(w1k) ? w2k : w1k), "missing expert weights tensor");
    const auto& w1 = in.info(w1k);
    const auto& w2 = in.info(w2k);
    if (w1.shape.size() != 3 || w2.shape.size() != 3) throw InputError(c.where(w1k), "expert weights must be [experts, rows, cols]");
    const bool packed = w1.dtype == "U8";
    const std::int64_t E_local = w1.shape[0];
    const std::int64_t E = static_cast<std::int64_t>(c.number("num_experts").value_or(static_cast<double>(E_local)));
    std::int64_t I = static_cast<std::int64_t>(c.number("intermediate_size").value_or(static_cast<double>(w2.shape[2] * (packed ? 2 : 1))));
    const int act = static_cast<int>(c.number("activation_type").value_or(3));
    bool gated = act != 6;
    if (act != 3 && act != 6) throw InputError(c.where("activation_type"), "ActivationType " + std::to_string(act) + " not modelled (3 Swiglu, 6 Relu2)");
    if (w1.shape[1] != (gated ? 2 * I : I)) throw InputError(c.where(w1k), "rows " + std::to_string(w1.shape[1]) + " do not match intermediate_size " + std::to_string(I));
    // ---- routing ----
    MoeCall call;
    call.num_tokens = T;
    std::int64_t K = 0;
    if (c.ep->routing == "selected" || c.ep->routing == "routed") {
      const bool tuple = c.ep->routing == "routed" && c.has_tensor(c.ep->ids, "__0");
      const std::string ik = tuple ? c.key(c.ep->ids, "__0") : c.key(c.ep->ids);
      if (!in.has(ik)) throw InputError(c.where(ik), "missing routing tensor " + c.ep->ids);
      const auto& ii = in.info(ik);
      if (ii.shape.size() != 2 || ii.shape[0] != T) throw InputError(c.where(ik), "expected [tokens, top_k] routing ids");
      K = ii.shape[1];
      if (c.ep->routing == "routed" && !tuple) {
        // Packed (expert_id << 16) | bf16 weight bits (FI core.py:6299-6306).
        if (ii.dtype != "I32") throw InputError(c.where(ik), "packed topk_ids must be I32, got " + ii.dtype);
        const auto b = in.read(ik);
        call.topk_ids.resize(static_cast<std::size_t>(T * K));
        call.topk_weights.resize(call.topk_ids.size());
        for (std::size_t i = 0; i < call.topk_ids.size(); ++i) {
          std::uint32_t u;
          std::memcpy(&u, b.data() + 4 * i, 4);
          call.topk_ids[i] = static_cast<std::int16_t>(u >> 16);
          call.topk_weights[i] = bf16_bits_to_f32(static_cast<std::uint16_t>(u & 0xFFFF));
        }
        call.attrs["source"] = "flashinfer dump: packed topk_ids (id << 16 | bf16 weight)";
      } else {
        call.topk_ids = as_ids(in, ik, T, K, c.where(ik));
        const std::string wk = tuple ? c.key(c.ep->ids, "__1") : c.key(c.ep->weights);
        if (!in.has(wk)) throw InputError(c.where(wk), "missing routing weights");
        if (in.info(wk).shape != std::vector<std::int64_t>{T, K}) throw InputError(c.where(wk), "routing weights must be [tokens, top_k]");
        const auto wv = as_doubles(in.read(wk), in.info(wk).dtype, c.where(wk));
        call.topk_weights.assign(wv.begin(), wv.end());
        call.attrs["source"] = tuple ? "flashinfer dump: (topk_ids, topk_weights) tuple" : "flashinfer dump: token_selected_experts, token_final_scales";
      }
    } else {
      const std::string lk = c.key("routing_logits");
      if (!in.has(lk)) throw InputError(c.where(lk), "missing routing_logits");
      const auto& li = in.info(lk);
      if (li.shape != std::vector<std::int64_t>{T, E}) throw InputError(c.where(lk), "routing_logits must be [tokens, num_experts]");
      K = static_cast<std::int64_t>(c.number("top_k").value_or(0));
      if (K <= 0 || K > E) throw InputError(meta_where + ":/input_metadata/" + c.key("top_k"), "top_k missing or outside [1, num_experts]");
      const int method = static_cast<int>(c.number("routing_method_type").value_or(0));
      if (c.has_tensor("routing_bias")) throw InputError(c.where(c.key("routing_bias")), "routing with a routing_bias is not recomputed by the importer");
      const auto lv = as_doubles(in.read(lk), li.dtype, c.where(lk));
      recompute_routing(lv, T, E, K, method, c.where(lk), call.topk_ids, call.topk_weights);
      Tensor rl{"f32", {T, E}, std::vector<std::uint8_t>(static_cast<std::size_t>(T * E) * 4), "linear"};
      for (std::size_t i = 0; i < lv.size(); ++i) {
        const float f = static_cast<float>(lv[i]);
        std::memcpy(rl.bytes.data() + 4 * i, &f, 4);
      }
      call.router_logits = std::move(rl);
      call.attrs["source"] = recomputed_source(table, method);
    }
    const std::int64_t offset = static_cast<std::int64_t>(c.number("local_expert_offset").value_or(0));
    if (c.ep->routing != "selected" && offset != 0) res.notes.push_back(d.filename().string() + ": local_expert_offset " + std::to_string(offset) + " (EP rank): ids are global");
    // ---- activations and golden output ----
    if (hi.dtype == "BF16") {
      call.hidden_states = QTensor{Tensor{"bf16", {T, H}, in.read(hk), "linear"}, std::nullopt, std::nullopt};
    } else {
      res.notes.push_back(d.filename().string() + ": " + c.ep->hidden + " is " + hi.dtype + " (quantized by the caller): not imported, its scale layout as passed is not modelled");
    }
    if (c.out) {
      // A tensor return is "result", a tuple's first item "result_0", a list's "result__0" (api_logging.py:963-979).
      const std::string rk = c.out->has("result") ? "result" : c.out->has("result_0") ? "result_0" : c.out->has("result__0") ? "result__0" : "";
      if (!rk.empty() && c.out->info(rk).dtype == "BF16" && c.out->info(rk).shape == std::vector<std::int64_t>{T, H})
        call.golden_output = QTensor{Tensor{"bf16", {T, H}, c.out->read(rk), "linear"}, std::nullopt, std::nullopt};
      else if (!rk.empty())
        res.notes.push_back(d.filename().string() + ": output " + rk + " is not bf16 [tokens, hidden]; not imported as golden");
    }
    call.attrs["kernel"] = fn;
    call.attrs["capture"] = "flashinfer api_logging level 10: " + d.filename().string();
    call.attrs["execution_status"] = status;
    if (is_crash) {
      call.attrs["crashed"] = "1";
      ++crashed;
      res.notes.push_back("crash point: " + d.filename().string() + " (" + fn + ") has no completion record and no outputs: the call crashed or hung here");
    }
    // ---- model (all calls must agree) ----
    ModelShape m;
    m.name = "flashinfer-dump";
    m.num_experts = E;
    m.top_k = K;
    m.hidden = H;
    m.intermediate = I;
    m.activation = gated ? "silu" : "relu2";
    m.gated = gated;
    const bool has_w1s = c.has_tensor("gemm1_weights_scale");
    m.quant = w1.dtype == "BF16" ? "bf16"
              : w1.dtype == "F8_E4M3" ? (has_w1s ? "fp8_block128" : "fp8_per_tensor")
              : packed && has_w1s && in.info(c.key("gemm1_weights_scale")).dtype == "U8" ? "mxfp4" : "nvfp4";
    if (fn.find("mxint4") != std::string::npos) m.quant = "mxint4";
    const bool shuffled = c.ep->name != "cutlass_fused_moe" && c.number("use_shuffled_weight").value_or(1.0) != 0.0;
    m.weight_layout = "linear";  // weights are imported only when linear (shuffled ones are skipped with a note)
    if (tr.calls.empty()) {
      tr.model = m;
      tr.context.backend = c.ep->variant;
    } else if (tr.model.num_experts != m.num_experts || tr.model.top_k != m.top_k || tr.model.hidden != m.hidden ||
               tr.model.intermediate != m.intermediate || tr.model.quant != m.quant) {
      throw InputError(d.string(), "call shape differs from the first call's (one trace holds calls of one layer shape); import this call directory alone");
    }
    // ---- weights: linear bf16 only (W31 -> [gate; up]) ----
    if (tr.calls.empty()) {
      if (w1.dtype == "BF16" && !shuffled && c.number("weight_layout").value_or(0) == 0 && E_local == E) {
        res.weights = true;
        res.inputs.push_back(c.in->path());
        tr.attrs["weights_from"] = d.filename().string();  // read again, one expert at a time, when writing
        tr.calls.push_back(std::move(call));
      } else {
        res.notes.push_back("weights not imported: " + std::string(w1.dtype) + (shuffled ? " in the shuffled trtllm-gen layout (use_shuffled_weight)" : "") +
                            (E_local != E ? " for " + std::to_string(E_local) + " local of " + std::to_string(E) + " experts" : "") +
                            "; only linear BF16 W31 weights are modelled");
        tr.calls.push_back(std::move(call));
      }
    } else {
      tr.calls.push_back(std::move(call));
    }
    res.tokens += T;
  }
  if (tr.calls.empty())
    throw InputError(req.input, "no fused-MoE calls in this dump" + std::string(skipped.empty() ? "" : " (other functions: " + skipped.front() + ", ...)"));
  if (!skipped.empty()) res.notes.push_back(std::to_string(skipped.size()) + " non-MoE call(s) skipped (e.g. " + skipped.front() + ")");
  tr.context.flashinfer_version = fi_version;
  tr.context.device = device;
  if (device.empty()) res.notes.push_back("device unknown: the dump records only cuda:N (FlashInfer logs the GPU to FLASHINFER_LOGDEST); pass --device or --log");
  if (tr.attrs.find("created_by") == tr.attrs.end()) tr.attrs["created_by"] = std::string("moesim import flashinfer-dump ") + MOESIM_VERSION;
  tr.attrs["source"] = "flashinfer-dump:" + req.input + (crashed ? " (crash point)" : "");
  // Weights from the first call directory, one expert at a time.
  const bool weights = res.weights;
  const std::string wdir = weights ? tr.attrs["weights_from"] : "";
  write_atomically(tr, req.output, res.inputs, [&](const std::string& tmp) {
    if (!weights) return;
    Call c;
    for (const auto& d : call_dirs(req.input))
      if (d.filename() == wdir) c.dir = d;
    c.rec = last_record(c.dir / "metadata.jsonl", &c.records);
    for (const auto& e : table.eps)
      if (e.name == std::string(c.rec.at("function_name").as_string())) c.ep = &e;
    if (const auto* s = c.rec.if_contains("function_signature"); s && s->is_string()) c.params = signature_params(std::string(s->as_string()));
    if (c.params.empty()) c.params = c.ep->params;
    open_tensors(c, req);
    const std::string k1 = c.key(c.ep->w1), k2 = c.key(c.ep->w2);
    WeightsInfo info;
    info.present = true;
    info.dtype = "bf16";
    WeightWriter ww(tmp, tr.model, info);
    const std::int64_t E = tr.model.num_experts, I = tr.model.intermediate, H = tr.model.hidden;
    const std::int64_t n1 = tr.model.gated ? 2 * I : I;
    if (c.in->info(k1).shape != std::vector<std::int64_t>{E, n1, H}) throw InputError(c.where(k1), "expected [E, N1, hidden] bf16 weights");
    if (c.in->info(k2).shape != std::vector<std::int64_t>{E, H, I}) throw InputError(c.where(k2), "expected [E, hidden, intermediate] bf16 weights");
    for (std::int64_t e = 0; e < E; ++e) {
      ExpertWeights a, b;
      a.w.dtype = b.w.dtype = "bf16";
      auto raw = c.in->read_rows(k1, e, 1);
      for (std::size_t i = 0; i + 1 < raw.size(); i += 2)
        if ((raw[i + 1] & 0x7F) == 0x7F && (raw[i] & 0x80)) throw InputError(c.where(k1), "non-finite weight in expert " + std::to_string(e));
      if (tr.model.gated) w31_rows_to_w13(raw);
      a.w.bytes = std::move(raw);
      b.w.bytes = c.in->read_rows(k2, e, 1);
      ww.write("w13", e, a);
      ww.write("w2", e, b);
    }
  });
  res.output = req.output;
  res.model = tr.model;
  res.calls = tr.calls.size();
  if (res.weights) res.notes.push_back(kW31Note);
  return res;
}

ExportResult export_flashinfer_dump(const FlashinferExportRequest& req) {
  if (req.function != "cutlass_fused_moe")
    throw InputError("--function " + req.function, "export writes cutlass_fused_moe calls (linear bf16 W31 weights, explicit routing); other entry points need "
                                                   "shuffled or quantized layouts the exporter does not model");
  const Table table = load_fi_moe_table(req.models_dir);
  const EntryPoint* ep = nullptr;
  for (const auto& e : table.eps)
    if (e.name == req.function) ep = &e;
  const Trace t = read_trace(req.trace);
  if (t.model.quant != "bf16" || !t.weights.present || t.weights.dtype != "bf16")
    throw InputError(req.trace + ":/weights", "export needs bf16 weights (trace quant " + t.model.quant + ")");
  if (!t.model.gated || t.model.activation != "silu") throw InputError(req.trace + ":/model", "export writes Swiglu (gated silu) calls only");
  std::error_code ec;
  if (fs::exists(req.output_dir, ec) && !fs::is_empty(req.output_dir, ec)) throw InputError(req.output_dir, "output directory exists and is not empty");
  const std::string tmp_root = req.output_dir + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp_root, ec);
  fs::create_directories(tmp_root, ec);
  if (ec) throw InputError(tmp_root, "cannot create: " + ec.message());
  ExportResult res;
  res.output_dir = req.output_dir;
  const std::int64_t E = t.model.num_experts, H = t.model.hidden, I = t.model.intermediate, K = t.model.top_k;
  // Weights stacked [E, 2I, H] in W31 order (FlashInfer's), [E, H, I]: one copy for all calls.
  WeightReader wr(req.trace);
  std::vector<std::uint8_t> w1, w2;
  for (std::int64_t e = 0; e < E; ++e) {
    auto a = wr.read("w13", e).w.bytes;
    const std::size_t half = a.size() / 2;
    w1.insert(w1.end(), a.begin() + static_cast<std::ptrdiff_t>(half), a.end());
    w1.insert(w1.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(half));
    auto b = wr.read("w2", e).w.bytes;
    w2.insert(w2.end(), b.begin(), b.end());
  }
  const std::string version = t.context.flashinfer_version.empty() ? "<unavailable>" : t.context.flashinfer_version;
  std::string sig = "(";
  for (std::size_t i = 0; i < ep->params.size(); ++i) sig += (i ? ", " : "") + ep->params[i];
  sig += ")";
  std::ofstream session(tmp_root + "/session.jsonl");
  for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
    const MoeCall& c = t.calls[ci];
    if (!c.has_routing() || !c.hidden_states || c.hidden_states->data.dtype != "bf16")
      throw InputError(req.trace + ":/calls/" + std::to_string(ci), "export needs routing (topk_ids/weights) and bf16 hidden_states");
    char seq[24];
    std::snprintf(seq, sizeof seq, "%04zu", ci + 1);
    const std::string name = "19700101_000000_000_pid0_" + req.function + "_call" + seq;
    const std::string dir = tmp_root + "/" + name;
    fs::create_directories(dir, ec);
    const std::int64_t T = c.num_tokens;
    std::vector<StTensorOut> ts{
        {"kwarg_input", "BF16", {T, H}, c.hidden_states->data.bytes.data(), c.hidden_states->data.bytes.size()},
        {"kwarg_token_selected_experts", "I32", {T, K}, reinterpret_cast<const std::uint8_t*>(c.topk_ids.data()), c.topk_ids.size() * 4},
        {"kwarg_token_final_scales", "F32", {T, K}, reinterpret_cast<const std::uint8_t*>(c.topk_weights.data()), c.topk_weights.size() * 4},
        {"kwarg_fc1_expert_weights", "BF16", {E, 2 * I, H}, w1.data(), w1.size()},
        {"kwarg_fc2_expert_weights", "BF16", {E, H, I}, w2.data(), w2.size()},
    };
    write_safetensors(dir + "/inputs.safetensors", ts);
    json::object details;
    auto stride = [](const std::vector<std::int64_t>& s) {
      json::array a;
      std::int64_t st = 1;
      std::vector<std::int64_t> v(s.size());
      for (std::size_t i = s.size(); i-- > 0;) v[i] = st, st *= s[i];
      for (auto x : v) a.push_back(x);
      return a;
    };
    static const std::map<std::string, std::string> torch_dt{{"BF16", "torch.bfloat16"}, {"I32", "torch.int32"}, {"F32", "torch.float32"}};
    json::array keys;
    std::uint64_t in_bytes = 0;
    for (const auto& x : ts) {
      json::array shape;
      for (auto d : x.shape) shape.push_back(d);
      details[x.name] = {{"shape", shape}, {"dtype", torch_dt.at(x.dtype)}, {"stride", stride(x.shape)}, {"device", "cuda:0"}};
      keys.push_back(json::value(x.name));
      in_bytes += x.size;
    }
    json::object rec{
        {"function_name", req.function},
        {"module", table.module},
        {"call_sequence", static_cast<std::int64_t>(ci + 1)},
        {"timestamp", "19700101_000000_000"},
        {"process_id", 0},
        {"input_metadata", {{"kwarg_output_dtype", {{"type", "torch.dtype"}, {"value", "torch.bfloat16"}}},
                            {"kwarg_quant_scales", {{"type", "list"}, {"length", 0}, {"items", json::array()}, {"truncated", false}}}}},
        {"output_metadata", json::object()},
        {"tensor_info", {{"input_tensor_keys", keys}, {"output_tensor_keys", json::array()}, {"input_size_bytes", in_bytes},
                         {"input_size_mb", static_cast<double>(in_bytes) / (1024.0 * 1024.0)}}},
        {"tensor_details", details},
        {"tensor_format", "safetensors"},
        {"function_signature", sig},
        {"versions", {{"flashinfer", version}, {"exported_by", std::string("moesim ") + MOESIM_VERSION}}},
        {"execution_status", "inputs_saved"},
        {"graph_capture", false},
        {"dump_dir", req.output_dir + "/" + name},
    };
    std::ofstream meta(dir + "/metadata.jsonl");
    meta << json::serialize(rec) << "\n";
    session << json::serialize(rec) << "\n";
    if (c.golden_output && c.golden_output->data.dtype == "bf16") {
      write_safetensors(dir + "/outputs.safetensors", {{"result", "BF16", {T, H}, c.golden_output->data.bytes.data(), c.golden_output->data.bytes.size()}});
      rec["execution_status"] = "completed";
      rec["tensor_info"].as_object()["output_tensor_keys"] = json::array{"result"};
      rec["tensor_details"].as_object()["result"] = {{"shape", {T, H}}, {"dtype", "torch.bfloat16"}, {"stride", {H, 1}}, {"device", "cuda:0"}};
      meta << json::serialize(rec) << "\n";
      session << json::serialize(rec) << "\n";
    }
    res.call_dirs.push_back(name);
  }
  session.close();
  fs::remove(req.output_dir, ec);  // an empty directory may stand in the way of the rename
  fs::rename(tmp_root, req.output_dir, ec);
  if (ec) {
    fs::remove_all(tmp_root, ec);
    throw InputError(req.output_dir, "cannot move the finished dump into place");
  }
  res.notes.push_back("function_signature lists parameter names only (not inspect.signature's types); tensors are passed as kwarg_* as vLLM does");
  res.notes.push_back("gemm1 weights written W31 ([up; gate]); replay on a GPU: flashinfer replay --dir " + req.output_dir);
  return res;
}

}  // namespace moesim::traces::import
