#include "workflows/bump.hpp"

#include <chrono>
#include <filesystem>
#include <map>

#include "models/lib/sm90_interleave_versions.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "traces/trace_io.hpp"
#include "workflows/check_job.hpp"

namespace moesim::workflows {
namespace {

namespace fs = std::filesystem;

std::string detail(const kernels::Finding& f, const std::string& k) {
  for (const auto& [dk, v] : f.details)
    if (dk == k) return v;
  return "";
}

std::string finding_key(const kernels::Finding& f) {
  std::string k = f.id + " " + f.kernel + "/" + f.stage;
  for (const char* d : {"entry", "region", "tactics"})
    if (auto v = detail(f, d); !v.empty()) k += " " + v;
  return k;
}

void split_framework(const std::string& fw, CheckRequest& q) {
  if (fw.empty()) return;
  const auto at = fw.find('@');
  const std::string name = fw.substr(0, at), rev = at == std::string::npos ? "" : fw.substr(at + 1);
  if ((name != "vllm" && name != "sglang") || rev.empty())
    throw InputError("--from-framework/--to-framework", "expected vllm@REVISION or sglang@REVISION, got '" + fw + "'");
  (name == "vllm" ? q.vllm : q.sglang) = rev;
}

OracleSide oracle_side(const CheckResult& r, const std::string& fw) {
  OracleSide s;
  if (!r.decision) return s;
  s.consulted = true;
  s.framework = r.decision->framework + "@" + r.decision->revision;
  s.backend = r.decision->backend;
  s.error = r.decision->error;
  s.error_message = r.decision->error_message;
  s.flashinfer = r.decision->flashinfer_version;
  return s;
}

std::vector<std::string> oracle_diff(const oracle::OracleDecision& a, const oracle::OracleDecision& b) {
  std::vector<std::string> out;
  std::map<std::string, const oracle::TrailStep*> bs;
  for (const auto& t : b.trail) bs[t.selector + "|" + t.candidate + "|" + t.edge + "|" + t.predicate_id] = &t;
  for (const auto& t : a.trail) {
    auto it = bs.find(t.selector + "|" + t.candidate + "|" + t.edge + "|" + t.predicate_id);
    if (it == bs.end()) continue;
    const auto& u = *it->second;
    if (t.passed == u.passed && t.observed == u.observed) continue;
    if (t.passed == u.passed) continue;  // same outcome, different wording of the values
    out.push_back(t.selector + (t.candidate.empty() ? "" : " " + t.candidate) + ": " + t.predicate_id + " " +
                  (t.passed ? "passed" : "failed") + " -> " + (u.passed ? "passed" : "failed") + " (" + t.text + "; seen " +
                  t.observed + " -> " + u.observed + (u.source.empty() ? "" : "; models " + u.source) + ")");
  }
  return out;
}

std::optional<ReplayReport> try_replay(const ReplayRequest& q, std::string& why) {
  try {
    return run_replay(q);
  } catch (const InputError& e) {
    why = e.what();
    return std::nullopt;
  }
}

void run_numerics(BumpCase& bc, const std::string& trace, const std::string& variant, const BumpRequest& r,
                  const models::Sm90InterleaveVersions& il) {
  VariantNumerics n;
  n.variant = variant;
  kernels::VariantSpec spec = kernels::find_variant(variant);
  ReplayRequest q;
  q.trace = trace;
  q.variant = variant;
  q.threads = r.threads;
  const std::string wl = spec.param_string("weight_layout", "");
  if (wl.rfind("sm90_interleave", 0) == 0 && !r.from.empty() && !r.to.empty()) {
    auto la = il.layout_for(r.from), lb = il.layout_for(r.to);
    n.layout_a = la ? *la : "absent";
    n.layout_b = lb ? *lb : "absent";
  }
  std::string why_a, why_b;
  if (kernels::has_library_version_table(spec) && !r.from.empty() && !r.to.empty()) {
    q.flashinfer = r.from;
    q.against = variant;
    q.against_flashinfer = r.to;
    n.a_vs_b = try_replay(q, why_a);
    q.against_flashinfer.clear();
    q.against = "reference";
    n.a_vs_ref = try_replay(q, why_a);
    q.flashinfer = r.to;
    n.b_vs_ref = try_replay(q, why_b);
    if (n.a_vs_b) {
      n.status = "compared";
      for (const auto& c : n.a_vs_b->calls)
        if (c.diff && c.diff->first_divergence && !n.first_divergence) n.first_divergence = c.diff->first_divergence;
      n.note = n.first_divergence ? "replayed as " + r.from + " and as " + r.to + ": first divergent stage " + *n.first_divergence
                                  : "replayed as " + r.from + " and as " + r.to + ": bit-identical at every compared stage";
    } else {
      n.status = n.b_vs_ref ? "a-unavailable" : "unavailable";
      n.note = "cannot replay as both versions: " + (why_a.empty() ? why_b : why_a);
    }
  } else if (!n.layout_a.empty() && (n.layout_a == "absent" || n.layout_b == "absent" || n.layout_a != n.layout_b)) {
    q.against = "reference";
    if (n.layout_b != "absent") n.b_vs_ref = try_replay(q, why_b);
    if (n.layout_a == "absent") {
      n.status = n.b_vs_ref ? "a-unavailable" : "unavailable";
      n.note = "SM90 mixed-GEMM weight/scale interleave: FlashInfer " + r.from + " has no interleave_moe_*_for_sm90_mixed_gemm (absent before " +
               il.absent_before().text + "), so this path does not exist there; " + r.to + " runs " + n.layout_b +
               " (models/flashinfer/sm90_interleave.json)" + (why_b.empty() ? "" : "; B refused: " + why_b);
    } else if (n.layout_b == "absent") {
      n.status = "unavailable";
      n.note = "FlashInfer " + r.to + " has no SM90 mixed-GEMM interleave helpers (" + r.from + " runs " + n.layout_a + ")";
    } else {
      n.status = "b-unavailable";
      n.note = "SM90 interleave changes from " + n.layout_a + " to " + n.layout_b + "; the variant models " + wl +
               " only" + (why_b.empty() ? "" : ": " + why_b);
    }
  } else {
    q.against = "reference";
    q.flashinfer = r.to;
    n.b_vs_ref = try_replay(q, why_b);
    n.status = n.b_vs_ref ? "unchanged-model" : "unavailable";
    n.note = n.b_vs_ref ? "the variant's model has no FlashInfer version table" +
                              std::string(n.layout_a.empty() ? "" : " and both versions run " + n.layout_a) +
                              ": A and B replay identically (shown against the fp64 reference)"
                        : "cannot replay: " + why_b;
  }
  bc.numerics.push_back(std::move(n));
}

}  // namespace

bool BumpCase::changed() const {
  if (oracle_a.backend != oracle_b.backend || oracle_a.error != oracle_b.error) return true;
  for (const auto& f : findings)
    if (f.change != "unchanged") return true;
  for (const auto& n : numerics)
    if (n.first_divergence || n.status == "a-unavailable" || n.status == "b-unavailable") return true;
  return !known_bad_fixed.empty() || !known_bad_introduced.empty();
}

BumpResult run_bump(const BumpRequest& r) {
  const auto t0 = std::chrono::steady_clock::now();
  if (r.from == r.to && r.from_framework == r.to_framework)
    throw InputError("moesim bump", "nothing changes: give --from A --to B (FlashInfer) and/or --from-framework/--to-framework");
  if (r.from.empty() != r.to.empty()) throw InputError("--from/--to", "give both FlashInfer versions or neither");
  if (r.from_framework.empty() != r.to_framework.empty())
    throw InputError("--from-framework/--to-framework", "give both framework revisions or neither");
  const Suite s = load_suite(r.suite);
  const auto il = models::Sm90InterleaveVersions::load(models_dir());
  BumpResult out;
  out.suite_path = s.path;
  out.suite_name = s.name;
  out.description = s.description;
  out.from = r.from;
  out.to = r.to;
  out.from_framework = r.from_framework;
  out.to_framework = r.to_framework;
  struct Inst {
    const SuiteCase* c;
    std::string trace;
  };
  std::vector<Inst> insts;
  for (const auto& c : s.cases) {
    if (c.traces.empty()) insts.push_back({&c, ""});
    for (const auto& t : c.traces) insts.push_back({&c, t});
  }
  for (std::size_t i = 0; i < insts.size(); ++i) {
    const auto& in = insts[i];
    const SuiteCase& sc = *in.c;
    BumpCase bc;
    bc.case_name = sc.name;
    bc.trace = in.trace;
    bc.id = sc.name + "/" + (in.trace.empty() ? sc.preset + "-" + std::to_string(sc.tokens) : fs::path(in.trace).stem().string());
    if (r.on_case) r.on_case(i, insts.size(), bc.id);
    const auto c0 = std::chrono::steady_clock::now();
    try {
      CheckRequest q;
      if (!in.trace.empty()) q.trace = in.trace;
      else {
        q.preset = sc.preset;
        q.tokens = sc.tokens;
      }
      q.devices = sc.devices;
      q.quant = sc.quant;
      q.global_scale_numel = sc.global_scale_numel;
      q.threshold = true;
      CheckRequest qa = q, qb = q;
      if (!r.from.empty()) qa.flashinfer = {r.from}, qb.flashinfer = {r.to};
      else if (!sc.flashinfer.empty()) qa.flashinfer = qb.flashinfer = {sc.flashinfer[0]};
      split_framework(r.from_framework.empty() ? sc.framework : r.from_framework, qa);
      split_framework(r.to_framework.empty() ? sc.framework : r.to_framework, qb);
      const CheckResult ca = run_check(qa), cb = run_check(qb);
      bc.oracle_a = oracle_side(ca, qa.vllm);
      bc.oracle_b = oracle_side(cb, qb.vllm);
      if (ca.decision && cb.decision) bc.oracle_why = oracle_diff(*ca.decision, *cb.decision);
      if (!ca.decision && !cb.decision) bc.notes.push_back("no framework named: the backends are not chosen by an oracle (every modelled variant checked)");
      for (const auto& n : ca.report.notes) bc.notes.push_back("A: " + n);
      for (const auto& n : cb.report.notes) bc.notes.push_back("B: " + n);
      std::map<std::string, FindingChange> m;
      for (const auto& f : ca.report.findings) {
        auto& e = m[finding_key(f)];
        e.key = finding_key(f);
        if (!e.a) e.a = f;
      }
      for (const auto& f : cb.report.findings) {
        auto& e = m[finding_key(f)];
        e.key = finding_key(f);
        if (!e.b) e.b = f;
      }
      for (auto& [k, e] : m) {
        if (!e.b) e.change = "disappeared";
        else if (!e.a) e.change = "appeared";
        else if (e.a->severity != e.b->severity) e.change = "severity";
        else if (e.a->first_failing_tokens != e.b->first_failing_tokens) e.change = "threshold";
        else e.change = "unchanged";
        if (k.rfind(kernels::finding_id::kKnownBadVersion, 0) == 0) {
          if (e.change == "disappeared") bc.known_bad_fixed.push_back(detail(*e.a, "entry") + ": " + e.a->message);
          if (e.change == "appeared") bc.known_bad_introduced.push_back(detail(*e.b, "entry") + ": " + e.b->message);
        }
        bc.findings.push_back(std::move(e));
      }
      if (!in.trace.empty()) {
        traces::Trace t = traces::read_trace(in.trace);
        if (t.weights.present) {
          std::vector<std::string> vs = sc.variants;
          if (vs.empty()) vs = {t.context.backend.empty() ? "triton_bf16" : t.context.backend};
          for (const auto& v : vs) run_numerics(bc, in.trace, v, r, il);
        } else {
          bc.notes.push_back("shape-only trace: no numerics to replay");
        }
      }
    } catch (const InputError& e) {
      bc.error = e.what();
    }
    bc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    out.cases.push_back(std::move(bc));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace moesim::workflows
