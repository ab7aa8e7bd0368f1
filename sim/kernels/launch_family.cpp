#include "sim/kernels/launch_family.hpp"

#include <algorithm>
#include <climits>

#include "models/lib/framework_version.hpp"
#include "sim/core/error.hpp"

namespace moesim::kernels::launch {

namespace {

std::string revision_list(const FamilyData& f) {
  std::string s;
  for (const auto& r : f.revisions)
    s += (s.empty() ? "" : ", ") + r.id + (r.release.empty() ? std::string(" (main only)") : " (" + r.release + ")");
  return s;
}

bool looks_like_version(const std::string& s) {
  const std::string t = !s.empty() && (s[0] == 'v' || s[0] == 'V') ? s.substr(1) : s;
  return !t.empty() && std::isdigit(static_cast<unsigned char>(t[0])) && t.find('.') != std::string::npos;
}

}  // namespace

std::size_t select_revision(const FamilyData& f, const std::string& point) {
  if (f.revisions.empty()) throw InputError(f.file, "family has no revisions");
  if (point.empty()) return f.revisions.size() - 1;
  for (std::size_t i = 0; i < f.revisions.size(); ++i)
    if (f.revisions[i].id == point) return i;
  if (looks_like_version(point)) {
    const std::string t = point[0] == 'v' || point[0] == 'V' ? point.substr(1) : point;
    const auto want = models::PyVersion::parse(t, "--release " + f.framework + "@" + point);
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < f.revisions.size(); ++i) {
      const auto& r = f.revisions[i];
      if (r.release.empty()) continue;
      if (models::PyVersion::parse(r.release, f.file + ":/revisions/" + std::to_string(i) + "/release") <= want) best = i;
    }
    if (!best)
      throw InputError("--release " + f.framework + "@" + point,
                       f.id + " is not modelled before its first revision (" + revision_list(f) + ")");
    return *best;
  }
  throw InputError("--release " + f.framework + "@" + point,
                   "unknown " + f.framework + " release or revision for " + f.id + " (a release like 0.9.1, or one of: " +
                       revision_list(f) + ")");
}

std::vector<const Hazard*> hazards_at(const FamilyData& f, std::size_t r) {
  std::vector<const Hazard*> out;
  for (std::size_t i = 0; i <= r && i < f.revisions.size(); ++i) {
    for (const Hazard& h : f.revisions[i].hazards) {
      auto it = std::find_if(out.begin(), out.end(), [&](const Hazard* x) { return x->id == h.id; });
      if (it != out.end()) out.erase(it);
      if (!h.removed) out.push_back(&h);
    }
  }
  return out;
}

expr::Vars base_vars(const FamilyData& f, const LaunchProblem& p, const LaunchEnv& env) {
  expr::Vars v;
  v["T"] = p.tokens;
  v["E"] = p.num_experts;
  v["El"] = p.local_experts > 0 ? p.local_experts : p.num_experts;
  v["K"] = p.top_k;
  v["H"] = p.hidden;
  v["I"] = p.intermediate;
  v["N1"] = p.n1();
  v["gated"] = p.gated ? 1 : 0;
  v["dp"] = env.dp;
  v["ep"] = env.ep;
  v["tp"] = env.tp;
  v["batched"] = env.batched_layout ? 1 : 0;
  v["INT32_MAX"] = INT32_MAX;
  v["UINT32_MAX"] = UINT32_MAX;
  if (env.device) {
    v["sm"] = env.device->sm;
    v["sm_count"] = env.device->sm_count;
    v["smem_optin"] = env.device->smem_per_block_optin;
    if (env.device->memory_bytes > 0) v["mem_bytes"] = env.device->memory_bytes;
    v["grid_x_max"] = env.device->grid_max[0];
    v["grid_y_max"] = env.device->grid_max[1];
    v["grid_z_max"] = env.device->grid_max[2];
  }
  for (const Input& in : f.inputs) {
    auto t = env.traits.find(in.name);
    if (t != env.traits.end()) {
      try {
        std::size_t used = 0;
        const long long x = std::stoll(t->second, &used);
        if (used != t->second.size()) throw std::invalid_argument("trailing");
        v[in.name] = x;
      } catch (const std::exception&) {
        throw InputError("--trait " + in.name, "expected an integer, got '" + t->second + "'");
      }
    } else if (in.dflt) {
      v[in.name] = *in.dflt;
    } else {
      throw InputError(f.id, "needs --trait " + in.name + "=N (" + in.doc + ")");
    }
  }
  for (const char* q : {"bf16", "fp16", "fp8_per_tensor", "fp8_block128", "mxfp8", "nvfp4", "mxfp4", "mxfp4_bf16", "int4_w4a16"})
    v[std::string("q_") + q] = p.quant == q ? 1 : 0;
  {
    const auto [a, w] = quant_dtypes(p.quant);
    v["abits"] = dtype_bits(a);
    v["wbits"] = dtype_bits(w);
  }
  const std::int64_t fused = v.count("fused_shared") ? v["fused_shared"] : 0;
  v["Ek"] = v["El"] + fused;
  v["Kk"] = p.top_k + fused;
  return v;
}

const FamilyData& family(const LaunchEnv& env, const std::string& id) {
  if (!env.launch_families) throw InputError(id, "launch-family data not loaded (models/launch)");
  const FamilyData* f = env.launch_families->find(id);
  if (!f) throw InputError(id, "no models/launch entry for this family");
  return *f;
}

std::optional<Finding> unavailable(const FamilyData& f, const LaunchProblem& p, const LaunchEnv& env) {
  std::string why;
  if (!f.quants.empty() && std::find(f.quants.begin(), f.quants.end(), p.quant) == f.quants.end()) {
    std::string q;
    for (const auto& x : f.quants) q += (q.empty() ? "" : ", ") + x;
    why = "quant " + p.quant + " is not one this kernel runs (" + q + ")";
  } else if (env.device && ((f.min_sm && env.device->sm < f.min_sm) || (f.max_sm && env.device->sm > f.max_sm))) {
    why = "SM " + std::to_string(env.device->sm) + " is outside the kernel's range [" + std::to_string(f.min_sm) + ", " +
          (f.max_sm ? std::to_string(f.max_sm) : std::string("any")) + "]" + (f.availability.empty() ? "" : " (" + f.availability + ")");
  }
  if (why.empty()) return std::nullopt;
  Finding x;
  x.id = finding_id::kEmptyTacticSet;
  x.severity = Severity::error;
  x.kernel = f.id;
  x.stage = "dispatch";
  x.tokens = p.tokens;
  x.message = f.description + " does not run here: " + why;
  x.formula = why;
  x.limit = "a supported quant / device";
  x.upstream = f.availability.empty() ? f.file : f.availability;
  x.details.emplace_back("applies", "no");
  return x;
}

std::vector<Finding> evaluate(const FamilyData& f, expr::Vars vars, const LaunchProblem& p, const LaunchEnv& env) {
  std::vector<Finding> out;
  if (auto u = unavailable(f, p, env)) {
    out.push_back(*u);
    return out;
  }
  auto rel = env.releases.find(f.framework);
  const std::size_t r = select_revision(f, rel == env.releases.end() ? "" : rel->second);
  const Revision& rev = f.revisions[r];
  for (const Let& l : f.lets) vars[l.name] = l.value.eval(vars);
  for (std::size_t i = 0; i <= r; ++i)
    for (const Let& l : f.revisions[i].lets) vars[l.name] = l.value.eval(vars);
  const std::string fw = f.framework + "@" + (rel == env.releases.end() ? rev.id : rel->second);
  // A hazard whose value is one derived name shows that name's formula.
  auto let_of = [&](const std::string& name) -> const Let* {
    const Let* found = nullptr;
    for (const Let& l : f.lets)
      if (l.name == name) found = &l;
    for (std::size_t i = 0; i <= r; ++i)
      for (const Let& l : f.revisions[i].lets)
        if (l.name == name) found = &l;
    return found;
  };
  for (const Hazard* h : hazards_at(f, r)) {
    if (!h->when.empty() && h->when.eval(vars) == 0) continue;
    const std::int64_t value = h->value.eval(vars);
    const std::int64_t limit = h->limit.eval(vars);
    bool ok = true;
    if (h->cmp == "<=") ok = value <= limit;
    else if (h->cmp == "<") ok = value < limit;
    else if (h->cmp == "==") ok = value == limit;
    else if (h->cmp == ">=") ok = value >= limit;
    else if (h->cmp == "%") ok = limit > 0 && value % limit == 0;
    if (ok) continue;
    Finding x;
    x.id = h->finding;
    x.severity = parse_severity(h->severity);
    x.kernel = f.id;
    x.stage = h->stage;
    x.tokens = p.tokens;
    x.framework = fw;
    x.basis = h->basis;
    x.message = h->message;
    const auto names = h->value.variables();
    const Let* shown = names.size() == 1 && h->value.text().find_first_of("+-*/%(") == std::string::npos ? let_of(names[0]) : nullptr;
    x.formula = shown ? h->value.text() + " = " + shown->value.text() + " = " + shown->value.substituted(vars) + " = " + fmt_int(value)
                      : h->value.text() + " = " + h->value.substituted(vars) + " = " + fmt_int(value);
    const std::string lim = h->limit_text.empty() ? h->limit.text() : h->limit_text;
    if (h->cmp == "%")
      x.limit = "a multiple of " + lim + " = " + fmt_int(limit);
    else
      x.limit = h->cmp + " " + lim + (lim == fmt_int(limit) ? "" : " = " + fmt_int(limit));
    x.value = value;
    x.limit_value = limit;
    x.upstream = h->upstream;
    x.details.emplace_back("hazard", h->id);
    x.details.emplace_back("revision", rev.id + (rev.release.empty() ? "" : " (" + f.framework + " " + rev.release + ")"));
    x.gpu_error = h->error_text;
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<std::int64_t> segment_starts(const LaunchProblem&, const LaunchEnv&, std::int64_t lo, std::int64_t) {
  return {lo};
}

std::string revision_note(const FamilyData& f, const LaunchEnv& env) {
  auto rel = env.releases.find(f.framework);
  const std::size_t r = select_revision(f, rel == env.releases.end() ? "" : rel->second);
  const Revision& rev = f.revisions[r];
  std::string s = f.id + ": modelled at revision " + rev.id +
                  (rev.release.empty() ? " (main only)" : " (first in " + f.framework + " " + rev.release + ")") +
                  (rev.commit.empty() ? "" : ", " + rev.commit.substr(0, 12));
  if (rel == env.releases.end()) s += "; no " + f.framework + " release given (--release " + f.framework + "@VERSION): newest";
  for (const auto& n : f.not_modelled) s += "; not modelled: " + n;
  return s;
}

}  // namespace moesim::kernels::launch
