#include "workflows/regress.hpp"

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "models/lib/json_node.hpp"
#include "replay/diff.hpp"
#include "replay/ranks/ranks.hpp"
#include "sim/core/error.hpp"
#include "sim/core/sha256.hpp"
#include "workflows/check_job.hpp"
#include "workflows/replay_job.hpp"
#include "workflows/result_codec.hpp"

namespace moesim::workflows {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// Upper edge of bucket i of the ULP histogram (replay/diff.hpp): 0, 1, 2, 4, 8, 16, 64, 256, >256.
std::int64_t bucket_edge(std::size_t i) {
  static const std::int64_t e[] = {0, 1, 2, 4, 8, 16, 64, 256, 257};
  return e[i];
}

std::int64_t max_ulp_of(const replay::BufferDiff& d) {
  std::int64_t m = 0;
  for (std::size_t i = 0; i + 1 < replay::kUlpBuckets; ++i)
    if (d.ulp_hist[i]) m = bucket_edge(i);
  return m;
}

std::string finding_key(const kernels::Finding& f) {
  std::string k = f.id + " " + f.kernel + "/" + f.stage + " [" + kernels::severity_name(f.severity) + "]";
  if (!f.device.empty()) k += " " + f.device;
  if (!f.library_version.empty()) k += " " + f.library_version;
  return k;
}

// The first failing call of a replay against golden / another side, as one line naming the stage.
std::string divergence_text(const ReplayReport& rep, std::optional<std::string>& first) {
  for (const auto& c : rep.calls) {
    if (!c.diff) continue;
    const auto& d = *c.diff;
    const bool out_bad = d.output_compared && !d.output.bit_identical();
    if (!d.first_divergence && !out_bad) continue;
    const std::string stage = d.first_divergence ? *d.first_divergence : "output";
    const replay::BufferDiff* b = &d.output;
    for (const auto& s : d.stages)
      if (s.compared && s.stage == stage) b = &s.diff;
    if (!first) first = stage;
    return "call " + std::to_string(c.call) + ": first divergent stage " + stage + " against " + d.b_name + " (" +
           std::to_string(b->identical) + "/" + std::to_string(b->count) + " bit-identical, max_abs " + num(b->max_abs) +
           ", first mismatch at element " + std::to_string(b->first_mismatch) + ")";
  }
  return "";
}

void record_metrics(Recorded& r, const ReplayReport& rep) {
  for (const auto& c : rep.calls) {
    if (!c.diff || !c.diff->output_compared) continue;
    const auto& o = c.diff->output;
    const double rl2 = std::isfinite(o.rel_l2) ? o.rel_l2 : HUGE_VAL;
    if (!r.has_metrics) {
      r.has_metrics = true;
      r.rel_l2 = rl2;
      r.bit_identical_pct = o.identical_pct();
      r.max_ulp = max_ulp_of(o);
    } else {
      r.rel_l2 = std::max(r.rel_l2, rl2);
      r.bit_identical_pct = std::min(r.bit_identical_pct, o.identical_pct());
      r.max_ulp = std::max(r.max_ulp, max_ulp_of(o));
    }
    r.nan += o.nan_a;
    r.inf += o.inf_a;
  }
}

void check_bounds(CaseResult& cr, const Bounds& b, const ReplayReport& rep) {
  for (const auto& c : rep.calls) {
    if (!c.diff || !c.diff->output_compared) {
      cr.failures.push_back("call " + std::to_string(c.call) + ": output not compared against " + rep.against);
      continue;
    }
    const auto& o = c.diff->output;
    const std::string where = "call " + std::to_string(c.call) + " vs " + rep.against + ": ";
    auto stage_note = [&]() {
      std::optional<std::string> f;
      const std::string t = divergence_text(rep, f);
      if (f && !cr.first_divergence) cr.first_divergence = f;
      return f ? " (first divergent stage " + *f + ")" : std::string();
    };
    if (b.max_rel_l2 && !(o.rel_l2 <= *b.max_rel_l2))
      cr.failures.push_back(where + "rel L2 " + num(o.rel_l2) + " > bound " + num(*b.max_rel_l2) + stage_note());
    if (b.max_ulp) {
      std::size_t lim = 0;
      while (lim + 1 < replay::kUlpBuckets - 1 && bucket_edge(lim) < *b.max_ulp) ++lim;
      std::int64_t over = 0;
      for (std::size_t i = lim + 1; i < replay::kUlpBuckets; ++i) over += o.ulp_hist[i];
      if (over > 0)
        cr.failures.push_back(where + std::to_string(over) + " elements beyond " + std::to_string(*b.max_ulp) + " ULP" + stage_note());
    }
    if (b.min_bit_identical_pct && o.identical_pct() < *b.min_bit_identical_pct)
      cr.failures.push_back(where + num(o.identical_pct()) + "% bit-identical < bound " + num(*b.min_bit_identical_pct) + "%" +
                            stage_note());
    if (b.max_nan && o.nan_a > *b.max_nan)
      cr.failures.push_back(where + std::to_string(o.nan_a) + " NaN outputs > bound " + std::to_string(*b.max_nan));
    if (b.max_inf && o.inf_a > *b.max_inf)
      cr.failures.push_back(where + std::to_string(o.inf_a) + " Inf outputs > bound " + std::to_string(*b.max_inf));
  }
}

json::object to_json(const Recorded& r) {
  json::object o{{"output_sha256", r.output_sha256}, {"backend", r.backend}};
  if (r.has_metrics)
    o["metrics"] = json::object{{"rel_l2", r.rel_l2},   {"bit_identical_pct", r.bit_identical_pct},
                                {"max_ulp", r.max_ulp}, {"nan", r.nan},
                                {"inf", r.inf}};
  else
    o["metrics"] = nullptr;
  json::array fs;
  for (const auto& f : r.findings) fs.push_back(json::string(f));
  o["findings"] = std::move(fs);
  return o;
}

std::string metrics_text(const json::value& m) {
  if (m.is_null()) return "none";
  const auto& o = m.as_object();
  std::string s;
  for (const auto& [k, v] : o) s += std::string(s.empty() ? "" : ", ") + std::string(k) + " " + json::serialize(v);
  return s;
}

void compare_baseline(CaseResult& cr, const SuiteCase& sc, const std::string& dir) {
  const std::string path = baseline_file(dir, cr.id);
  if (!fs::exists(path)) {
    cr.failures.push_back("no baseline entry " + path + " (record one with --update-baseline " + dir + ")");
    return;
  }
  const models::Document doc = models::Document::load(path);
  const models::Node b = doc.root();
  const json::object now = to_json(cr.recorded);
  cr.baseline_compared = true;
  const std::string old_sha = b.get_string("output_sha256", "");
  if (old_sha != cr.recorded.output_sha256 && !sc.allows("output"))
    cr.failures.push_back("output bits changed against the baseline (sha256 " + old_sha.substr(0, 12) + " -> " +
                          cr.recorded.output_sha256.substr(0, 12) + ")" +
                          (cr.first_divergence ? "; first divergent stage " + *cr.first_divergence : std::string()));
  const json::value old_m = b.has("metrics") ? b.at("metrics").raw() : json::value(nullptr);
  if (json::serialize(old_m) != json::serialize(now.at("metrics")) && !sc.allows("metrics"))
    cr.failures.push_back("metrics changed against the baseline: " + metrics_text(old_m) + " -> " + metrics_text(now.at("metrics")));
  std::set<std::string> old_f, new_f(cr.recorded.findings.begin(), cr.recorded.findings.end());
  if (auto f = b.find("findings"))
    for (const auto& s : f->as_string_vector()) old_f.insert(s);
  if (!sc.allows("findings")) {
    for (const auto& f : new_f)
      if (!old_f.count(f)) cr.failures.push_back("new finding against the baseline: " + f);
    for (const auto& f : old_f)
      if (!new_f.count(f)) cr.failures.push_back("finding no longer reported (baseline had it): " + f);
  }
  const std::string old_b = b.get_string("backend", "");
  if (old_b != cr.recorded.backend && !sc.allows("backend"))
    cr.failures.push_back("oracle backend changed against the baseline: '" + old_b + "' -> '" + cr.recorded.backend + "'");
}

void write_baseline(const CaseResult& cr, const std::string& dir) {
  fs::create_directories(dir);
  json::object o = to_json(cr.recorded);
  o["id"] = cr.id;
  const std::string path = baseline_file(dir, cr.id), tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << json::serialize(o) << "\n";
    if (!f) throw InputError(tmp, "cannot write the baseline file");
  }
  fs::rename(tmp, path);
}

void run_instance(CaseResult& cr, const SuiteCase& sc, const std::string& trace, int threads) {
  if (sc.needs_replay()) {
    ReplayRequest q;
    q.trace = trace;
    q.variant = cr.variant;
    q.flashinfer = cr.flashinfer;
    q.threads = threads;
    q.keep_buffers = true;
    q.local = true;  // under MPI, regress distributes whole case instances
    std::optional<ReplayReport> primary;
    if (sc.expect.bit_identical_to_golden) {
      q.against = "golden";
      primary = run_replay(q);
      if (!primary->all_bit_identical()) {
        const std::string t = divergence_text(*primary, cr.first_divergence);
        cr.failures.push_back(t.empty() ? "not bit-identical to golden" : t);
      }
    }
    if (sc.expect.bounds) {
      q.against = sc.expect.bounds->against;
      q.keep_buffers = !primary;
      ReplayReport br = run_replay(q);
      check_bounds(cr, *sc.expect.bounds, br);
      if (!primary) primary = std::move(br);
    }
    Sha256 h;
    for (auto& c : primary->calls) {
      const auto& out = c.result.output().bytes();
      h.update(out.data(), out.size());
      c.result.buffers.clear();
      for (const auto& f : c.result.findings) cr.recorded.findings.push_back(finding_key(f));
    }
    cr.recorded.output_sha256 = h.hex_digest();
    record_metrics(cr.recorded, *primary);
    if (cr.variant.empty()) cr.notes.push_back("variant " + primary->variant + " (the trace's context backend)");
  }
  if (sc.needs_check()) {
    CheckRequest q;
    if (!trace.empty()) q.trace = trace;
    else {
      q.preset = sc.preset;
      q.tokens = sc.tokens;
    }
    q.devices = sc.devices;
    if (!cr.flashinfer.empty()) q.flashinfer = {cr.flashinfer};
    q.quant = sc.quant;
    q.global_scale_numel = sc.global_scale_numel;
    if (!sc.framework.empty()) {
      const auto at = sc.framework.find('@');
      (sc.framework.substr(0, at) == "vllm" ? q.vllm : q.sglang) = sc.framework.substr(at + 1);
    }
    const CheckResult r = run_check(q);
    if (r.decision) cr.recorded.backend = r.decision->error ? "(raises)" : r.decision->backend;
    std::set<std::string> ids;
    for (const auto& f : r.report.findings) {
      ids.insert(f.id);
      cr.recorded.findings.push_back(finding_key(f));
      if (sc.expect.no_error_findings && f.severity == kernels::Severity::error)
        cr.failures.push_back("finding " + f.id + " [error] kernel " + f.kernel + ", stage " + f.stage + ": " +
                              (f.formula.empty() ? f.message : f.formula));
    }
    for (const auto& id : sc.expect.findings)
      if (!ids.count(id)) cr.failures.push_back("expected finding " + id + " is not reported");
    if (!sc.expect.backend.empty() && cr.recorded.backend != sc.expect.backend)
      cr.failures.push_back("the " + sc.framework + " oracle picks '" + cr.recorded.backend + "', expected '" + sc.expect.backend + "'");
    for (const auto& n : r.report.notes) cr.notes.push_back(n);
  }
  std::sort(cr.recorded.findings.begin(), cr.recorded.findings.end());
  cr.recorded.findings.erase(std::unique(cr.recorded.findings.begin(), cr.recorded.findings.end()), cr.recorded.findings.end());
}

}  // namespace

std::string baseline_file(const std::string& dir, const std::string& id) {
  std::string f;
  for (char c : id) f += c == '/' ? std::string("__") : std::string(1, c);
  return (fs::path(dir) / (f + ".json")).string();
}

std::size_t RegressResult::count(CaseResult::Status s) const {
  std::size_t n = 0;
  for (const auto& c : cases) n += c.status == s;
  return n;
}

int RegressResult::exit_code() const {
  if (count(CaseResult::Status::error)) return 2;
  return count(CaseResult::Status::fail) ? 1 : 0;
}

RegressResult run_regress(const RegressRequest& r) {
  const auto t0 = std::chrono::steady_clock::now();
  const Suite s = load_suite(r.suite);
  RegressResult out;
  out.suite_path = s.path;
  out.suite_name = s.name;
  out.description = s.description;
  if (!r.update_baseline.empty()) {
    out.baseline = r.update_baseline;
    out.baseline_updated = true;
  } else if (!r.no_baseline) {
    out.baseline = r.baseline.empty() ? s.baseline : r.baseline;
    if (!out.baseline.empty() && !fs::is_directory(out.baseline))
      throw InputError(r.baseline.empty() ? s.path + ":/baseline" : "--baseline",
                       "baseline directory '" + out.baseline + "' does not exist (record one with --update-baseline DIR)");
  }
  struct Inst {
    const SuiteCase* c;
    std::string trace, variant, fi;
  };
  std::vector<Inst> insts;
  for (const auto& c : s.cases) {
    const std::vector<std::string> traces = c.traces.empty() ? std::vector<std::string>{""} : c.traces;
    const std::vector<std::string> variants = c.variants.empty() ? std::vector<std::string>{""} : c.variants;
    const std::vector<std::string> versions = c.flashinfer.empty() ? std::vector<std::string>{""} : c.flashinfer;
    for (const auto& t : traces)
      for (const auto& v : variants)
        for (const auto& fi : versions) insts.push_back({&c, t, v, fi});
  }
  auto run_one = [&](std::size_t i) {
    const Inst& in = insts[i];
    CaseResult cr;
    cr.case_name = in.c->name;
    cr.trace = in.trace;
    cr.variant = in.variant;
    cr.flashinfer = in.fi;
    cr.id = in.c->name + "/" + (in.trace.empty() ? in.c->preset + "-" + std::to_string(in.c->tokens) : fs::path(in.trace).stem().string()) +
            (in.variant.empty() ? "" : "/" + in.variant) + (in.fi.empty() ? "" : "@" + in.fi);
    if (r.on_case) r.on_case(i, insts.size(), cr.id);
    const auto c0 = std::chrono::steady_clock::now();
    try {
      run_instance(cr, *in.c, in.trace, r.threads);
      if (!out.baseline_updated && !out.baseline.empty()) compare_baseline(cr, *in.c, out.baseline);
      cr.status = cr.failures.empty() ? CaseResult::Status::pass : CaseResult::Status::fail;
    } catch (const InputError& e) {
      cr.status = CaseResult::Status::error;
      cr.failures.insert(cr.failures.begin(), std::string("bad input: ") + e.what());
    }
    cr.seconds = r.no_timings ? 0.0 : std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    return cr;
  };
  const int nranks = ranks::size(), me = ranks::rank();
  if (nranks == 1) {
    for (std::size_t i = 0; i < insts.size(); ++i) out.cases.push_back(run_one(i));
  } else {
    // Each rank runs its share; rank 0 gathers the results and puts them in instance order.
    RankShare share;
    std::string at;
    try {
      for (std::size_t i : regress_partition(insts.size(), nranks, me)) {
        at = "case instance " + std::to_string(i) + " (" + insts[i].c->name + (insts[i].trace.empty() ? "" : " " + insts[i].trace) + ")";
        ranks::fault_hook("regress " + at);
        share.items.push_back(encode_case_result(run_one(i)));
      }
    } catch (const std::exception& e) {
      share = RankShare{true, at + ": internal error: " + e.what(), false, {}};
    }
    auto share_of = [&](int q) {
      std::string d;
      for (std::size_t i : regress_partition(insts.size(), nranks, q))
        d += (d.empty() ? "case instances " : ", ") + std::to_string(i) + " " + insts[i].c->name;
      return d.empty() ? std::string("no case instances") : d.size() > 200 ? d.substr(0, 200) + "..." : d;
    };
    const auto all = ranks::gather(encode_share(share), "regress " + r.suite, share_of);
    if (me != 0) return out;
    std::vector<std::optional<CaseResult>> slots(insts.size());
    for (std::size_t q = 0; q < all.size(); ++q) {
      const RankShare sh = decode_share(all[q]);
      if (sh.failed) throw InputError("rank " + std::to_string(q) + ", " + sh.error.substr(0, sh.error.find(": ")), sh.error.substr(sh.error.find(": ") + 2));
      const auto idx = regress_partition(insts.size(), nranks, static_cast<int>(q));
      if (idx.size() != sh.items.size()) throw InputError("rank " + std::to_string(q), "reported " + std::to_string(sh.items.size()) +
                                                              " case results for " + std::to_string(idx.size()) + " instances");
      for (std::size_t k = 0; k < idx.size(); ++k) slots[idx[k]] = decode_case_result(sh.items[k]);
    }
    for (auto& c : slots) out.cases.push_back(std::move(*c));
  }
  // Only rank 0 (or the one process) writes the baseline.
  if (out.baseline_updated) {
    for (auto& cr : out.cases) {
      if (cr.status == CaseResult::Status::error) continue;
      try {
        write_baseline(cr, out.baseline);
      } catch (const InputError& e) {
        cr.status = CaseResult::Status::error;
        cr.failures.insert(cr.failures.begin(), std::string("bad input: ") + e.what());
      }
    }
  }
  if (r.on_case) r.on_case(insts.size(), insts.size(), "");
  out.seconds = r.no_timings ? 0.0 : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

std::vector<std::size_t> regress_partition(std::size_t n, int ranks, int rank) {
  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(rank); i < n; i += static_cast<std::size_t>(std::max(ranks, 1))) mine.push_back(i);
  return mine;
}

}  // namespace moesim::workflows
