#include "workflows/repro.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "sim/core/error.hpp"
#include "traces/trace_io.hpp"

namespace moesim::workflows {
namespace {

// Lower-case words of a text, numbers dropped (they may be elided or differ per launch).
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    bool digits = !cur.empty();
    for (char c : cur) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!cur.empty() && !digits) out.push_back(cur);
    cur.clear();
  };
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_') cur += static_cast<char>(std::tolower(c));
    else flush();
  }
  flush();
  return out;
}

// a is a subsequence of b.
bool subsequence(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t i = 0;
  for (std::size_t j = 0; j < b.size() && i < a.size(); ++j)
    if (a[i] == b[j]) ++i;
  return i == a.size();
}

// Digit runs of 3+ digits (tile enums, sizes) that a user kept: each one found in the error
// text of a finding makes that finding the more specific match.
std::vector<std::string> long_numbers(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + " ") {
    if (std::isdigit(static_cast<unsigned char>(c))) cur += c;
    else {
      if (cur.size() >= 3) out.push_back(cur);
      cur.clear();
    }
  }
  return out;
}

struct Key {
  std::string id, kernel;
  bool operator==(const Key& o) const { return id == o.id && kernel == o.kernel; }
};

std::string fmt(std::int64_t v) { return std::to_string(v); }

// The workload with one call of `tokens` tokens, its per-expert load scaled from the busiest
// call of `base` (largest remainder, so the counts sum to tokens * top_k), uniform when unknown.
check::Workload with_tokens(const check::Workload& base, std::int64_t tokens) {
  check::Workload w = base;
  std::size_t busiest = 0;
  for (std::size_t i = 0; i < base.calls.size(); ++i)
    if (base.calls[i].num_tokens > base.calls[busiest].num_tokens) busiest = i;
  check::CallLoad c = base.calls.empty() ? check::CallLoad{} : base.calls[busiest];
  const std::int64_t E = std::max<std::int64_t>(base.model.num_experts, 1), slots = tokens * base.model.top_k;
  std::vector<std::int64_t> src = c.expert_counts;
  if (src.size() != static_cast<std::size_t>(E)) src.assign(static_cast<std::size_t>(E), 1);
  std::int64_t total = 0;
  for (auto v : src) total += v;
  if (total <= 0) {
    src.assign(static_cast<std::size_t>(E), 1);
    total = E;
  }
  std::vector<std::int64_t> out(src.size());
  std::vector<std::pair<long double, std::size_t>> rem;
  std::int64_t given = 0;
  for (std::size_t e = 0; e < src.size(); ++e) {
    const long double exact = static_cast<long double>(slots) * src[e] / total;
    out[e] = static_cast<std::int64_t>(exact);
    given += out[e];
    rem.push_back({exact - out[e], e});
  }
  std::stable_sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < slots && i < rem.size(); ++i, ++given) ++out[rem[i].second];
  c.num_tokens = tokens;
  c.expert_counts = out;
  if (!c.per_rank_tokens.empty()) c.per_rank_tokens.assign(c.per_rank_tokens.size(), tokens);
  c.max_expert_id.reset();
  c.min_expert_id.reset();
  for (std::size_t e = 0; e < out.size(); ++e)
    if (out[e] > 0) {
      if (!c.min_expert_id) c.min_expert_id = static_cast<std::int64_t>(e);
      c.max_expert_id = static_cast<std::int64_t>(e);
    }
  w.calls = {c};
  return w;
}

const kernels::Finding* firing(const CheckResult& r, const Key& k, const std::string& text) {
  for (const auto& f : r.report.findings)
    if (f.id == k.id && f.kernel == k.kernel && match_error_text(text, f.gpu_error) > 0) return &f;
  return nullptr;
}

std::string command_line(const CheckRequest& q, const std::string& trace, std::int64_t tokens) {
  std::string s = "moesim check";
  if (!trace.empty()) s += " " + trace;
  else s += " --preset " + q.preset + " --tokens " + fmt(tokens);
  if (!q.quant.empty()) s += " --quant " + q.quant;
  for (const auto& d : q.devices) s += " --device " + d;
  for (const auto& v : q.flashinfer) s += " --flashinfer " + v;
  if (!q.vllm.empty()) s += " --vllm " + q.vllm;
  if (!q.sglang.empty()) s += " --sglang " + q.sglang;
  for (const auto& b : q.backends) s += " --backend " + b;
  if (q.ep.value_or(1) != 1) s += " --ep " + fmt(*q.ep);
  if (q.dp.value_or(1) != 1) s += " --dp " + fmt(*q.dp);
  if (q.tp.value_or(1) != 1) s += " --tp " + fmt(*q.tp);
  if (q.dispatch != "none") s += " --dispatch " + q.dispatch;
  if (q.max_num_tokens) s += " --max-num-tokens " + fmt(q.max_num_tokens);
  if (q.global_scale_numel) s += " --global-scale-numel " + fmt(q.global_scale_numel);
  if (!q.tactic.empty()) s += " --tactic '" + q.tactic + "'";
  if (q.trtllm_class != "auto") s += " --trtllm-class " + q.trtllm_class;
  for (const auto& e : q.env) s += " --env " + e;
  return s;
}

void write_min_trace(const check::Workload& w, const CheckRequest& q, const std::string& path) {
  traces::Trace t;
  t.model = w.model;
  t.context = w.context;
  t.context.device = q.devices.empty() ? w.context.device : q.devices[0];
  t.context.flashinfer_version = q.flashinfer.empty() ? w.context.flashinfer_version : q.flashinfer[0];
  t.context.framework = !q.vllm.empty() ? "vllm@" + q.vllm : !q.sglang.empty() ? "sglang@" + q.sglang : "";
  t.context.backend = q.backends.size() == 1 ? q.backends[0] : "";
  t.context.ep = q.ep.value_or(1);
  t.context.dp = q.dp.value_or(1);
  t.context.tp = q.tp.value_or(1);
  t.context.max_num_batched_tokens = q.max_num_tokens;
  t.context.env.clear();
  for (const auto& kv : q.env) t.context.env.insert(oracle::parse_assignment(kv, "--env"));
  const auto& c = w.calls.at(0);
  traces::MoeCall call;
  call.num_tokens = c.num_tokens;
  call.expert_counts = c.expert_counts;
  t.calls = {call};
  t.attrs["created_by"] = "moesim repro";
  t.attrs["source"] = w.source;
  const std::string tmp = path + ".tmp";
  traces::write_trace(t, tmp);
  std::filesystem::rename(tmp, path);
}

}  // namespace

int match_error_text(const std::string& error_text, const std::string& gpu_error) {
  if (gpu_error.empty()) return 0;
  const auto user = words(error_text);
  // The part of the GPU text before its first parenthesis when that is a phrase of its own
  // ("Error occurred when running GEMM! (numBatches: ...)").
  std::vector<std::string> sig = words(gpu_error);
  const auto paren = gpu_error.find('(');
  if (paren != std::string::npos) {
    const auto head = words(gpu_error.substr(0, paren));
    if (head.size() >= 3) sig = head;
  }
  if (user.size() < 2 || sig.empty()) return 0;
  int score = 0;
  if (subsequence(user, words(gpu_error))) score = static_cast<int>(user.size());
  else if (subsequence(sig, user)) score = static_cast<int>(sig.size());
  if (score == 0) return 0;
  for (const auto& n : long_numbers(error_text))
    if (gpu_error.find(n) != std::string::npos) score += 10;
  return score;
}

ReproResult run_repro(const ReproRequest& r) {
  ReproResult out;
  out.error_text = r.error_text;
  if (words(r.error_text).size() < 2)
    throw InputError("--error", "give the error text the GPU printed (at least two words), e.g. 'Unsupported tile shape config ... for MoE gemm'");
  CheckRequest q = r.deployment;
  q.threshold = true;
  const check::Workload w0 = load_workload(q);
  const CheckResult c0 = run_check(q, w0);
  for (const auto& t : c0.report.targets)
    out.checked_targets.push_back(t.variant + " on " + t.device + (t.flashinfer.empty() ? "" : ", flashinfer " + t.flashinfer) +
                                  (t.framework.empty() ? "" : ", " + t.framework) + " (" + fmt(static_cast<std::int64_t>(t.kernel_calls)) +
                                  " kernel calls)");
  out.notes = c0.report.notes;
  for (const auto& f : c0.report.findings) {
    out.checked_findings.push_back({f.id + " [" + kernels::severity_name(f.severity) + "] " + f.kernel + "/" + f.stage, f.gpu_error});
    if (f.severity == kernels::Severity::info) continue;
    const int s = match_error_text(r.error_text, f.gpu_error);
    if (s > 0) out.explanations.push_back({f, s});
  }
  std::stable_sort(out.explanations.begin(), out.explanations.end(), [](const Explanation& a, const Explanation& b) {
    if (a.score != b.score) return a.score > b.score;
    return static_cast<int>(a.finding.severity) > static_cast<int>(b.finding.severity);
  });
  if (!out.explained()) return out;

  const kernels::Finding best = out.explanations[0].finding;
  const Key key{best.id, best.kernel};
  // Greedy reduction: each step is kept only while the explaining finding still fires.
  CheckRequest cur = q;
  cur.threshold = false;
  if (!best.device.empty()) cur.devices = {best.device};
  if (!best.library_version.empty()) cur.flashinfer = {best.library_version};
  auto fires = [&](const CheckRequest& cand, const check::Workload& w) {
    try {
      return firing(run_check(cand, w), key, r.error_text) != nullptr;
    } catch (const InputError&) {
      return false;  // a reduction the model refuses is not a smaller configuration
    }
  };
  const check::Workload wq = load_workload(cur);
  if (!fires(cur, wq)) cur = q, cur.threshold = false;
  std::vector<std::pair<std::string, std::function<void(CheckRequest&)>>> steps = {
      {"dispatch none", [](CheckRequest& x) { x.dispatch = "none"; }},
      {"ep 1", [](CheckRequest& x) { x.ep = 1; }},
      {"dp 1", [](CheckRequest& x) { x.dp = 1; }},
      {"tp 1", [](CheckRequest& x) { x.tp = 1; }},
      {"no max_num_batched_tokens", [](CheckRequest& x) { x.max_num_tokens = 0; }},
      {"no env", [](CheckRequest& x) { x.env.clear(); }},
      {"backend " + best.kernel, [&](CheckRequest& x) { x.backends = {best.kernel}; }},
      {"no framework", [](CheckRequest& x) { x.vllm.clear(), x.sglang.clear(); }},
  };
  for (auto& [what, apply] : steps) {
    CheckRequest cand = cur;
    apply(cand);
    if (cand.backends == cur.backends && cand.vllm == cur.vllm && cand.sglang == cur.sglang && cand.dispatch == cur.dispatch &&
        cand.ep == cur.ep && cand.dp == cur.dp && cand.tp == cur.tp && cand.max_num_tokens == cur.max_num_tokens &&
        cand.env == cur.env)
      continue;
    check::Workload w = load_workload(cand);
    if (fires(cand, w)) cur = cand;
  }
  // Exact first failing tokens per call in the reduced configuration.
  const check::Workload wr = load_workload(cur);
  CheckRequest thr = cur;
  thr.threshold = true;
  const CheckResult cr = run_check(thr, wr);
  std::int64_t tmax = 0;
  for (const auto& c : wr.calls) tmax = std::max(tmax, c.num_tokens);
  std::int64_t t_star = tmax;
  if (const auto* f = firing(cr, key, r.error_text); f && f->first_failing_tokens) {
    t_star = *f->first_failing_tokens;
    out.first_failing_basis = "threshold search of the explaining finding (moesim check --threshold)";
  } else if (fires(cur, with_tokens(wr, 1))) {
    t_star = 1;
    out.first_failing_basis = "fires at any token count: a property of the device, library version and kernel";
  } else {
    out.first_failing_basis = "no threshold search for this finding: fires at the " + fmt(tmax) + " tokens given";
  }
  // Confirm it: fires at t*, not at t* - 1.
  if (!fires(cur, with_tokens(wr, t_star)))
    out.notes.push_back("the explaining finding does not fire on a one-call workload of " + fmt(t_star) +
                        " tokens (it depends on more than one call's shape); the configuration below uses the calls as given");
  else if (t_star > 1 && fires(cur, with_tokens(wr, t_star - 1)))
    out.notes.push_back("also fires at " + fmt(t_star - 1) + " tokens on a one-call workload: the threshold holds for this finding's kernel-call shape only");
  out.first_failing_tokens = t_star;
  out.minimal_tokens = t_star;
  out.smallest = {{"tokens per call", fmt(t_star)}};
  out.smallest.push_back({"device", cur.devices.empty() ? wr.context.device : cur.devices[0]});
  out.smallest.push_back({"flashinfer", cur.flashinfer.empty() ? wr.context.flashinfer_version : cur.flashinfer[0]});
  out.smallest.push_back({"framework", !cur.vllm.empty() ? "vllm@" + cur.vllm : !cur.sglang.empty() ? "sglang@" + cur.sglang : "none needed"});
  out.smallest.push_back({"backend", cur.backends.empty() ? "(chosen by the framework oracle)" : cur.backends[0]});
  out.smallest.push_back({"parallel", "ep " + fmt(cur.ep.value_or(1)) + ", dp " + fmt(cur.dp.value_or(1)) + ", tp " + fmt(cur.tp.value_or(1)) +
                                          ", dispatch " + cur.dispatch});
  if (cur.max_num_tokens) out.smallest.push_back({"max_num_batched_tokens", fmt(cur.max_num_tokens)});
  out.smallest_command = command_line(cur, cur.preset.empty() ? (r.output.empty() ? cur.trace : r.output) : "", t_star);
  if (!r.output.empty()) {
    const check::Workload wm = with_tokens(wr, t_star);
    write_min_trace(wm, cur, r.output);
    out.minimal_trace = r.output;
    CheckRequest v;
    v.trace = r.output;
    v.global_scale_numel = cur.global_scale_numel;
    v.tactic = cur.tactic;
    v.trtllm_class = cur.trtllm_class;
    out.minimal_reproduces = fires(v, load_workload(v));
    out.minimal_note = out.minimal_reproduces
                           ? "`moesim check " + r.output + "` reports " + best.id + " on its own (deployment in /context)"
                           : "the minimal trace does not reproduce on its own; run: " + out.smallest_command;
    if (out.minimal_reproduces && (cur.global_scale_numel || !cur.tactic.empty() || cur.trtllm_class != "auto"))
      out.minimal_note += " with the options in the command above";
    if (!cur.preset.empty()) out.smallest_command = command_line(cur, r.output, t_star);
  }
  return out;
}

}  // namespace moesim::workflows
