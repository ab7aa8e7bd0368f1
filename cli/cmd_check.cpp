// moesim check: predict launch failures and contract violations of MoE kernel variants from
// shapes alone (a trace's routing and context, or a model preset and a token count).
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "models/lib/json_node.hpp"
#include "models/lib/preset.hpp"
#include "replay/check/engine.hpp"
#include "replay/oracle/oracle.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/trace_io.hpp"

namespace moesim::cli {
namespace {

// moesim quant ids -> the oracle's quant scheme ids.
std::string oracle_quant(const std::string& q, const std::string& framework) {
  if (q == "fp8_per_tensor") return "fp8";
  if (q == "fp8_block128") return "fp8_block";
  if (q == "mxfp4_bf16") return "mxfp4";
  if (framework == "sglang" && q == "nvfp4") return "modelopt_fp4";
  return q;
}

std::string oracle_activation(const std::string& a, bool gated) {
  if (!gated && (a == "relu2" || a == "relu2_no_mul")) return "relu2_no_mul";
  return a;
}

int run_check(const std::vector<std::string>& args) {
  po::options_description o("check options");
  std::string trace, preset, vllm, sglang, quant, dispatch_mode = "none", tactic, trtllm_class = "auto", min_sev = "info";
  std::vector<std::string> devices, versions, backends, config_dirs, env_kv;
  std::int64_t tokens = 0, ep = 1, dp = 1, tp = 1, max_tokens = 0, cap = std::int64_t(1) << 27, gs_numel = 0, ll_tokens = 128;
  o.add_options()
      ("trace", po::value(&trace), "trace file (HDF5 trace format v1); or use --preset/--tokens")
      ("preset", po::value(&preset), "model preset (models/presets/<name>.json) for a shape-only question")
      ("tokens", po::value(&tokens), "tokens per MoE call with --preset (per DP rank with --dp)")
      ("quant", po::value(&quant), "override the quant scheme (bf16, fp8_per_tensor, fp8_block128, mxfp8, nvfp4, mxfp4, mxfp4_bf16, int4_w4a16)")
      ("device", po::value(&devices)->composing(), "device id or alias (repeatable, or 'all'); default: the trace context's")
      ("flashinfer", po::value(&versions)->composing(), "FlashInfer version (repeatable, or 'all'); default: the trace's, else all")
      ("vllm", po::value(&vllm), "vLLM revision (e.g. pr43599, v0, pre-34279): chunking, Triton rules, backend via the oracle")
      ("sglang", po::value(&sglang), "SGLang revision (e.g. s0, pre-4727)")
      ("backend", po::value(&backends)->composing(), "kernel variant: flashinfer_trtllm, flashinfer_cutlass, flashinfer_cutedsl, triton, all (repeatable)")
      ("ep", po::value(&ep), "expert-parallel size")
      ("dp", po::value(&dp), "data-parallel size")
      ("tp", po::value(&tp), "tensor-parallel size (splits the intermediate size)")
      ("dispatch", po::value(&dispatch_mode), "EP/DP dispatch: none | allgather | deepep_ht | deepep_ll")
      ("ll-max-tokens", po::value(&ll_tokens), "DeepEP low-latency num_max_dispatch_tokens_per_rank (default 128)")
      ("max-num-tokens", po::value(&max_tokens), "max_num_batched_tokens per DP rank (adds profile-run and autotune warm-up worst cases)")
      ("no-synthetic", po::bool_switch(), "do not add the engine's synthetic worst-case calls")
      ("tactic", po::value(&tactic), "requested tactic: trtllm 'tile=128', cutlass '128x128x128B/1x1x1', cutedsl 'tile=256'")
      ("trtllm-class", po::value(&trtllm_class), "vLLM TRTLLM NVFP4 experts class: auto | monolithic | modular")
      ("global-scale-numel", po::value(&gs_numel), "numel of the activation global scale passed to the kernel (e.g. num_experts)")
      ("triton-config-dir", po::value(&config_dirs)->composing(), "directory of tuned Triton fused_moe JSON files (repeatable)")
      ("env", po::value(&env_kv)->composing(), "framework environment variable K=V (repeatable)")
      ("threshold", po::bool_switch(), "find the exact first failing tokens-per-call of every finding")
      ("threshold-cap", po::value(&cap), "upper end of the threshold search (default 2^27)")
      ("min-severity", po::value(&min_sev), "print findings at or above: info | warning | error")
      ("json", po::bool_switch(), "print a JSON report");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "check TRACE [--device D|all] [--flashinfer V|all] [--vllm REV|--sglang REV] [--backend B|all] "
                     "[--threshold] [--json]\n       check --preset NAME --tokens N --device D ..."))
    return kExitOk;
  const kernels::Severity min_severity = kernels::parse_severity(min_sev);
  if (!vllm.empty() && !sglang.empty()) throw InputError("--vllm/--sglang", "give one framework revision, not both");
  if (trace.empty() == preset.empty()) throw InputError("check", "give a TRACE file or --preset NAME (with --tokens N), not both");

  check::Workload w;
  if (!trace.empty()) {
    traces::ReadOptions ro;
    ro.load_activations = true;
    w = check::workload_from_trace(traces::read_trace(trace, ro));
  } else {
    if (tokens <= 0) throw InputError("--tokens", "a positive token count is required with --preset");
    models::Preset p = models::load_preset(models_dir(), preset);
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
    w = check::shape_only_workload(m, tokens);
    models::Document doc = models::Document::load(models_dir() + "/presets/" + preset + ".json");
    w.routing = check::routing_family(doc.root().get_string("routing", ""));
    w.source = "preset " + p.name;
    if (dp > 1) w.calls[0].per_rank_tokens.assign(static_cast<std::size_t>(dp), tokens);
  }
  if (!quant.empty()) w.model.quant = quant;
  if (gs_numel > 0) {
    w.act_global_scale_numel = gs_numel;
    if (w.act_global_scale_dtype.empty()) w.act_global_scale_dtype = "f32";
  }
  for (const auto& kv : env_kv) w.context.env.insert(oracle::parse_assignment(kv, "--env"));

  check::CheckOptions opt;
  opt.devices = devices;
  opt.flashinfer = versions;
  opt.backends = backends;
  opt.triton_config_dirs = config_dirs;
  opt.threshold = vm["threshold"].as<bool>();
  opt.threshold_cap = cap;
  opt.synthetic = !vm["no-synthetic"].as<bool>();
  opt.tactic = tactic;
  opt.trtllm_class = trtllm_class;
  if (trtllm_class != "auto" && trtllm_class != "monolithic" && trtllm_class != "modular")
    throw InputError("--trtllm-class", "expected auto | monolithic | modular, got '" + trtllm_class + "'");
  opt.parallel.ep = ep;
  opt.parallel.dp = dp;
  opt.parallel.tp = tp;
  opt.parallel.mode = dispatch::parse_mode(dispatch_mode);
  opt.parallel.max_num_tokens = max_tokens;
  opt.parallel.ll_max_dispatch_tokens_per_rank = ll_tokens;
  if (vm.count("ep") == 0 && w.context.ep > 1) opt.parallel.ep = w.context.ep;
  if (vm.count("dp") == 0 && w.context.dp > 1) opt.parallel.dp = w.context.dp;
  if (vm.count("tp") == 0 && w.context.tp > 1) opt.parallel.tp = w.context.tp;

  // Framework: flag, else the trace context ("vllm@pr43599").
  std::string fw_spec = !vllm.empty() ? "vllm@" + vllm : !sglang.empty() ? "sglang@" + sglang : w.context.framework;
  std::vector<std::string> notes;
  if (!fw_spec.empty()) {
    const auto at = fw_spec.find('@');
    opt.framework = fw_spec.substr(0, at);
    opt.framework_revision = at == std::string::npos ? "" : fw_spec.substr(at + 1);
    opt.framework_explicit = true;
    if (opt.framework != "vllm" && opt.framework != "sglang")
      throw InputError("framework", "unknown framework '" + opt.framework + "' in '" + fw_spec + "' (vllm | sglang)");
  }
  check::CheckEngine engine(models_dir());
  kernels::Finding oracle_error;
  bool oracle_failed = false;
  if (!fw_spec.empty() && backends.empty()) {
    // Let the framework oracle pick the backend, as the engine would at that revision.
    oracle::OracleQuery q;
    q.framework = opt.framework + "@" + (opt.framework_revision.empty() ? "main" : opt.framework_revision);
    const std::string dev = !devices.empty() ? devices[0] : w.context.device;
    if (dev.empty() || dev == "all") throw InputError("--device", "the framework oracle needs one device (--device NAME)");
    q.device = "sm" + std::to_string(engine.devices().find(dev).sm);
    q.quant = oracle_quant(w.model.quant, opt.framework);
    if (!versions.empty() && versions[0] != "all") q.flashinfer_version = versions[0];
    else if (!w.context.flashinfer_version.empty()) q.flashinfer_version = w.context.flashinfer_version;
    q.env = w.context.env;
    if (opt.framework == "vllm") {
      q.traits["activation"] = oracle_activation(w.model.activation, w.model.gated);
      q.traits["dp_size"] = std::to_string(opt.parallel.dp);
      q.traits["ep_size"] = std::to_string(opt.parallel.ep);
      q.traits["num_experts"] = std::to_string(w.model.num_experts);
      q.traits["top_k"] = std::to_string(w.model.top_k);
      if (opt.parallel.mode == dispatch::Mode::deepep_ht || opt.parallel.mode == dispatch::Mode::deepep_ll) q.traits["all2all"] = "1";
    }
    oracle::OracleDecision d = oracle::decide(q, models_dir());
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
      oracle_error.device = dev;
      oracle_error.framework = d.framework + "@" + d.revision;
      opt.backends = {};
    } else {
      std::string b = d.backend == "batched_triton" ? "triton" : d.backend;
      bool modelled = false;
      for (const auto& v : check::variants()) modelled = modelled || v.id == b;
      notes.push_back(d.framework + "@" + d.revision + " selects backend '" + d.backend + "' (moesim oracle)");
      if (!modelled) {
        notes.push_back("backend '" + d.backend + "' has no launch model in moesim check yet: nothing else checked");
        opt.backends = {};
      } else {
        opt.backends = {b};
      }
      for (const auto& r : d.results)
        for (const auto& [k, v] : r.properties)
          if (k == "kernel_class" && trtllm_class == "auto") {
            if (v.find("Modular") != std::string::npos) opt.trtllm_class = "modular";
            else if (v.find("Monolithic") != std::string::npos) opt.trtllm_class = "monolithic";
          }
      if (!d.flashinfer_version.empty() && d.flashinfer_version != "none" && versions.empty() && w.context.flashinfer_version.empty())
        opt.flashinfer = {d.flashinfer_version};
    }
  }
  check::CheckReport rep;
  if (!(fw_spec.empty() || !backends.empty()) && opt.backends.empty()) {
    rep.notes = notes;  // oracle chose nothing we model, or raised
  } else {
    rep = engine.run(w, opt);
    rep.notes.insert(rep.notes.begin(), notes.begin(), notes.end());
  }
  if (oracle_failed) rep.findings.insert(rep.findings.begin(), oracle_error);

  std::vector<const kernels::Finding*> shown;
  for (const auto& f : rep.findings)
    if (static_cast<int>(f.severity) >= static_cast<int>(min_severity)) shown.push_back(&f);
  if (vm["json"].as<bool>()) {
    boost::json::object j;
    j["tool"] = "moesim check";
    j["source"] = w.source;
    boost::json::object model;
    model["name"] = w.model.name;
    model["num_experts"] = w.model.num_experts;
    model["top_k"] = w.model.top_k;
    model["hidden"] = w.model.hidden;
    model["intermediate"] = w.model.intermediate;
    model["activation"] = w.model.activation;
    model["gated"] = w.model.gated;
    model["quant"] = w.model.quant;
    j["model"] = std::move(model);
    boost::json::array targets;
    for (const auto& t : rep.targets) {
      boost::json::object o2;
      o2["variant"] = t.variant;
      o2["device"] = t.device;
      o2["flashinfer"] = t.flashinfer;
      o2["framework"] = t.framework;
      o2["kernel_calls"] = t.kernel_calls;
      targets.push_back(std::move(o2));
    }
    j["targets"] = std::move(targets);
    boost::json::array ns;
    for (const auto& n : rep.notes) ns.push_back(boost::json::string(n));
    j["notes"] = std::move(ns);
    boost::json::array fs;
    for (const auto* f : shown) fs.push_back(kernels::to_json(*f));
    j["findings"] = std::move(fs);
    std::cout << boost::json::serialize(j) << "\n";
  } else {
    std::cout << "moesim check: " << w.source << " (E=" << w.model.num_experts << ", top_k=" << w.model.top_k
              << ", H=" << w.model.hidden << ", I=" << w.model.intermediate << ", " << w.model.quant << ", "
              << w.model.activation << (w.model.gated ? " gated" : "") << "); " << rep.targets.size() << " targets\n";
    for (const auto& n : rep.notes) std::cout << "note: " << n << "\n";
    if (shown.empty()) std::cout << "no findings\n";
    for (const auto* f : shown) std::cout << "\n" << kernels::to_text(*f) << "\n";
  }
  bool err = false;
  for (const auto& f : rep.findings) err = err || f.severity == kernels::Severity::error;
  return err ? kExitFindings : kExitOk;
}

const Registrar reg("check", "predict kernel crashes and contract violations from shapes (grid, offsets, tiles, scales)", run_check);

}  // namespace
}  // namespace moesim::cli
