#include "replay/check/engine.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "sim/core/error.hpp"
#include "sim/kernels/cutedsl_launch.hpp"
#include "models/lib/launch_family.hpp"
#include "sim/kernels/cutlass_experts_launch.hpp"
#include "sim/kernels/cutedsl_masked_launch.hpp"
#include "sim/kernels/cutlass_moe_launch.hpp"
#include "sim/kernels/deepgemm_moe_launch.hpp"
#include "sim/kernels/gguf_moe_launch.hpp"
#include "sim/kernels/marlin_moe_launch.hpp"
#include "sim/kernels/moe_align_launch.hpp"
#include "sim/kernels/moe_fused_mul_sum_launch.hpp"
#include "sim/kernels/moe_wna16_launch.hpp"
#include "sim/kernels/threshold.hpp"
#include "sim/kernels/triton_fused_moe_launch.hpp"
#include "sim/kernels/trtllm_gen_launch.hpp"

namespace moesim::check {

using kernels::Finding;
using kernels::Severity;

const std::vector<VariantInfo>& variants() {
  static const std::vector<VariantInfo> v = {
      {"flashinfer_trtllm", "FlashInfer TRTLLM-gen fused MoE (trtllm_*_moe)", true, kernels::trtllm_gen::check,
       kernels::trtllm_gen::segment_starts, ""},
      {"flashinfer_cutlass", "FlashInfer CUTLASS fused MoE (cutlass_fused_moe)", true, kernels::cutlass_moe::check,
       kernels::cutlass_moe::segment_starts, ""},
      {"flashinfer_cutedsl", "FlashInfer CuteDSL NVFP4 MoE (cute_dsl_fused_moe_nvfp4)", true, kernels::cutedsl::check,
       kernels::cutedsl::segment_starts, ""},
      {"flashinfer_cutedsl_batched", "FlashInfer CuteDSL masked NVFP4 MoE on the DeepEP LL layout (vLLM FlashInferCuteDSLExperts)",
       true, kernels::cutedsl_masked::check, kernels::cutedsl_masked::segment_starts, ""},
      {"triton", "vLLM/SGLang Triton fused_moe_kernel", false, kernels::triton_moe::check,
       kernels::triton_moe::segment_starts, ""},
      // Engine-side families (models/launch/<id>.json).
      {kernels::moe_align::kVllm, "vLLM moe_align_block_size (CUDA)", false, kernels::moe_align::check_vllm,
       kernels::launch::segment_starts, kernels::moe_align::kVllm},
      {kernels::deepgemm_moe::kVllm, "vLLM DeepGemmExperts: ep_scatter -> DeepGEMM m-grouped FP8 GEMM -> ep_gather", false,
       kernels::deepgemm_moe::check_vllm, kernels::launch::segment_starts, kernels::deepgemm_moe::kVllm},
      {kernels::deepgemm_moe::kSglang, "SGLang DeepEPMoE DeepGEMM contiguous: ep_scatter -> m-grouped FP8 GEMM -> ep_gather", false,
       kernels::deepgemm_moe::check_sglang, kernels::launch::segment_starts, kernels::deepgemm_moe::kSglang},
      {kernels::marlin_moe::kVllm, "vLLM Marlin MoE (moe_wna16_marlin_gemm, weight-only int4/fp8/fp4)", false,
       kernels::marlin_moe::check, kernels::launch::segment_starts, kernels::marlin_moe::kVllm},
      {kernels::moe_wna16::kVllm, "vLLM moe_wna16 CUDA GEMM (int4 GPTQ/AWQ MoE, small batch)", false,
       kernels::moe_wna16::check, kernels::launch::segment_starts, kernels::moe_wna16::kVllm},
      {kernels::cutlass_experts::kVllm, "vLLM CUTLASS MoE experts (CutlassExpertsFp8 / CutlassBatchedExpertsFp8 / CutlassExpertsFp4)",
       false, kernels::cutlass_experts::check, kernels::launch::segment_starts, kernels::cutlass_experts::kVllm},
      {kernels::gguf_moe::kVllm, "vLLM GGUF MoE (ggml_moe_a8 MMQ / ggml_moe_a8_vec MMVQ)", false, kernels::gguf_moe::check,
       kernels::launch::segment_starts, kernels::gguf_moe::kVllm},
      {kernels::moe_fused_mul_sum::kVllm, "vLLM moe_fused_mul_sum (Triton top-k weighted reduction)", false,
       kernels::moe_fused_mul_sum::check, kernels::launch::segment_starts, kernels::moe_fused_mul_sum::kVllm},
  };
  return v;
}

const VariantInfo& find_variant(const std::string& id) {
  std::string want = id;
  if (want == "trtllm" || want == "trtllm_gen") want = "flashinfer_trtllm";
  if (want == "cutlass") want = "flashinfer_cutlass";
  if (want == "cutedsl" || want == "cute_dsl") want = "flashinfer_cutedsl";
  if (want == "triton_fused_moe") want = "triton";
  for (const auto& v : variants())
    if (v.id == want) return v;
  std::string known;
  for (const auto& v : variants()) known += (known.empty() ? "" : ", ") + v.id;
  throw InputError("--backend", "unknown kernel variant '" + id + "' (known: " + known + ", all)");
}

bool CheckReport::has_error() const {
  for (const auto& f : findings)
    if (f.severity == Severity::error) return true;
  return false;
}

CheckEngine::CheckEngine(const std::string& dir)
    : devices_(models::DeviceTable::load(dir)),
      profiles_(models::FlashInferProfiles::load(dir)),
      known_bad_(models::KnownBadTable::load(dir)),
      vllm_chunks_(models::ChunkingTable::load(dir, "vllm")),
      sglang_chunks_(models::ChunkingTable::load(dir, "sglang")),
      vllm_rules_(models::TritonConfigRules::load(dir, "vllm")),
      sglang_rules_(models::TritonConfigRules::load(dir, "sglang")),
      families_(models::load_launch_families(dir)) {
  const auto& ids = kernels::all_finding_ids();
  for (const auto& f : families_.families) {
    for (const auto& r : f.revisions)
      for (const auto& h : r.hazards)
        if (!h.removed && std::find(ids.begin(), ids.end(), h.finding) == ids.end())
          throw InputError(f.file, "hazard '" + h.id + "': unknown finding id '" + h.finding + "' (docs/findings.md)");
    bool registered = false;
    for (const auto& v : variants()) registered = registered || v.launch_family == f.id;
    if (!registered) throw InputError(f.file, "family '" + f.id + "' has no kernel variant in replay/check/engine.cpp");
  }
}

const models::ChunkingTable& CheckEngine::chunking(const std::string& fw) const {
  if (fw == "vllm") return vllm_chunks_;
  if (fw == "sglang") return sglang_chunks_;
  throw InputError("--framework", "unknown framework '" + fw + "' (vllm | sglang)");
}

const models::TritonConfigRules& CheckEngine::triton_rules(const std::string& fw) const {
  if (fw == "vllm") return vllm_rules_;
  if (fw == "sglang") return sglang_rules_;
  throw InputError("--framework", "unknown framework '" + fw + "' (vllm | sglang)");
}

ChunkPlan chunk_plan(const std::string& variant, const std::string& quant, std::int64_t m, std::int64_t e,
                     std::int64_t k, const models::FrameworkRevision* rev, bool modular,
                     const std::map<std::string, std::string>& env, bool chunkable) {
  ChunkPlan plan;
  std::int64_t chunk = 0;
  if (rev && chunkable) {
    if (variant == "triton" && rev->triton_chunk) {
      chunk = rev->triton_chunk->default_size;
      if (auto it = env.find(rev->triton_chunk->env); it != env.end()) {
        try {
          chunk = std::stoll(it->second);
        } catch (...) {
          throw InputError("context.env/" + rev->triton_chunk->env, "not an integer: '" + it->second + "'");
        }
        if (chunk <= 0) throw InputError("context.env/" + rev->triton_chunk->env, "chunk size must be positive");
      }
      plan.note = rev->framework + "@" + rev->id + " splits the call into chunks of " + kernels::fmt_int(chunk) + " (" +
                  rev->triton_chunk->source + ")";
    } else if (variant == "flashinfer_trtllm" && quant == "nvfp4" && rev->trtllm_nvfp4_chunk && modular) {
      chunk = rev->trtllm_nvfp4_chunk->chunk_size(e, k);
      plan.note = rev->framework + "@" + rev->id + " chunks TRTLLM NVFP4 (modular class) at " + kernels::fmt_int(chunk) +
                  " = " + rev->trtllm_nvfp4_chunk->formula + " (" + rev->trtllm_nvfp4_chunk->source + ")";
    }
  }
  if (chunk > 0 && m > chunk) {
    plan.tokens.push_back(chunk);
    if (m % chunk) plan.tokens.push_back(m % chunk);
  } else {
    plan.tokens.push_back(m);
    if (chunk == 0) plan.note.clear();
  }
  return plan;
}

std::optional<std::int64_t> CheckEngine::threshold(const VariantInfo& v, const Finding& f, kernels::LaunchProblem p,
                                                   const kernels::LaunchEnv& env, std::int64_t cap) const {
  auto tactics_of = [](const Finding& x) {
    for (const auto& [k, val] : x.details)
      if (k == "tactics") return val;
    return std::string();
  };
  const std::string want_tactics = tactics_of(f);
  auto fires = [&](std::int64_t t) {
    p.tokens = t;
    for (const auto& g : v.check(p, env))
      if (g.id == f.id && g.stage == f.stage && tactics_of(g) == want_tactics) return true;
    return false;
  };
  if (fires(1)) return 1;  // token-independent findings (and those already present at one token)
  return kernels::first_failing(fires, v.segments(p, env, 1, cap), 1, cap);
}

namespace {

// The findings of one release's tables, relabelled for another release with the same tables:
// the launch models append " @ <tag>" to `upstream` (and nowhere else).
void retag(Finding& f, const std::string& from, const std::string& to) {
  if (f.upstream.size() >= from.size() && f.upstream.compare(f.upstream.size() - from.size(), from.size(), from) == 0)
    f.upstream.replace(f.upstream.size() - from.size(), from.size(), to);
}

std::string key_of(const Finding& f) {
  std::string k = f.id + "|" + f.kernel + "|" + f.stage + "|" + f.device + "|" + f.library_version + "|" + f.framework;
  for (const auto& [dk, dv] : f.details)
    if (dk == "tactics") k += "|" + dv;
  return k;
}

}  // namespace

CheckReport CheckEngine::run(const Workload& w, const CheckOptions& opt) const {
  CheckReport rep;
  const auto& m = w.model;
  if (m.num_experts <= 0 || m.top_k <= 0 || m.hidden <= 0 || m.intermediate <= 0)
    throw InputError(w.source, "model shape needs num_experts, top_k, hidden and intermediate > 0");
  if (m.top_k > m.num_experts) throw InputError(w.source, "top_k exceeds num_experts");
  if (!kernels::is_known_quant(m.quant)) kernels::quant_dtypes(m.quant);  // throws with the list

  // Devices.
  std::vector<const models::Device*> devs;
  std::vector<std::string> dnames = opt.devices;
  if (dnames.empty() && !w.context.device.empty()) dnames.push_back(w.context.device);
  if (dnames.empty()) throw InputError("--device", "no device given and the trace context names none (use --device NAME or all)");
  for (const auto& d : dnames) {
    if (d == "all") {
      for (const auto& x : devices_.all()) devs.push_back(&x);
    } else {
      devs.push_back(&devices_.find(d));
    }
  }
  // FlashInfer versions.
  std::vector<const models::FlashInferProfile*> fis;
  std::vector<std::string> vnames = opt.flashinfer;
  if (vnames.empty() && !w.context.flashinfer_version.empty()) vnames.push_back(w.context.flashinfer_version);
  if (vnames.empty()) {
    vnames.push_back("all");
    rep.notes.push_back("no FlashInfer version given (--flashinfer V): checked every profile");
  }
  for (const auto& v : vnames) {
    if (v == "all") {
      for (const auto& p : profiles_.all()) fis.push_back(&p);
    } else {
      fis.push_back(&profiles_.find(v));
    }
  }
  // Variants.
  std::vector<const VariantInfo*> vars;
  const bool sweep = opt.backends.empty() || (opt.backends.size() == 1 && opt.backends[0] == "all");
  if (sweep) {
    for (const auto& v : variants()) vars.push_back(&v);
  } else {
    for (const auto& b : opt.backends) vars.push_back(&find_variant(b));
  }
  // Framework revision.
  const auto& chunks = chunking(opt.framework);
  const models::FrameworkRevision& rev = chunks.find(opt.framework_revision.empty() ? chunks.latest() : opt.framework_revision);
  const std::string requested_rev = opt.framework_revision.empty() ? rev.id : opt.framework_revision;
  const std::string fw = opt.framework + "@" + requested_rev;
  if (requested_rev != rev.id)
    rep.notes.push_back(fw + ": chunking and Triton offset rules are those of revision '" + rev.id + "' (" +
                        chunks.find(rev.id).date + (rev.note.empty() ? "" : "; " + rev.note) + ")");
  const auto& rules = triton_rules(opt.framework);
  std::string rules_rev = rev.id;
  try {
    rules_rev = rules.resolve(rev.id);
  } catch (const InputError&) {
    rules_rev = rules.resolve("latest");
    rep.notes.push_back("Triton default-config rules have no entry for " + fw + ": used the latest");
  }

  // Kernel calls: dispatch every trace call, plus synthetic worst cases.
  dispatch::ParallelConfig pc = opt.parallel;
  if (pc.max_num_tokens == 0) pc.max_num_tokens = w.context.max_num_batched_tokens;
  const std::int64_t tp = std::max<std::int64_t>(pc.tp, 1);
  std::vector<dispatch::KernelCall> kcalls;
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>> seen;  // (tokens, top_k, local experts, chunkable)
  auto add = [&](const dispatch::KernelCall& kc) {
    if (kc.tokens <= 0) return;
    if (seen.insert({kc.tokens, kc.top_k, kc.local_experts, kc.chunkable}).second) kcalls.push_back(kc);
  };
  for (std::size_t i = 0; i < w.calls.size(); ++i) {
    const auto& c = w.calls[i];
    std::vector<std::int64_t> per_rank = c.per_rank_tokens.empty() ? std::vector<std::int64_t>{c.num_tokens} : c.per_rank_tokens;
    for (const auto& kc : dispatch::dispatch_call(pc, per_rank, m.num_experts, m.top_k, c.expert_counts,
                                                  "call " + std::to_string(i) + (c.layer >= 0 ? " (layer " + std::to_string(c.layer) + ")" : "")))
      add(kc);
  }
  if (opt.synthetic)
    for (const auto& kc : dispatch::synthetic_worst_cases(pc, m.num_experts, m.top_k)) add(kc);

  // Facts shared by all problems.
  std::optional<std::int64_t> max_id, min_id;
  bool masked = false;
  for (const auto& c : w.calls) {
    if (c.max_expert_id) max_id = std::max(max_id.value_or(*c.max_expert_id), *c.max_expert_id);
    if (c.min_expert_id) min_id = std::min(min_id.value_or(*c.min_expert_id), *c.min_expert_id);
    masked = masked || c.ids_masked;
  }
  const bool modular = opt.trtllm_class == "modular" ||
                       (opt.trtllm_class == "auto" && (pc.mode == dispatch::Mode::deepep_ht || pc.mode == dispatch::Mode::deepep_ll));

  // Dedupe key -> findings position; per position where a kernel finding came from (variant,
  // problem, target env) and how many kernel calls hit it. Known-bad rows have no origin.
  std::unordered_map<std::string, std::size_t> index;
  index.reserve(4096);
  struct Origin {
    const VariantInfo* variant = nullptr;
    kernels::LaunchProblem problem;
    std::size_t env = 0, hits = 0;
  };
  std::vector<Origin> origin;                // parallel to rep.findings
  std::vector<kernels::LaunchEnv> envs;      // one per target that reported a kernel finding
  std::set<std::string> notes;
  std::map<std::string, std::pair<std::string, std::vector<Finding>>> check_cache;  // key -> (tag, findings)
  std::map<std::string, std::vector<std::string>> absent, unmodelled;  // "variant (note)" -> versions

  for (const VariantInfo* v : vars) {
    for (const models::Device* dev : devs) {
      std::vector<const models::FlashInferProfile*> vers = v->uses_flashinfer ? fis : std::vector<const models::FlashInferProfile*>{nullptr};
      for (const models::FlashInferProfile* fi : vers) {
        if (fi) {
          const models::FamilyStatus st = fi->family(v->id);
          if (!st.present || !st.modelled_on(dev->sm)) {
            // Loud, not silent: this release has no such kernel, or its tables were not read.
            auto& bucket = (st.present ? unmodelled : absent)[v->id + (st.modelled ? " on " + dev->id : "") +
                                                              (st.note.empty() ? "" : " (" + st.note + ")")];
            if (std::find(bucket.begin(), bucket.end(), fi->version.text) == bucket.end()) bucket.push_back(fi->version.text);
            continue;
          }
        }
        kernels::LaunchEnv env;
        env.device = dev;
        env.flashinfer = fi;
        env.triton.framework = opt.framework;
        env.triton.revision = &rev;
        env.triton.rules = &rules;
        env.triton.rules_revision = rules_rev;
        env.triton.config_dirs = opt.triton_config_dirs;
        env.launch_families = &families_;
        env.releases = opt.releases;
        env.traits = opt.traits;
        env.dp = std::max<std::int64_t>(pc.dp, 1);
        env.ep = std::max<std::int64_t>(pc.ep, 1);
        env.tp = tp;
        env.batched_layout = pc.mode == dispatch::Mode::deepep_ll;
        if (!v->launch_family.empty() && !sweep)
          notes.insert(kernels::launch::revision_note(kernels::launch::family(env, v->launch_family), env));
        std::optional<std::size_t> env_pos;  // this target's entry in envs, once needed
        CheckedTarget tgt{v->id, dev->id, fi ? fi->version.text : "", v->uses_flashinfer && !opt.framework_explicit ? "" : fw, 0};
        std::int64_t max_tokens = 0;
        double max_avg = 0;           // T*K/local_E of the busiest call
        bool unavailable_here = false;  // the variant has no kernel for this device/quant
        for (const auto& kc : kcalls) {
          const models::FrameworkRevision* crev = (v->uses_flashinfer && !opt.framework_explicit) ? nullptr : &rev;
          ChunkPlan plan = chunk_plan(v->id, m.quant, kc.tokens, m.num_experts, kc.top_k, crev, modular, w.context.env, kc.chunkable);
          if (!plan.note.empty()) notes.insert(plan.note);
          for (std::int64_t t : plan.tokens) {
            kernels::LaunchProblem p;
            p.tokens = t;
            p.num_experts = m.num_experts;
            p.local_experts = kc.local_experts;
            p.top_k = kc.top_k;
            p.hidden = m.hidden;
            p.intermediate = m.intermediate / tp;
            p.gated = m.gated;
            p.activation = m.activation;
            p.quant = m.quant;
            p.routing = w.routing;
            p.batched_layout = pc.mode == dispatch::Mode::deepep_ll;
            p.act_global_scale_numel = w.act_global_scale_numel;
            p.act_global_scale_dtype = w.act_global_scale_dtype;
            p.act_scale_layout = w.act_scale_layout;
            p.weight_scale_dtype = w.weight_scale_dtype;
            p.weight_scale_layout = w.weight_scale_layout;
            p.weight_rows = w.weight_rows;
            p.max_expert_id = max_id;
            p.min_expert_id = min_id;
            p.ids_masked = masked;
            p.tactic = opt.tactic.empty() ? w.context.tactic : opt.tactic;
            ++tgt.kernel_calls;
            max_tokens = std::max(max_tokens, t);
            max_avg = std::max(max_avg, static_cast<double>(t) * static_cast<double>(kc.top_k) /
                                            static_cast<double>(std::max<std::int64_t>(kc.local_experts, 1)));
            // Releases whose tables for this family are identical give identical findings up to
            // the release tag in the upstream text: check once per distinct table, relabel.
            const std::vector<Finding>* raw = nullptr;
            std::vector<Finding> fresh;
            std::string cache_key;
            if (fi) {
              cache_key = v->id + "|" + dev->id + "|" + std::to_string(fi->content_id.at(v->id)) + "|" +
                          std::to_string(&kc - kcalls.data()) + "|" + std::to_string(t);
              if (auto it = check_cache.find(cache_key); it != check_cache.end()) raw = &it->second.second;
            }
            if (!raw) {
              fresh = v->check(p, env);
              if (fi) raw = &check_cache.emplace(cache_key, std::make_pair(fi->tag(), fresh)).first->second.second;
              else raw = &fresh;
            }
            const std::string src_tag = fi ? check_cache.at(cache_key).first : std::string();
            for (Finding f : *raw) {
              if (fi && src_tag != fi->tag()) retag(f, " @ " + src_tag, " @ " + fi->tag());
              // In a sweep over every variant, "this variant has no kernel for this device or
              // quant" is information, not a crash: nobody would run it there.
              const bool unavailable = std::any_of(f.details.begin(), f.details.end(), [](const auto& d) {
                return d.first == "applies" && d.second == "no";
              });
              unavailable_here = unavailable_here || unavailable;
              if (sweep && unavailable) {
                f.severity = Severity::info;
                f.message = "not available: " + f.message;
              }
              f.device = dev->id;
              f.library_version = fi ? fi->version.text : "";
              if (f.framework.empty()) f.framework = tgt.framework;
              f.details.emplace_back("kernel call", kc.origin + ": " + kc.formula + (plan.tokens.size() > 1 || t != kc.tokens ? "; chunk of " + kernels::fmt_int(t) : ""));
              const std::string key = key_of(f);
              auto it = index.find(key);
              if (it == index.end()) {
                if (!env_pos) {
                  envs.push_back(env);
                  env_pos = envs.size() - 1;
                }
                index.emplace(key, rep.findings.size());
                origin.resize(rep.findings.size());
                origin.push_back({v, p, *env_pos, 1});
                rep.findings.push_back(std::move(f));
              } else {
                Origin& o = origin[it->second];
                ++o.hits;
                if (f.tokens.value_or(0) > rep.findings[it->second].tokens.value_or(0)) {
                  rep.findings[it->second] = std::move(f);
                  o.variant = v;
                  o.problem = p;
                }
              }
            }
          }
        }
        // Known-bad versions and empirical crash regions.
        // Known-bad rows are scoped: only where the kernel can run at all (no noise on devices
        // the arch gate rejects), and only under the conditions the row names.
        if (fi && !unavailable_here) {
          for (const auto& e : known_bad_.entries) {
            if (!e.matches(v->id, fi->version, dev->sm, m.quant)) continue;
            const auto& c = e.conditions;
            if (c.min_tokens_per_call > 0 && max_tokens < c.min_tokens_per_call) continue;
            if (c.min_avg_tokens_per_expert > 0 && !(max_avg > c.min_avg_tokens_per_expert)) continue;
            if (!c.activations.empty() &&
                std::find(c.activations.begin(), c.activations.end(), m.activation) == c.activations.end())
              continue;
            if (!c.routings.empty() && std::find(c.routings.begin(), c.routings.end(), w.routing) == c.routings.end())
              continue;
            bool traits_ok = true;
            for (const auto& [k, want] : c.traits) {
              auto it = opt.traits.find(k);
              traits_ok = traits_ok && it != opt.traits.end() && it->second == want;
            }
            if (!traits_ok) continue;
            Finding f;
            f.id = kernels::finding_id::kKnownBadVersion;
            f.severity = kernels::parse_severity(e.severity);
            f.kernel = v->id;
            f.stage = "version";
            f.message = e.title + (e.symptom.empty() ? "" : " — " + e.symptom);
            f.formula = "flashinfer " + fi->version.text + " in [" + e.min.text + ", " +
                        (e.fixed_in ? e.fixed_in->text + ")" : std::string("unfixed]")) +
                        (e.sms.empty() ? "" : ", SM " + std::to_string(dev->sm)) +
                        (c.text().empty() ? "" : "; " + c.text());
            f.limit = e.fixed_in ? "fixed in " + e.fixed_in->text + (e.fix.empty() ? "" : " (" + e.fix + ")")
                                 : "no fixed release known";
            f.upstream = e.upstream;
            f.gpu_error = e.gpu_error;
            f.device = dev->id;
            f.library_version = fi->version.text;
            f.details.emplace_back("entry", e.id);
            rep.findings.push_back(std::move(f));
          }
          for (const auto& r : known_bad_.regions) {
            if (!r.matches_shape(v->id, m.quant, m.num_experts, m.top_k) || max_tokens < r.min_tokens_per_call) continue;
            Finding f;
            f.id = kernels::finding_id::kEmpiricalCrashRegion;
            f.severity = kernels::parse_severity(r.severity);
            f.kernel = v->id;
            f.stage = "gemm1+gemm2";
            f.basis = "empirical";
            f.message = r.title;
            f.formula = "tokens per call = " + kernels::fmt_int(max_tokens) + " >= " + kernels::fmt_int(r.min_tokens_per_call);
            f.limit = "< " + kernels::fmt_int(r.min_tokens_per_call) + " tokens per call (reported on hardware)";
            f.value = max_tokens;
            f.limit_value = r.min_tokens_per_call;
            f.tokens = max_tokens;
            f.first_failing_tokens = r.min_tokens_per_call;
            f.upstream = r.upstream;
            f.gpu_error = r.gpu_error;
            f.device = dev->id;
            f.library_version = fi->version.text;
            f.framework = tgt.framework;
            f.details.emplace_back("region", r.id);
            rep.findings.push_back(std::move(f));
          }
        }
        rep.targets.push_back(tgt);
      }
    }
  }
  origin.resize(rep.findings.size());
  for (std::size_t pos = 0; pos < origin.size(); ++pos)
    if (origin[pos].hits > 1) rep.findings[pos].details.emplace_back("kernel calls affected", std::to_string(origin[pos].hits));
  if (opt.threshold) {
    for (std::size_t pos = 0; pos < origin.size(); ++pos) {
      const Origin& o = origin[pos];
      if (!o.variant) continue;  // known-bad rows and empirical regions
      Finding& f = rep.findings[pos];
      const std::int64_t cap = std::max(opt.threshold_cap, f.tokens.value_or(0));
      f.first_failing_tokens = threshold(*o.variant, f, o.problem, envs[o.env], cap);
    }
  }
  for (const auto& n : notes) rep.notes.push_back(n);
  auto list = [](const std::vector<std::string>& vs) {
    std::string r;
    for (const auto& x : vs) r += (r.empty() ? "" : ", ") + x;
    return r;
  };
  for (const auto& [what, vs] : absent)
    rep.notes.push_back("not in these FlashInfer releases, nothing checked: " + what + " at " + list(vs));
  for (const auto& [what, vs] : unmodelled)
    rep.notes.push_back("not modelled, nothing checked: " + what + " at FlashInfer " + list(vs));
  std::stable_sort(rep.findings.begin(), rep.findings.end(), [](const Finding& a, const Finding& b) {
    return static_cast<int>(a.severity) > static_cast<int>(b.severity);
  });
  return rep;
}

}  // namespace moesim::check
