#include "traces/import/flashinfer_bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/atomic_file.hpp"
#include "sim/core/counter_gen.hpp"
#include "sim/core/error.hpp"
#include "traces/import/fi_moe_table.hpp"
#include "traces/import/safetensors.hpp"
#include "traces/trace_io.hpp"
#include "traces/weights.hpp"

namespace moesim::traces::import {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using models::Node;

struct DtypeSpec {
  std::vector<std::string> safetensors;  // "any" for FI's "unknown"
  std::string canonical;
  bool packed = false;
};

struct FibTable {
  models::Document doc;
  std::map<std::string, DtypeSpec> dtypes;
  std::vector<std::pair<std::string, std::string>> name_prefixes;
  std::vector<std::pair<std::string, int>> routing_patterns;
  std::map<std::string, std::vector<std::string>> entry_quant, quantization;
  std::string export_entry, export_name, author;
  std::vector<std::string> export_tags;
};

FibTable load_fib_table(const std::string& models_dir) {
  FibTable t;
  t.doc = models::Document::load(models_dir + "/capture/flashinfer_bench_moe.json");
  const auto r = t.doc.root();
  for (const auto& [k, n] : r.at("dtypes").members())
    t.dtypes[k] = DtypeSpec{n.at("safetensors").as_string_vector(), n.at("canonical").as_string(), n.get_bool("packed", false)};
  for (const auto& [k, n] : r.at("name_prefixes").members()) t.name_prefixes.emplace_back(k, n.as_string());
  for (const auto& [k, n] : r.at("routing_name_patterns").members()) t.routing_patterns.emplace_back(k, static_cast<int>(n.as_int()));
  for (const auto& [k, n] : r.at("entry_quant").members()) t.entry_quant[k] = n.as_string_vector();
  for (const auto& [k, n] : r.at("quantization").members()) t.quantization[k] = n.as_string_vector();
  const auto e = r.at("export");
  t.export_entry = e.at("entry_point").as_string();
  t.export_name = e.at("name").as_string();
  t.export_tags = e.at("tags").as_string_vector();
  t.author = e.at("author").as_string();
  return t;
}

std::string known_list(const std::map<std::string, DtypeSpec>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
  return s;
}

// ---------------------------------------------------------------- definition

struct InputSpec {
  std::string name, dtype;
  bool scalar = false;  // shape null
  std::vector<std::string> shape;
  bool optional = false;
  std::string where;    // file:/inputs/<name>
};

struct Definition {
  std::string file, name, op_type;
  std::map<std::string, std::int64_t> consts;
  std::vector<std::string> vars;
  std::vector<InputSpec> inputs;
  std::vector<std::string> tags, ignored_keys;
  bool has_reference = false;
  const InputSpec* input(const std::string& n) const {
    for (const auto& i : inputs)
      if (i.name == n) return &i;
    return nullptr;
  }
};

Definition parse_definition(const models::Document& doc, const FibTable& ft) {
  Definition d;
  const Node r = doc.root();
  d.file = doc.name();
  if (!r.is_object()) r.fail("a definition is a JSON object");
  d.name = r.at("name").as_string();
  if (d.name.empty()) r.at("name").fail("empty definition name");
  d.op_type = r.at("op_type").as_string();
  if (d.op_type != "moe") r.at("op_type").fail("op_type '" + d.op_type + "' is not modelled (moesim imports op_type moe)");
  static const std::set<std::string> known{"name", "op_type", "axes", "inputs", "outputs", "reference", "tags", "description", "constraints"};
  for (const auto& [k, n] : r.members())
    if (!known.count(k)) d.ignored_keys.push_back(k);
  d.has_reference = r.has("reference") && r.at("reference").is_string() && !r.at("reference").as_string().empty();
  if (auto tags = r.find("tags"); tags && !tags->is_null()) d.tags = tags->as_string_vector();
  for (const auto& [k, n] : r.at("axes").members()) {
    const std::string ty = n.at("type").as_string();
    if (ty == "const") {
      const std::int64_t v = n.at("value").as_int();
      if (v < 0) n.at("value").fail("axis value must be >= 0");
      d.consts[k] = v;
    } else if (ty == "var") {
      d.vars.push_back(k);
    } else {
      n.at("type").fail("axis type '" + ty + "' (expected const or var)");
    }
  }
  if (!r.at("outputs").is_object()) r.at("outputs").fail("expected an object");
  for (const auto& [k, n] : r.at("inputs").members()) {
    InputSpec s;
    s.name = k;
    s.where = n.where();
    s.dtype = n.at("dtype").as_string();
    if (!ft.dtypes.count(s.dtype)) n.at("dtype").fail("unknown dtype '" + s.dtype + "' (known: " + known_list(ft.dtypes) + ")");
    const Node sh = n.at("shape");
    s.scalar = sh.is_null();
    if (!s.scalar) {
      s.shape = sh.as_string_vector();
      for (std::size_t i = 0; i < s.shape.size(); ++i)
        if (!d.consts.count(s.shape[i]) && std::find(d.vars.begin(), d.vars.end(), s.shape[i]) == d.vars.end())
          sh.at(i).fail("axis '" + s.shape[i] + "' is not defined in /axes");
    }
    s.optional = n.get_bool("optional", false);
    d.inputs.push_back(std::move(s));
  }
  for (const auto& [k, n] : r.at("outputs").members())
    if (d.input(k)) n.fail("output name also names an input");
  return d;
}

// ---------------------------------------------------------------- workloads

struct Descriptor {
  std::string type;  // random | scalar | safetensors
  std::string path, key;
  std::optional<double> value;
  std::string where;
};

struct Workload {
  std::string uuid, where;
  std::map<std::string, std::int64_t> axes;
  std::map<std::string, Descriptor> inputs;
};

Workload parse_workload(const Node& line, const Definition& d) {
  Node w = line;
  if (line.has("workload")) {  // a workload Trace (solution/evaluation null), as FIB stores them
    const std::string def = line.at("definition").as_string();
    if (def != d.name) line.at("definition").fail("workload of definition '" + def + "', not of '" + d.name + "'");
    w = line.at("workload");
  }
  Workload wl;
  wl.where = w.where();
  wl.uuid = w.at("uuid").as_string();
  if (wl.uuid.empty()) w.at("uuid").fail("empty uuid");
  for (const auto& [k, n] : w.at("axes").members()) {
    if (std::find(d.vars.begin(), d.vars.end(), k) == d.vars.end()) n.fail("'" + k + "' is not a var axis of definition " + d.name);
    const std::int64_t v = n.as_int();
    if (v < 0) n.fail("axis value must be >= 0");
    wl.axes[k] = v;
  }
  for (const auto& v : d.vars)
    if (!wl.axes.count(v)) w.at("axes").fail("var axis '" + v + "' has no value");
  for (const auto& [k, n] : w.at("inputs").members()) {
    if (!d.input(k)) n.fail("'" + k + "' is not an input of definition " + d.name);
    Descriptor s;
    s.where = n.where();
    s.type = n.at("type").as_string();
    if (s.type == "safetensors") {
      s.path = n.at("path").as_string();
      s.key = n.at("tensor_key").as_string();
      if (s.path.empty() || s.key.empty()) n.fail("empty path or tensor_key");
    } else if (s.type == "scalar") {
      const Node v = n.at("value");
      if (v.raw().is_bool()) s.value = v.as_bool() ? 1.0 : 0.0;
      else s.value = v.as_double();
    } else if (s.type != "random") {
      n.at("type").fail("input descriptor type '" + s.type + "' (expected random, scalar or safetensors)");
    }
    wl.inputs[k] = std::move(s);
  }
  for (const auto& i : d.inputs)
    if (!i.optional && !wl.inputs.count(i.name)) w.at("inputs").fail("missing required input '" + i.name + "' of definition " + d.name);
  return wl;
}

// ---------------------------------------------------------------- blobs

class Blobs {
 public:
  explicit Blobs(const std::string& root) : root_(root) {
    std::error_code ec;
    canon_ = fs::weakly_canonical(fs::absolute(root_), ec);
    if (ec || !fs::is_directory(canon_)) throw InputError(root, "dataset root is not a directory");
  }
  // The file a descriptor names: relative to the root, never outside it ("../", absolute
  // paths and symlinks that leave the root are refused).
  const SafetensorsFile& open(const Descriptor& d) {
    const fs::path rel(d.path);
    if (rel.is_absolute()) throw InputError(d.where + "/path", "absolute blob path '" + d.path + "' (FIB paths are relative to the dataset root)");
    const fs::path norm = rel.lexically_normal();
    if (norm.empty() || *norm.begin() == "..") throw InputError(d.where + "/path", "blob path '" + d.path + "' escapes the dataset root " + root_);
    std::error_code ec;
    const fs::path full = fs::weakly_canonical(canon_ / norm, ec);
    const auto mismatch = std::mismatch(canon_.begin(), canon_.end(), full.begin(), full.end());
    if (ec || mismatch.first != canon_.end()) throw InputError(d.where + "/path", "blob path '" + d.path + "' resolves outside the dataset root " + root_);
    if (!fs::is_regular_file(full, ec)) throw InputError(d.where + "/path", "blob " + full.string() + " does not exist");
    auto& f = files_[full.string()];
    if (!f) f = std::make_unique<SafetensorsFile>(full.string());
    if (!f->has(d.key)) throw InputError(full.string() + ":" + d.key, "tensor_key not in the blob (" + d.where + ")");
    paths_.insert(full.string());
    return *f;
  }
  std::vector<std::string> paths() const { return {paths_.begin(), paths_.end()}; }

 private:
  std::string root_;
  fs::path canon_;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
  std::set<std::string> paths_;
};

// Shape and dtype of a blob tensor against the definition (axes bound by the workload).
const StTensorInfo& check_tensor(const SafetensorsFile& f, const Descriptor& d, const InputSpec& s, const Definition& def,
                                 const Workload& wl, const FibTable& ft) {
  const StTensorInfo& info = f.info(d.key);
  const std::string where = f.path() + ":" + d.key;
  if (s.scalar) throw InputError(where, "input '" + s.name + "' is a scalar in " + def.file + " (shape null), not a tensor");
  const DtypeSpec& ds = ft.dtypes.at(s.dtype);
  const auto& ok = ds.safetensors;
  if (std::find(ok.begin(), ok.end(), "any") == ok.end() && std::find(ok.begin(), ok.end(), info.dtype) == ok.end())
    throw InputError(where, "dtype " + info.dtype + " does not match the definition's '" + s.dtype + "' (" + s.where + "/dtype)");
  std::vector<std::int64_t> want;
  for (const auto& a : s.shape) want.push_back(def.consts.count(a) ? def.consts.at(a) : wl.axes.at(a));
  if (info.dtype == "F4" && !want.empty()) want.back() *= 2;  // F4 headers count logical values
  if (info.shape != want) {
    std::string got, exp;
    for (auto x : info.shape) got += (got.empty() ? "" : ",") + std::to_string(x);
    for (std::size_t i = 0; i < want.size(); ++i) exp += (i ? "," : "") + s.shape[i] + "=" + std::to_string(want[i]);
    throw InputError(where, "shape [" + got + "] does not match the definition's [" + exp + "] (" + s.where + "/shape)");
  }
  return info;
}

std::uint64_t hash_bytes(const void* p, std::size_t n, std::uint64_t h) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001B3ull;
  return h;
}

// A deterministic RFC-4122-shaped uuid of a call's content (routing, activations) and index, so
// export and replay --fib-trace name the same workload.
std::string call_uuid(const MoeCall& c, std::size_t index) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  h = hash_bytes(&index, sizeof index, h);
  h = hash_bytes(c.topk_ids.data(), c.topk_ids.size() * 4, h);
  h = hash_bytes(c.topk_weights.data(), c.topk_weights.size() * 4, h);
  if (c.hidden_states) h = hash_bytes(c.hidden_states->data.bytes.data(), c.hidden_states->data.bytes.size(), h);
  const std::uint64_t a = gen::mix64(h), b = gen::mix64(h ^ gen::kGolden);
  char s[40];
  std::snprintf(s, sizeof s, "%08x-%04x-8%03x-%04x-%012llx", static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>(a & 0xFFF), static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3FFF)),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

void check_exportable(const Trace& t, const std::string& where) {
  if (t.multi_layer()) throw InputError(where + ":/layers", "a FIB definition is one layer shape; export one layer (the trace is multi-layer)");
  if (t.model.quant != "bf16" || !t.weights.present || t.weights.dtype != "bf16")
    throw InputError(where + ":/weights", "flashinfer-bench export needs bf16 weights (trace quant " + t.model.quant + (t.weights.present ? "" : ", no weights") + ")");
  if (!t.model.gated || t.model.activation != "silu") throw InputError(where + ":/model", "flashinfer-bench export writes Swiglu (gated silu) definitions only");
  for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
    const MoeCall& c = t.calls[ci];
    if (!c.has_routing() || !c.hidden_states || c.hidden_states->data.dtype != "bf16")
      throw InputError(where + ":/calls/" + std::to_string(ci), "export needs routing (topk_ids/weights) and bf16 hidden_states");
    if (c.ids_masked) throw InputError(where + ":/calls/" + std::to_string(ci), "masked (-1) routing ids have no cutlass_fused_moe equivalent here");
  }
}

std::string blob_rel(const std::string& name, const std::string& uuid) { return "blob/workloads/moe/" + name + "/" + name + "_" + uuid + ".safetensors"; }

json::object workload_json(const Trace& t, std::size_t ci, const std::string& name) {
  const std::string uuid = call_uuid(t.calls[ci], ci);
  const std::string own = blob_rel(name, uuid), first = blob_rel(name, call_uuid(t.calls[0], 0));
  auto st = [](const std::string& p, const std::string& k) { return json::object{{"type", "safetensors"}, {"path", p}, {"tensor_key", k}}; };
  json::object inputs{
      {"input", st(own, "input")},
      {"token_selected_experts", st(own, "token_selected_experts")},
      {"token_final_scales", st(own, "token_final_scales")},
      {"fc1_expert_weights", st(first, "fc1_expert_weights")},
      {"fc2_expert_weights", st(first, "fc2_expert_weights")},
  };
  return json::object{{"uuid", uuid}, {"axes", {{"seq_len", t.calls[ci].num_tokens}}}, {"inputs", inputs}};
}

// Our own torch reference (FIB requires a top-level run(); AST-checked, definition.py).
const char* kReference =
    "import torch\n"
    "\n"
    "\n"
    "@torch.no_grad()\n"
    "def run(input, token_selected_experts, token_final_scales, fc1_expert_weights, fc2_expert_weights):\n"
    "    # moesim export: fp32 accumulation; fc1 rows are W31 ([up; gate]), act = silu(gate) * up.\n"
    "    x = input.to(torch.float32)\n"
    "    inter = fc2_expert_weights.shape[2]\n"
    "    out = torch.zeros_like(x)\n"
    "    for e in torch.unique(token_selected_experts).tolist():\n"
    "        tok, slot = torch.nonzero(token_selected_experts == e, as_tuple=True)\n"
    "        h = x[tok] @ fc1_expert_weights[e].to(torch.float32).t()\n"
    "        a = torch.nn.functional.silu(h[:, inter:]) * h[:, :inter]\n"
    "        y = a @ fc2_expert_weights[e].to(torch.float32).t()\n"
    "        out.index_add_(0, tok, y * token_final_scales[tok, slot].to(torch.float32).unsqueeze(1))\n"
    "    return out.to(torch.bfloat16)\n";

json::object definition_json(const ModelShape& m, const std::string& name, const FibTable& ft) {
  auto c = [](std::int64_t v, const char* d) { return json::object{{"type", "const"}, {"value", v}, {"description", d}}; };
  auto ts = [](std::initializer_list<const char*> shape, const char* dt, const char* desc) {
    json::array a;
    for (auto s : shape) a.push_back(json::value(s));
    return json::object{{"shape", a}, {"dtype", dt}, {"description", desc}};
  };
  json::array tags;
  for (const auto& t : ft.export_tags) tags.push_back(json::value(t));
  json::object axes{
      {"seq_len", {{"type", "var"}, {"description", "Number of tokens."}}},
      {"num_experts", c(m.num_experts, "Experts (all local).")},
      {"top_k", c(m.top_k, "Experts per token.")},
      {"hidden_size", c(m.hidden, "Hidden size.")},
      {"intermediate_size", c(m.intermediate, "Expert intermediate size.")},
      {"gemm1_out_size", c(2 * m.intermediate, "2 x intermediate_size (W31: [up; gate]).")},
  };
  json::object inputs{
      {"input", ts({"seq_len", "hidden_size"}, "bfloat16", "Hidden states.")},
      {"token_selected_experts", ts({"seq_len", "top_k"}, "int32", "Routed expert ids.")},
      {"token_final_scales", ts({"seq_len", "top_k"}, "float32", "Routing weights.")},
      {"fc1_expert_weights", ts({"num_experts", "gemm1_out_size", "hidden_size"}, "bfloat16", "GEMM1 weights, W31 ([up; gate]) as cutlass_fused_moe takes them.")},
      {"fc2_expert_weights", ts({"num_experts", "hidden_size", "intermediate_size"}, "bfloat16", "GEMM2 weights.")},
  };
  json::object outputs{{"output", ts({"seq_len", "hidden_size"}, "bfloat16", "MoE output.")}};
  return json::object{{"name", name},
                      {"op_type", "moe"},
                      {"description", "Swiglu MoE with explicit routing (cutlass_fused_moe), exported by moesim."},
                      {"tags", tags},
                      {"axes", axes},
                      {"inputs", inputs},
                      {"outputs", outputs},
                      {"reference", kReference}};
}

}  // namespace

// ================================================================ import

ImportResult import_flashinfer_bench(const FibImportRequest& req) {
  const FibTable ft = load_fib_table(req.models_dir);
  const FiMoeTable table = load_fi_moe_table(req.models_dir);
  ImportResult res;
  res.kind = "flashinfer-bench";
  // ---- where things are: a definition file + workloads, or a dataset root ----
  std::string def_path = req.definition, wl_path = req.workloads, root = req.dataset_root;
  std::error_code ec;
  if (fs::is_directory(def_path, ec)) {
    const fs::path r(def_path);
    std::vector<fs::path> defs;
    for (const auto& e : fs::directory_iterator(r / "definitions" / "moe", ec))
      if (e.path().extension() == ".json" && (req.name.empty() || e.path().stem() == req.name)) defs.push_back(e.path());
    if (defs.empty()) throw InputError((r / "definitions" / "moe").string(), req.name.empty() ? "no moe definitions (FIB layout definitions/moe/<name>.json)" : "no definition " + req.name + ".json");
    if (defs.size() > 1) throw InputError((r / "definitions" / "moe").string(), std::to_string(defs.size()) + " moe definitions: choose one with --name");
    def_path = defs.front().string();
    if (wl_path.empty()) wl_path = (r / "workloads" / "moe" / (defs.front().stem().string() + ".jsonl")).string();
    if (root.empty()) root = r.string();
  }
  if (wl_path.empty()) throw InputError(def_path, "no WORKLOADS.jsonl given");
  if (root.empty()) {
    // FIB layout <root>/workloads/<op_type>/<definition>.jsonl; else the workloads' directory.
    const fs::path wp = fs::absolute(wl_path).lexically_normal();
    root = wp.parent_path().parent_path().filename() == "workloads" ? wp.parent_path().parent_path().parent_path().string() : wp.parent_path().string();
  }
  res.inputs = {def_path, wl_path};
  const models::Document ddoc = models::Document::load(def_path);
  const Definition def = parse_definition(ddoc, ft);
  for (const auto& k : def.ignored_keys) res.notes.push_back(def_path + ": top-level key '" + k + "' is not FIB schema (FlashInfer fi_trace writes check/init); ignored");
  if (!def.has_reference) res.notes.push_back(def_path + ": no reference (FIB requires one; FlashInfer-emitted definitions may omit it)");
  // ---- entry point: fi_api tag, else the name prefix ----
  const Node droot = ddoc.root();
  std::string entry;
  for (std::size_t i = 0; i < def.tags.size(); ++i) {
    if (def.tags[i].rfind("fi_api:", 0) != 0) continue;
    const std::string api = def.tags[i].substr(7);
    const std::string prefix = table.module + ".";
    const std::string fn = api.rfind(prefix, 0) == 0 ? api.substr(prefix.size()) : api;
    for (const auto& [n, why] : table.not_modelled)
      if (n == fn) droot.at("tags").at(i).fail("FlashInfer entry point " + fn + " is not modelled yet (" + why + ")");
    if (!table.find(fn)) droot.at("tags").at(i).fail("fi_api " + api + " is not a fused-MoE entry point moesim models (models/capture/flashinfer_api_logging_moe.json)");
    entry = fn;
  }
  if (entry.empty())
    for (const auto& [p, fn] : ft.name_prefixes)
      if (def.name.rfind(p, 0) == 0) { entry = fn; break; }
  if (entry.empty()) droot.at("name").fail("no fi_api: tag and no known name prefix: which FlashInfer entry point this definition describes is unknown");
  const FiEntryPoint& ep = *table.find(entry);
  // ---- the model from the axes ----
  auto axis = [&](const std::string& a) -> std::int64_t {
    if (!def.consts.count(a)) droot.at("axes").fail("const axis '" + a + "' missing (needed for the model shape)");
    return def.consts.at(a);
  };
  const std::int64_t E = axis("num_experts"), H = axis("hidden_size"), I = axis("intermediate_size");
  const std::int64_t E_local = def.consts.count("num_local_experts") ? def.consts.at("num_local_experts") : E;
  std::int64_t K = def.consts.count("top_k") ? def.consts.at("top_k") : 0;
  bool gated = def.consts.count("gemm1_out_size") ? def.consts.at("gemm1_out_size") == 2 * I : true;
  if (def.consts.count("activation_type")) gated = def.consts.at("activation_type") != 6;
  if (def.consts.count("gemm1_out_size") && def.consts.at("gemm1_out_size") != (gated ? 2 * I : I))
    droot.at("axes").at("gemm1_out_size").fail("gemm1_out_size does not match intermediate_size " + std::to_string(I) + (gated ? " (gated: 2I)" : ""));
  if (E <= 0 || H <= 0 || I <= 0 || E_local <= 0 || E_local > E) droot.at("axes").fail("num_experts, num_local_experts, hidden_size, intermediate_size must be positive (local <= global)");
  // quant: the entry point's, narrowed by the quantization: tag
  std::vector<std::string> quants = ft.entry_quant.count(entry) ? ft.entry_quant.at(entry) : std::vector<std::string>{"bf16"};
  for (std::size_t i = 0; i < def.tags.size(); ++i) {
    if (def.tags[i].rfind("quantization:", 0) != 0) continue;
    const std::string q = def.tags[i].substr(13);
    if (!ft.quantization.count(q)) droot.at("tags").at(i).fail("quantization '" + q + "' is not a scheme moesim models");
    std::vector<std::string> both;
    for (const auto& x : quants)
      if (std::count(ft.quantization.at(q).begin(), ft.quantization.at(q).end(), x)) both.push_back(x);
    if (both.empty()) droot.at("tags").at(i).fail("quantization:" + q + " contradicts entry point " + entry + " (" + quants.front() + ")");
    quants = both;
  }
  // routing method: a routing_method_type scalar in the workload, else the name pattern
  int name_method = -1;
  for (const auto& [p, m] : ft.routing_patterns)
    if (def.name.find(p) != std::string::npos) { name_method = m; break; }
  // the hidden input decides packing
  const InputSpec* hs = def.input(ep.hidden);
  if (!hs) droot.at("inputs").fail("no '" + ep.hidden + "' input (entry point " + entry + ")");
  const bool packed = ft.dtypes.at(hs->dtype).packed;
  Blobs blobs(root);
  Trace tr;
  ModelShape m;
  m.name = def.name;
  m.num_experts = E;
  m.hidden = H;
  m.intermediate = I;
  m.gated = gated;
  m.activation = gated ? "silu" : "relu2";
  m.quant = quants.front();
  tr.context.backend = ep.variant;
  tr.context.device = req.device;
  // ---- workloads: one call each ----
  std::ifstream in(wl_path);
  if (!in) throw InputError(wl_path, "cannot open");
  std::string line;
  std::size_t lineno = 0;
  std::optional<std::pair<Descriptor, Descriptor>> weights_from;
  std::string weights_note;
  bool hidden_note = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const models::Document ldoc = models::Document::parse(line, wl_path + ":" + std::to_string(lineno));
    const Workload wl = parse_workload(ldoc.root(), def);
    const std::string at = wl_path + ":" + std::to_string(lineno);
    auto scalar = [&](const std::string& n) -> std::optional<double> {
      auto it = wl.inputs.find(n);
      if (it == wl.inputs.end()) return std::nullopt;
      if (it->second.type != "scalar") throw InputError(it->second.where, "'" + n + "' must be a scalar descriptor (shape null in " + def.file + ")");
      return it->second.value;
    };
    auto tensor_desc = [&](const std::string& n) -> const Descriptor* {
      auto it = wl.inputs.find(n);
      return it == wl.inputs.end() ? nullptr : &it->second;
    };
    // T: the hidden input's first axis
    if (hs->scalar || hs->shape.empty()) throw InputError(hs->where, "'" + ep.hidden + "' must be [tokens, hidden]");
    const std::string t_axis = hs->shape[0];
    const std::int64_t T = def.consts.count(t_axis) ? def.consts.at(t_axis) : wl.axes.at(t_axis);
    if (def.consts.count(hs->shape.back()) && def.consts.at(hs->shape.back()) != (packed ? H / 2 : H))
      throw InputError(hs->where + "/shape", "'" + hs->shape.back() + "' = " + std::to_string(def.consts.at(hs->shape.back())) + " but hidden_size " + std::to_string(H) +
                                                 (packed ? " packs to " + std::to_string(H / 2) + " bytes (dtype " + hs->dtype + ", 2 FP4 per byte)" : ""));
    if (const auto k = scalar("top_k")) K = static_cast<std::int64_t>(*k);
    if (K <= 0 || K > E) throw InputError(def.file + ":/axes/top_k", "top_k missing (const axis or scalar input) or outside [1, num_experts]");
    if (const auto off = scalar("local_expert_offset"); off && *off != 0)
      res.notes.push_back(at + ": local_expert_offset " + std::to_string(static_cast<std::int64_t>(*off)) + " (EP rank): ids are global");
    const bool ds_routing = ep.routing == "logits" && (scalar("routing_method_type") ? static_cast<int>(*scalar("routing_method_type")) : name_method) == 2;
    if (const auto f = scalar("routed_scaling_factor"); f && *f != 1.0 && !ds_routing)
      res.notes.push_back(at + ": routed_scaling_factor " + std::to_string(*f) + " is not applied to topk_weights (as flashinfer-dump)");
    MoeCall call;
    call.num_tokens = T;
    // ---- routing ----
    if (ep.routing == "logits") {
      const Descriptor* ld = tensor_desc("routing_logits");
      if (!ld) throw InputError(at + ":/workload/inputs", "missing routing_logits");
      int method = name_method;
      if (const auto mt = scalar("routing_method_type")) method = static_cast<int>(*mt);
      if (method < 0) throw InputError(def.file + ":/name", "routing method unknown: no routing_method_type scalar and no *_routing_ pattern in the name");
      const bool ds = method == 2;
      if (!ds && !routing_recomputable(method))
        throw InputError(ld->where, "routing_method_type " + std::to_string(method) + " " + table.method_name(method) +
                                        " is not recomputed by the importer (recomputed: 0, 1, 2 DeepSeekV3, 4, 5, 6, 8, 9)");
      const Descriptor* bd = tensor_desc("routing_bias");
      if (bd && bd->type == "scalar") bd = nullptr;
      if (!ds && bd) throw InputError(bd->where, "routing with a routing_bias is recomputed only for DeepSeekV3 routing (routing_method_type 2)");
      std::vector<double> bias;
      std::int64_t n_group = 0, topk_group = 0;
      double rsf = 1.0;
      if (ds) {
        if (!bd || bd->type != "safetensors")
          throw InputError(bd ? bd->where : at + ":/workload/inputs", "DeepSeekV3 routing needs routing_bias as a safetensors blob (" + std::string(bd ? "random" : "absent") + ": the routing is not in the workload)");
        const SafetensorsFile& f = blobs.open(*bd);
        const StTensorInfo& bi = check_tensor(f, *bd, *def.input("routing_bias"), def, wl, ft);
        if (bi.numel() != E) throw InputError(f.path() + ":" + bd->key, "routing_bias must hold num_experts values");
        bias = as_doubles(f.read(bd->key), bi.dtype, f.path() + ":" + bd->key);
        auto group_param = [&](const std::string& n) -> std::int64_t {
          if (const auto v = scalar(n)) return static_cast<std::int64_t>(*v);
          if (def.consts.count(n)) return def.consts.at(n);
          throw InputError(def.file + ":/axes", "DeepSeekV3 routing needs '" + n + "' (const axis or scalar input)");
        };
        n_group = group_param("n_group");
        topk_group = group_param("topk_group");
        if (const auto f2 = scalar("routed_scaling_factor")) rsf = *f2;
        else res.notes.push_back(at + ": no routed_scaling_factor scalar; DeepSeekV3 weights scaled by 1.0");
      }
      auto route = [&](const std::vector<double>& lv) {
        if (ds) recompute_routing_ds(lv, bias, T, E, K, n_group, topk_group, rsf, ld->where, call.topk_ids, call.topk_weights);
        else recompute_routing(lv, T, E, K, method, ld->where, call.topk_ids, call.topk_weights);
      };
      const std::string how = ds ? "recomputed from routing_logits + routing_bias (RoutingMethodType 2 DeepSeekV3, n_group " + std::to_string(n_group) +
                                       ", topk_group " + std::to_string(topk_group) + ", routed_scaling_factor " + std::to_string(rsf) +
                                       ", as FlashInfer's reference; fp64, ties to the lower id; not the routing kernel's arithmetic)"
                                 : recomputed_source(table, method);
      std::vector<double> lv;
      if (ld->type == "random") {
        if (!req.random_routing)
          throw InputError(ld->where, "routing_logits is {\"type\":\"random\"}: the workload carries no routing; pass --random-routing SEED to generate logits (moesim.gen/1, recorded in the call's source)");
        lv.resize(static_cast<std::size_t>(T * E));
        const std::uint64_t stream = 0x46494230ull + tr.calls.size();  // "FIB0" + call index
        for (std::size_t i = 0; i < lv.size(); ++i)
          lv[i] = static_cast<double>(static_cast<float>(static_cast<double>(gen::u64(req.random_seed, stream, i) >> 11) * 0x1p-53 * 4.0 - 2.0));
        route(lv);
        call.attrs["source"] = "random routing_logits (workload descriptor {\"type\":\"random\"}): generated by moesim import --random-routing " +
                               std::to_string(req.random_seed) + " (moesim.gen/1 stream " + std::to_string(stream) +
                               ", f32 uniform [-2, 2)); then " + how;
      } else if (ld->type == "safetensors") {
        const SafetensorsFile& f = blobs.open(*ld);
        const StTensorInfo& li = check_tensor(f, *ld, *def.input("routing_logits"), def, wl, ft);
        if (li.shape != std::vector<std::int64_t>{T, E}) throw InputError(f.path() + ":" + ld->key, "routing_logits must be [tokens, num_experts]");
        lv = as_doubles(f.read(ld->key), li.dtype, f.path() + ":" + ld->key);
        route(lv);
        call.attrs["source"] = how;
      } else {
        throw InputError(ld->where, "routing_logits must be a safetensors or random descriptor");
      }
      Tensor rl{"f32", {T, E}, std::vector<std::uint8_t>(static_cast<std::size_t>(T * E) * 4), "linear"};
      for (std::size_t i = 0; i < lv.size(); ++i) {
        const float fl = static_cast<float>(lv[i]);
        std::memcpy(rl.bytes.data() + 4 * i, &fl, 4);
      }
      call.router_logits = std::move(rl);
    } else {
      const std::string idn = ep.ids, wn = ep.weights;
      const Descriptor* id = tensor_desc(idn);
      if (!id || id->type != "safetensors")
        throw InputError(id ? id->where : at + ":/workload/inputs", id ? "'" + idn + "' is {\"type\":\"" + id->type + "\"}: no routing in the workload" : "missing routing input '" + idn + "'");
      const SafetensorsFile& f = blobs.open(*id);
      const StTensorInfo& ii = check_tensor(f, *id, *def.input(idn), def, wl, ft);
      if (ii.shape.size() != 2 || ii.shape[0] != T || ii.shape[1] != K) throw InputError(f.path() + ":" + id->key, "routing ids must be [tokens, top_k]");
      const auto b = f.read(id->key);
      call.topk_ids.resize(static_cast<std::size_t>(T * K));
      if (ep.routing == "routed") {  // packed (id << 16) | bf16 weight bits (FI core.py:6299-6306)
        if (ii.dtype != "I32") throw InputError(f.path() + ":" + id->key, "packed topk_ids must be I32");
        call.topk_weights.resize(call.topk_ids.size());
        for (std::size_t i = 0; i < call.topk_ids.size(); ++i) {
          std::uint32_t u;
          std::memcpy(&u, b.data() + 4 * i, 4);
          call.topk_ids[i] = static_cast<std::int16_t>(u >> 16);
          const std::uint32_t fb = (u & 0xFFFFu) << 16;
          std::memcpy(&call.topk_weights[i], &fb, 4);
        }
        call.attrs["source"] = "flashinfer-bench workload: packed topk_ids (id << 16 | bf16 weight)";
      } else {
        if (ii.dtype != "I32") throw InputError(f.path() + ":" + id->key, "routing ids must be I32");
        std::memcpy(call.topk_ids.data(), b.data(), b.size());
        const Descriptor* wd = tensor_desc(wn);
        if (!wd || wd->type != "safetensors") throw InputError(wd ? wd->where : at + ":/workload/inputs", "routing weights '" + wn + "' must be a safetensors descriptor");
        const SafetensorsFile& g = blobs.open(*wd);
        const StTensorInfo& wi = check_tensor(g, *wd, *def.input(wn), def, wl, ft);
        if (wi.shape != std::vector<std::int64_t>{T, K}) throw InputError(g.path() + ":" + wd->key, "routing weights must be [tokens, top_k]");
        const auto wv = as_doubles(g.read(wd->key), wi.dtype, g.path() + ":" + wd->key);
        call.topk_weights.assign(wv.begin(), wv.end());
        call.attrs["source"] = "flashinfer-bench workload: " + idn + ", " + wn;
      }
    }
    // ---- activations ----
    if (const Descriptor* hd = tensor_desc(ep.hidden); hd && hd->type == "safetensors") {
      const SafetensorsFile& f = blobs.open(*hd);
      const StTensorInfo& hi = check_tensor(f, *hd, *hs, def, wl, ft);
      if (hi.dtype == "BF16") call.hidden_states = QTensor{Tensor{"bf16", {T, H}, f.read(hd->key), "linear"}, std::nullopt, std::nullopt};
      else if (!hidden_note) {
        res.notes.push_back(ep.hidden + " is " + hi.dtype + " (quantized by the caller): not imported, as flashinfer-dump (its scale layout as passed is not modelled)");
        hidden_note = true;
      }
    } else if (!hidden_note) {
      res.notes.push_back(ep.hidden + " is {\"type\":\"random\"} (or absent) in the workloads: no activations imported (nothing is invented)");
      hidden_note = true;
    }
    // ---- weights: linear bf16 only, from the first workload that carries them ----
    const Descriptor* w1 = tensor_desc(ep.w1);
    const Descriptor* w2 = tensor_desc(ep.w2);
    if (w1 && w2 && w1->type == "safetensors" && w2->type == "safetensors") {
      const SafetensorsFile& f1 = blobs.open(*w1);
      const StTensorInfo& i1 = check_tensor(f1, *w1, *def.input(ep.w1), def, wl, ft);
      const SafetensorsFile& f2 = blobs.open(*w2);
      const StTensorInfo& i2 = check_tensor(f2, *w2, *def.input(ep.w2), def, wl, ft);
      if (i1.shape.size() != 3 || i2.shape.size() != 3) throw InputError(f1.path() + ":" + w1->key, "expert weights must be [experts, rows, cols]");
      if (!weights_from && weights_note.empty()) {
        if (i1.dtype == "BF16" && i2.dtype == "BF16" && E_local == E && i1.shape == std::vector<std::int64_t>{E, gated ? 2 * I : I, H} &&
            i2.shape == std::vector<std::int64_t>{E, H, I})
          weights_from = std::make_pair(*w1, *w2);
        else
          weights_note = "weights not imported: " + i1.dtype + (E_local != E ? " for " + std::to_string(E_local) + " local of " + std::to_string(E) + " experts" : "") +
                         "; only linear BF16 W31 weights of all experts are modelled";
      }
    } else if (weights_note.empty() && !weights_from) {
      weights_note = "weights not imported: " + ep.w1 + "/" + ep.w2 + " are not safetensors descriptors in the first workload (FIB stores float tensors as random)";
    }
    call.attrs["kernel"] = entry;
    call.attrs["capture"] = "flashinfer-bench workload " + wl.uuid + " (" + at + ")";
    res.tokens += T;
    tr.calls.push_back(std::move(call));
  }
  if (tr.calls.empty()) throw InputError(wl_path, "no workloads");
  m.top_k = K;
  tr.model = m;
  if (!weights_note.empty()) res.notes.push_back(weights_note);
  if (req.device.empty()) res.notes.push_back("device unknown: FIB workloads do not record the GPU; pass --device");
  tr.attrs["created_by"] = std::string("moesim import flashinfer-bench ") + MOESIM_VERSION;
  tr.attrs["source"] = "flashinfer-bench:" + def.name;
  for (const auto& p : blobs.paths()) res.inputs.push_back(p);
  if (weights_from) res.weights = true;
  write_atomically(tr, req.output, res.inputs, [&](const std::string& tmp) {
    if (!weights_from) return;
    const SafetensorsFile& f1 = blobs.open(weights_from->first);
    const SafetensorsFile& f2 = blobs.open(weights_from->second);
    WeightsInfo info;
    info.present = true;
    info.dtype = "bf16";
    WeightWriter ww(tmp, tr.model, info);
    for (std::int64_t e = 0; e < E; ++e) {
      ExpertWeights a, b;
      a.w.dtype = b.w.dtype = "bf16";
      auto raw = f1.read_rows(weights_from->first.key, e, 1);
      if (gated) w31_rows_to_w13(raw);
      a.w.bytes = std::move(raw);
      b.w.bytes = f2.read_rows(weights_from->second.key, e, 1);
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

// ================================================================ export

std::string fib_definition_name(const ModelShape& m, const std::string& models_dir) {
  const FibTable ft = load_fib_table(models_dir);
  std::string n = ft.export_name;
  n = replace_all(n, "{K}", std::to_string(m.top_k));
  n = replace_all(n, "{E}", std::to_string(m.num_experts));
  n = replace_all(n, "{H}", std::to_string(m.hidden));
  n = replace_all(n, "{I}", std::to_string(m.intermediate));
  return n;
}

ExportResult export_flashinfer_bench(const FibExportRequest& req) {
  const FibTable ft = load_fib_table(req.models_dir);
  const Trace t = read_trace(req.trace);
  check_exportable(t, req.trace);
  std::error_code ec;
  if (fs::exists(req.output_dir, ec) && !fs::is_empty(req.output_dir, ec)) throw InputError(req.output_dir, "output directory exists and is not empty");
  const std::string name = fib_definition_name(t.model, req.models_dir);
  const std::string tmp = req.output_dir + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(fs::path(tmp) / "definitions" / "moe", ec);
  fs::create_directories(fs::path(tmp) / "workloads" / "moe", ec);
  fs::create_directories(fs::path(tmp) / "blob" / "workloads" / "moe" / name, ec);
  if (ec) throw InputError(tmp, "cannot create: " + ec.message());
  ExportResult res;
  res.output_dir = req.output_dir;
  try {
    const std::int64_t E = t.model.num_experts, H = t.model.hidden, I = t.model.intermediate, K = t.model.top_k;
    {
      std::ofstream d(tmp + "/definitions/moe/" + name + ".json");
      d << json::serialize(definition_json(t.model, name, ft)) << "\n";
    }
    std::vector<std::uint8_t> w1, w2;  // [E, 2I, H] W31 and [E, H, I], in the first call's blob
    {
      WeightReader wr(req.trace);
      for (std::int64_t e = 0; e < E; ++e) {
        auto a = wr.read("w13", e).w.bytes;
        const std::size_t half = a.size() / 2;
        w1.insert(w1.end(), a.begin() + static_cast<std::ptrdiff_t>(half), a.end());
        w1.insert(w1.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(half));
        auto b = wr.read("w2", e).w.bytes;
        w2.insert(w2.end(), b.begin(), b.end());
      }
    }
    std::ofstream wl(tmp + "/workloads/moe/" + name + ".jsonl");
    bool golden = false;
    for (std::size_t ci = 0; ci < t.calls.size(); ++ci) {
      const MoeCall& c = t.calls[ci];
      const json::object w = workload_json(t, ci, name);
      const std::string uuid(w.at("uuid").as_string());
      const std::int64_t T = c.num_tokens;
      std::vector<StTensorOut> ts{
          {"input", "BF16", {T, H}, c.hidden_states->data.bytes.data(), c.hidden_states->data.bytes.size()},
          {"token_selected_experts", "I32", {T, K}, reinterpret_cast<const std::uint8_t*>(c.topk_ids.data()), c.topk_ids.size() * 4},
          {"token_final_scales", "F32", {T, K}, reinterpret_cast<const std::uint8_t*>(c.topk_weights.data()), c.topk_weights.size() * 4},
      };
      if (ci == 0) {
        ts.push_back({"fc1_expert_weights", "BF16", {E, 2 * I, H}, w1.data(), w1.size()});
        ts.push_back({"fc2_expert_weights", "BF16", {E, H, I}, w2.data(), w2.size()});
      }
      write_safetensors(tmp + "/" + blob_rel(name, uuid), ts, {{"exported_by", std::string("moesim ") + MOESIM_VERSION}});
      wl << json::serialize(json::object{{"definition", name}, {"workload", w}, {"solution", nullptr}, {"evaluation", nullptr}}) << "\n";
      res.call_dirs.push_back(blob_rel(name, uuid));
      golden = golden || c.golden_recorded;
    }
    wl.close();
    if (golden) res.notes.push_back("golden outputs not exported: FIB workloads carry inputs only (the definition's reference computes the output)");
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove(req.output_dir, ec);  // an empty directory may stand in the way of the rename
  fs::rename(tmp, req.output_dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    throw InputError(req.output_dir, "cannot move the finished dataset into place");
  }
  res.notes.push_back("definition " + name + " (cutlass_fused_moe parameters, fc1 W31 [up; gate]); run: flashinfer-bench run --local " + req.output_dir);
  return res;
}

std::string fib_trace_line(const Trace& t, std::size_t call, const std::string& solution, const FibEvaluation& ev, const std::string& models_dir) {
  check_exportable(t, t.path);
  if (call >= t.calls.size()) throw InputError(t.path + ":/calls", "call " + std::to_string(call) + " out of range");
  const std::string name = fib_definition_name(t.model, models_dir);
  json::object libs;
  for (const auto& [k, v] : ev.libs) libs[k] = v;
  json::object e{{"status", ev.status}, {"environment", {{"hardware", ev.hardware}, {"libs", libs}}}, {"timestamp", ev.timestamp}, {"log", ev.log}};
  auto num = [](double x) -> json::value {  // FIB serializes NaN/Inf as strings (trace.py ser_json_inf_nan)
    if (std::isnan(x)) return json::value("NaN");
    if (std::isinf(x)) return json::value(x > 0 ? "Infinity" : "-Infinity");
    return json::value(x);
  };
  if (ev.correctness) {
    json::object extra;
    for (const auto& [k, v] : ev.extra_numbers) extra[k] = num(v);
    for (const auto& [k, v] : ev.extra_strings) extra[k] = v;
    e["correctness"] = json::object{{"max_relative_error", num(ev.max_relative_error)}, {"max_absolute_error", num(ev.max_absolute_error)}, {"extra", extra}};
  } else {
    e["correctness"] = nullptr;
  }
  if (ev.performance) e["performance"] = json::object{{"latency_ms", 0.0}, {"reference_latency_ms", 0.0}, {"speedup_factor", 0.0}};
  else e["performance"] = nullptr;
  return json::serialize(json::object{{"definition", name}, {"workload", workload_json(t, call, name)}, {"solution", solution}, {"evaluation", e}});
}

}  // namespace moesim::traces::import
