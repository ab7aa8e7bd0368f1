#include "sim/kernels/variant.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/lib/framework_version.hpp"
#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/cutedsl_numerics.hpp"
#include "sim/kernels/cutlass_moe_numerics.hpp"
#include "sim/kernels/triton_kernels_moe.hpp"
#include "sim/kernels/reference_numerics.hpp"
#include "sim/kernels/triton_fp8_numerics.hpp"
#include "sim/kernels/triton_moe_numerics.hpp"
#include "sim/kernels/trtllm_gen_numerics.hpp"

namespace moesim::kernels {

namespace {
const char* const kStageKinds[] = {"route_align", "quantize_act", "permute",  "gemm1",
                                   "activation",  "requantize",   "gemm2",    "finalize"};

using Factory = std::unique_ptr<VariantImpl> (*)(const VariantSpec&);
struct FamilyEntry {
  const char* family;
  Factory make;
};
// Implementation families; a new family adds a row.
const FamilyEntry kFamilies[] = {
    {"reference_fp64", &reference::make_variant},
    {"triton_fused_moe", &triton::make_variant},
    {"triton_fused_moe_fp8", &triton_fp8::make_variant},
    {"flashinfer_cutlass", &cutlass::make_variant},
    {"flashinfer_trtllm_gen", &trtllm_gen::make_variant},
    {"flashinfer_cutedsl", &cutedsl::make_variant},
    {"triton_kernels", &tk::make_variant},
};
}  // namespace

bool is_known_stage_kind(const std::string& kind) {
  return std::find(std::begin(kStageKinds), std::end(kStageKinds), kind) != std::end(kStageKinds);
}

const StageSpec* VariantSpec::stage(const std::string& sid) const {
  for (const auto& s : stages)
    if (s.id == sid) return &s;
  return nullptr;
}

std::string VariantSpec::param_string(const std::string& key, const std::string& dflt) const {
  auto it = params.find(key);
  if (it == params.end()) return dflt;
  if (!it->value().is_string()) throw InputError(file + ":/params/" + key, "expected a string");
  return std::string(it->value().as_string());
}

std::int64_t VariantSpec::param_int(const std::string& key, std::int64_t dflt) const {
  auto it = params.find(key);
  if (it == params.end()) return dflt;
  if (!it->value().is_int64()) throw InputError(file + ":/params/" + key, "expected an integer");
  return it->value().as_int64();
}

double VariantSpec::param_double(const std::string& key, double dflt) const {
  auto it = params.find(key);
  if (it == params.end()) return dflt;
  if (it->value().is_double()) return it->value().as_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().as_int64());
  throw InputError(file + ":/params/" + key, "expected a number");
}

VariantSpec load_variant(const std::string& path) {
  const models::Document doc = models::Document::load(path);
  const models::Node root = doc.root();
  VariantSpec v;
  v.file = path;
  v.id = root.at("id").as_string();
  v.family = root.at("family").as_string();
  v.description = root.get_string("description", "");
  v.quant = root.at("quant").as_string();
  v.fidelity = root.at("fidelity").as_string();
  auto check_fidelity = [](const models::Node& n, const std::string& f) {
    for (const char* l : kFidelityLabels)
      if (f == l) return;
    n.fail("unknown fidelity '" + f + "' (expected hw-verified | model-exact | modelled)");
  };
  check_fidelity(root.at("fidelity"), v.fidelity);
  if (auto a = root.find("assumptions")) v.assumptions = a->as_string_vector();
  if (auto a = root.find("hw_verified_scope")) {
    v.hw_verified_scope = a->as_string_vector();
    if (v.fidelity != "hw-verified") a->fail("hw_verified_scope needs fidelity hw-verified");
  }
  if (auto p = root.find("params")) {
    if (!p->is_object()) p->fail("expected an object");
    v.params = p->raw().as_object();
  }
  const models::Node stages = root.at("stages");
  std::set<std::string> ids, produced;
  for (const models::Node& s : stages.items()) {
    StageSpec st;
    st.id = s.at("id").as_string();
    st.kind = s.at("kind").as_string();
    if (!is_known_stage_kind(st.kind)) s.at("kind").fail("unknown stage kind '" + st.kind + "'");
    if (!ids.insert(st.id).second) s.at("id").fail("duplicate stage id '" + st.id + "'");
    st.inputs = s.at("inputs").as_string_vector();
    st.outputs = s.at("outputs").as_string_vector();
    if (st.outputs.empty()) s.at("outputs").fail("a stage needs at least one output");
    for (const auto& o : st.outputs)
      if (!produced.insert(o).second) s.at("outputs").fail("buffer '" + o + "' is produced by two stages");
    st.fidelity = s.get_string("fidelity", v.fidelity);
    check_fidelity(s, st.fidelity);
    st.models = s.get_string("models", "");
    st.check_written = s.get_bool("check_written", true);
    v.stages.push_back(std::move(st));
  }
  if (v.stages.empty()) stages.fail("a variant needs at least one stage");
  bool known = false;
  for (const auto& f : kFamilies) known |= v.family == f.family;
  if (!known) root.at("family").fail("unknown implementation family '" + v.family + "'");
  return v;
}

bool models_biases(const VariantSpec& spec) {
  const auto* v = spec.params.if_contains("biases");
  return v && v->is_bool() && v->as_bool();
}

bool has_library_version_table(const VariantSpec& spec) {
  return spec.params.contains("by_library_version") || spec.params.contains("library_min_version");
}

void apply_library_version(VariantSpec& spec, const std::string& version, const std::string& where) {
  if (!has_library_version_table(spec)) return;
  const models::PyVersion v = models::PyVersion::parse(version.rfind('v', 0) == 0 ? version.substr(1) : version, where);
  auto str = [&](const boost::json::value& x, const std::string& ptr) -> std::string {
    if (!x.is_string()) throw InputError(spec.file + ":" + ptr, "expected a version string");
    return std::string(x.as_string());
  };
  if (const auto* mv = spec.params.if_contains("library_min_version")) {
    const std::string m = str(*mv, "/params/library_min_version");
    if (v < models::PyVersion::parse(m, spec.file + ":/params/library_min_version"))
      throw InputError(where, "variant '" + spec.id + "' models an API that does not exist before " + m + ", got " + version);
  }
  if (const auto* t = spec.params.if_contains("by_library_version")) {
    if (!t->is_object()) throw InputError(spec.file + ":/params/by_library_version", "expected an object");
    for (const auto& [param, rows] : t->as_object()) {
      const std::string ptr = "/params/by_library_version/" + std::string(param);
      if (!rows.is_array()) throw InputError(spec.file + ":" + ptr, "expected an array of {from, until, value}");
      const boost::json::value* hit = nullptr;
      for (std::size_t i = 0; i < rows.as_array().size(); ++i) {
        const auto& row = rows.as_array()[i];
        const std::string rp = ptr + "/" + std::to_string(i);
        if (!row.is_object() || !row.as_object().contains("from") || !row.as_object().contains("value"))
          throw InputError(spec.file + ":" + rp, "expected {from, [until], value}");
        const auto& o = row.as_object();
        const bool ge = !(v < models::PyVersion::parse(str(o.at("from"), rp + "/from"), spec.file + ":" + rp + "/from"));
        const bool lt = !o.contains("until") || v < models::PyVersion::parse(str(o.at("until"), rp + "/until"), spec.file + ":" + rp + "/until");
        if (ge && lt) hit = &o.at("value");
      }
      if (!hit) throw InputError(where, "no row of " + spec.file + ":" + ptr + " covers version " + version);
      spec.params[param] = *hit;
    }
  }
  spec.params["library_version"] = version;
}

std::vector<std::string> list_variants() {
  std::vector<std::string> out;
  const std::filesystem::path dir = std::filesystem::path(models_dir()) / "kernels";
  std::error_code ec;
  for (const auto& ent : std::filesystem::directory_iterator(dir, ec)) {
    if (ent.path().extension() != ".json") continue;
    try {
      const models::Document doc = models::Document::load(ent.path().string());
      const models::Node root = doc.root();
      if (root.is_object() && root.has("stages") && root.has("id")) out.push_back(root.at("id").as_string());
    } catch (const InputError&) {
      // Not a variant description (or broken): find_variant reports it when asked for.
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

VariantSpec find_variant(const std::string& id) {
  const std::filesystem::path p = std::filesystem::path(models_dir()) / "kernels" / (id + ".json");
  if (!std::filesystem::exists(p)) {
    std::string known;
    for (const auto& k : list_variants()) known += (known.empty() ? "" : ", ") + k;
    throw InputError("--variant", "unknown variant '" + id + "' (known: " + known + ")");
  }
  VariantSpec v = load_variant(p.string());
  if (v.id != id) throw InputError(p.string() + ":/id", "id '" + v.id + "' does not match the file name");
  return v;
}

EmuBuffer& StageContext::create(const std::string& name, ElemType type, std::vector<std::int64_t> shape) {
  EmuBuffer b(name, type, std::move(shape));
  b.poison();
  auto [it, _] = buffers.insert_or_assign(name, std::move(b));
  return it->second;
}

EmuBuffer& StageContext::in(const std::string& name) {
  auto it = buffers.find(name);
  if (it == buffers.end())
    throw InputError("stage '" + stage.id + "'", "input buffer '" + name + "' does not exist (variant wiring)");
  return it->second;
}

std::unique_ptr<VariantImpl> make_variant_impl(const VariantSpec& spec) {
  for (const auto& f : kFamilies)
    if (spec.family == f.family) return f.make(spec);
  throw InputError(spec.file + ":/family", "unknown implementation family '" + spec.family + "'");
}

}  // namespace moesim::kernels
