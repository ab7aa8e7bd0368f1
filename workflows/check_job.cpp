#include "workflows/check_job.hpp"

#include <optional>

#include "models/lib/framework_revision.hpp"
#include "models/lib/framework_rules.hpp"
#include "models/lib/json_node.hpp"
#include "models/lib/oracle_glue.hpp"
#include "models/lib/preset.hpp"
#include "replay/check/oracle_glue.hpp"
#include "sim/core/error.hpp"
#include "sim/kernels/cutedsl_masked_launch.hpp"
#include "sim/core/paths.hpp"
#include "traces/trace_io.hpp"

namespace moesim::workflows {
namespace {

std::string models_of(const CheckRequest& r) { return r.models_dir.empty() ? models_dir() : r.models_dir; }

}  // namespace

bool CheckResult::has_error() const {
  for (const auto& f : report.findings)
    if (f.severity == kernels::Severity::error) return true;
  return false;
}

check::Workload load_workload(const CheckRequest& r) {
  if (!r.vllm.empty() && !r.sglang.empty()) throw InputError("--vllm/--sglang", "give one framework revision, not both");
  if (r.trace.empty() == r.preset.empty())
    throw InputError("check", "give a TRACE file or --preset NAME (with --tokens N), not both");
  const std::string mdir = models_of(r);
  check::Workload w;
  if (!r.trace.empty()) {
    traces::ReadOptions ro;
    ro.load_activations = true;
    w = check::workload_from_trace(traces::read_trace(r.trace, ro));
  } else {
    if (r.tokens <= 0) throw InputError("--tokens", "a positive token count is required with --preset");
    models::Preset p = models::load_preset(mdir, r.preset);
    traces::ModelShape m;
    m.name = p.name;
    m.num_experts = p.num_experts;
    m.top_k = p.top_k;
    m.hidden = p.hidden;
    m.intermediate = p.intermediate;
    m.activation = p.activation;
    m.gated = p.gated;
    m.num_shared_experts = p.num_shared_experts;
    m.quant = p.native_quant.empty() ? "bf16" : p.native_quant;
    w = check::shape_only_workload(m, r.tokens);
    models::Document doc = models::Document::load(mdir + "/presets/" + r.preset + ".json");
    w.routing = check::routing_family(doc.root().get_string("routing", ""));
    w.source = "preset " + p.name;
    const std::int64_t dp = r.dp.value_or(1);
    if (dp > 1) w.calls[0].per_rank_tokens.assign(static_cast<std::size_t>(dp), r.tokens);
  }
  if (!r.quant.empty()) w.model.quant = r.quant;
  if (r.global_scale_numel > 0) {
    w.act_global_scale_numel = r.global_scale_numel;
    if (w.act_global_scale_dtype.empty()) w.act_global_scale_dtype = "f32";
  }
  for (const auto& kv : r.env) w.context.env.insert(oracle::parse_assignment(kv, "--env"));
  return w;
}

CheckResult run_check(const CheckRequest& r) { return run_check(r, load_workload(r)); }

CheckResult run_check(const CheckRequest& r, check::Workload w) {
  const std::string mdir = models_of(r);
  check::CheckOptions opt;
  opt.devices = r.devices;
  opt.flashinfer = r.flashinfer;
  opt.backends = r.backends;
  opt.triton_config_dirs = r.triton_config_dirs;
  opt.threshold = r.threshold;
  opt.threshold_cap = r.threshold_cap;
  opt.synthetic = r.synthetic;
  opt.tactic = r.tactic;
  opt.trtllm_class = r.trtllm_class;
  for (const auto& rel : r.releases) {
    const auto at = rel.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == rel.size())
      throw InputError("--release", "expected FRAMEWORK@VERSION (vllm@0.7.0, sglang@0.4.6), got '" + rel + "'");
    const std::string fw = rel.substr(0, at);
    if (fw != "vllm" && fw != "sglang") throw InputError("--release", "unknown framework '" + fw + "' (vllm | sglang)");
    if (!opt.releases.emplace(fw, rel.substr(at + 1)).second) throw InputError("--release", "two releases given for " + fw);
  }
  if (r.trtllm_class != "auto" && r.trtllm_class != "monolithic" && r.trtllm_class != "modular")
    throw InputError("--trtllm-class", "expected auto | monolithic | modular, got '" + r.trtllm_class + "'");
  opt.parallel.ep = r.ep.value_or(1);
  opt.parallel.dp = r.dp.value_or(1);
  opt.parallel.tp = r.tp.value_or(1);
  opt.parallel.mode = dispatch::parse_mode(r.dispatch);
  opt.parallel.max_num_tokens = r.max_num_tokens;
  opt.parallel.ll_max_dispatch_tokens_per_rank = r.ll_max_tokens;
  if (!r.ep && w.context.ep > 1) opt.parallel.ep = w.context.ep;
  if (!r.dp && w.context.dp > 1) opt.parallel.dp = w.context.dp;
  if (!r.tp && w.context.tp > 1) opt.parallel.tp = w.context.tp;

  // Framework: flag, else the trace context ("vllm@pr43599").
  const std::string fw_spec = !r.vllm.empty() ? "vllm@" + r.vllm : !r.sglang.empty() ? "sglang@" + r.sglang : w.context.framework;
  std::vector<std::string> notes;
  check::CheckEngine engine(mdir);
  if (!fw_spec.empty()) {
    const auto at = fw_spec.find('@');
    opt.framework = fw_spec.substr(0, at);
    opt.framework_revision = at == std::string::npos ? "" : fw_spec.substr(at + 1);
    opt.framework_explicit = true;
    if (opt.framework != "vllm" && opt.framework != "sglang")
      throw InputError("framework", "unknown framework '" + opt.framework + "' in '" + fw_spec + "' (vllm | sglang)");
    // Release tags and commit hashes name the modelled revision they resolve to (the same
    // resolver as `moesim oracle`); the engine's tables and the oracle then see its id.
    // A revision id of the engine's own chunking / Triton-offset tables that the oracle's
    // resolver does not know ("pre-34279", "pre-4727", "s0": revisions older than the oracle's
    // first) is taken as is: the engine models it; the oracle is asked only when no --backend
    // is given, and refuses it there.
    if (!opt.framework_revision.empty()) {
      const models::Framework fw = models::load_framework_by_name(mdir, opt.framework);
      try {
        const models::ResolvedRevision rr = models::resolve_revision(fw, opt.framework_revision, mdir);
        if (!rr.note.empty()) notes.push_back(rr.note);
        opt.framework_revision = fw.revisions[rr.index].id;
      } catch (const InputError&) {
        bool engine_rev = false;
        try {
          engine.chunking(opt.framework).find(opt.framework_revision);
          engine_rev = true;
        } catch (const InputError&) {
        }
        if (!engine_rev) throw;
      }
    }
  }
  std::optional<models::Framework> rules;
  if (!fw_spec.empty()) rules = models::load_framework_by_name(mdir, opt.framework);
  for (const auto& t : r.traits) {
    auto kv = oracle::parse_assignment(t, "--trait");
    if (!opt.traits.insert(kv).second) throw InputError("--trait " + kv.first, "given twice");
  }
  std::vector<std::string> family_traits = kernels::cutedsl_masked::read_traits();
  for (const auto& f : engine.launch_families().families)
    for (const auto& in : f.inputs) family_traits.push_back(in.name);
  check::validate_traits(opt.traits, rules ? &*rules : nullptr, engine.known_bad(), family_traits);
  CheckResult out;
  kernels::Finding oracle_error;
  bool oracle_failed = false;
  if (!fw_spec.empty() && r.backends.empty()) {
    // Let the framework oracle pick the backend, as the engine would at that revision; the
    // spellings it needs are data (models/check/oracle_glue.json).
    const models::OracleGlue glue = models::OracleGlue::load(mdir);
    check::OracleContext ctx;
    ctx.framework = opt.framework;
    ctx.revision = opt.framework_revision;
    ctx.device = !r.devices.empty() ? r.devices[0] : w.context.device;
    if (ctx.device.empty() || ctx.device == "all")
      throw InputError("--device", "the framework oracle needs one device (--device NAME)");
    if (!r.flashinfer.empty() && r.flashinfer[0] != "all") ctx.flashinfer = r.flashinfer[0];
    else if (!w.context.flashinfer_version.empty()) ctx.flashinfer = w.context.flashinfer_version;
    if (!r.preset.empty()) {
      ctx.preset = r.preset;
      ctx.preset_routing = models::Document::load(mdir + "/presets/" + r.preset + ".json").root().get_string("routing", "");
    }
    const oracle::OracleQuery q = check::oracle_query(glue, *rules, w, opt, ctx, engine.devices());
    oracle::OracleDecision d;
    try {
      d = oracle::decide(q, mdir);
    } catch (const InputError& e) {
      // An env var the oracle refuses may come from the trace's /context/env rather than a
      // flag: then the error names the trace file, as every other trace-context error does.
      bool from_trace = !r.trace.empty() && e.where().rfind("--env ", 0) == 0;
      for (const auto& kv : r.env) from_trace = from_trace && kv.rfind(e.where().substr(6) + "=", 0) != 0;
      if (from_trace) throw InputError(r.trace + ":/context/env", e.what());
      throw;
    }
    if (d.error) {
      oracle_failed = true;
      oracle_error.id = kernels::finding_id::kEmptyTacticSet;
      oracle_error.severity = kernels::Severity::error;
      oracle_error.kernel = "framework";
      oracle_error.stage = "backend_selection";
      oracle_error.message = d.framework + "@" + d.revision + " raises during MoE backend selection: " + d.error_message;
      oracle_error.formula = "device " + d.device + ", quant " + d.quant + ", flashinfer " + d.flashinfer_version;
      oracle_error.limit = "a supported backend";
      oracle_error.upstream = "models/frameworks/" + d.framework + ".json (moesim oracle --framework " + q.framework + ")";
      oracle_error.gpu_error = d.error_message;
      oracle_error.device = ctx.device;
      oracle_error.framework = d.framework + "@" + d.revision;
      opt.backends = {};
    } else {
      const check::OracleChoice c = check::apply_decision(glue, d, w);
      notes.insert(notes.end(), c.notes.begin(), c.notes.end());
      opt.backends = c.backends;
      if (!c.quant.empty()) w.model.quant = c.quant;
      if (!c.trtllm_class.empty() && r.trtllm_class == "auto") opt.trtllm_class = c.trtllm_class;
      if (!c.flashinfer.empty() && r.flashinfer.empty() && w.context.flashinfer_version.empty()) opt.flashinfer = {c.flashinfer};
    }
    out.decision = std::move(d);
  }
  if (!(fw_spec.empty() || !r.backends.empty()) && opt.backends.empty()) {
    out.report.notes = notes;  // oracle chose nothing we model, or raised
  } else {
    out.report = engine.run(w, opt);
    out.report.notes.insert(out.report.notes.begin(), notes.begin(), notes.end());
  }
  if (oracle_failed) out.report.findings.insert(out.report.findings.begin(), oracle_error);
  out.workload = std::move(w);
  return out;
}

}  // namespace moesim::workflows
