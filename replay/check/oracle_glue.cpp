#include "replay/check/oracle_glue.hpp"

#include <algorithm>
#include <set>

#include "sim/core/error.hpp"

namespace moesim::check {

namespace {
std::string oracle_activation(const std::string& a, bool gated) {
  if (!gated && (a == "relu2" || a == "relu2_no_mul")) return "relu2_no_mul";
  return a;
}
}  // namespace

oracle::OracleQuery oracle_query(const models::OracleGlue& glue, const models::Framework& rules, const Workload& w,
                                 const CheckOptions& opt, const OracleContext& ctx, const models::DeviceTable& devices) {
  oracle::OracleQuery q;
  q.framework = ctx.framework + "@" + (ctx.revision.empty() ? "main" : ctx.revision);
  q.device = "sm" + std::to_string(devices.find(ctx.device).sm);
  q.quant = glue.oracle_quant(ctx.framework, w.model.quant);
  q.flashinfer_version = ctx.flashinfer;
  q.env = w.context.env;
  auto set_if_known = [&](const std::string& k, const std::string& v) {
    if (rules.find_trait(k)) q.traits[k] = v;
  };
  set_if_known("activation", oracle_activation(w.model.activation, w.model.gated));
  set_if_known("dp_size", std::to_string(opt.parallel.dp));
  set_if_known("ep_size", std::to_string(opt.parallel.ep));
  set_if_known("tp_size", std::to_string(opt.parallel.tp));
  set_if_known("num_experts", std::to_string(w.model.num_experts));
  set_if_known("top_k", std::to_string(w.model.top_k));
  if (w.model.hidden > 0) set_if_known("hidden_dim", std::to_string(w.model.hidden));
  for (const auto& [k, v] : glue.traits_for(ctx.framework, dispatch::mode_name(opt.parallel.mode), ctx.preset_routing, ctx.preset))
    set_if_known(k, v);
  // The user's --trait values the oracle reads win over derived ones.
  for (const auto& [k, v] : opt.traits)
    if (rules.find_trait(k)) q.traits[k] = v;
  return q;
}

OracleChoice apply_decision(const models::OracleGlue& glue, const oracle::OracleDecision& d, const Workload& w) {
  OracleChoice c;
  const std::string fam = glue.family_of(d.backend);
  bool modelled = false;
  for (const auto& v : variants()) modelled = modelled || v.id == fam;
  c.notes.push_back(d.framework + "@" + d.revision + " selects backend '" + d.backend + "' (moesim oracle" +
                    (d.candidate.empty() ? "" : ", candidate " + d.candidate) + ")");
  if (!modelled) {
    c.notes.push_back("backend '" + d.backend + "' has no launch model in moesim check yet: nothing else checked");
  } else {
    c.backends = {fam};
    if (fam != d.backend) c.notes.push_back("backend '" + d.backend + "' runs the '" + fam + "' kernels: checked as " + fam);
  }
  const std::string q = glue.candidate_quant_of(d.framework, d.candidate);
  if (!q.empty() && q != w.model.quant) {
    c.quant = q;
    c.notes.push_back("candidate " + d.candidate + " implies quant " + q + " (was " + w.model.quant + "): checked as " + q);
  }
  for (const auto& r : d.results)
    for (const auto& [k, v] : r.properties)
      if (k == "kernel_class") {
        if (v.find("Modular") != std::string::npos) c.trtllm_class = "modular";
        else if (v.find("Monolithic") != std::string::npos) c.trtllm_class = "monolithic";
      }
  const std::string& fv = d.flashinfer_version;
  if (!fv.empty() && fv != "none" && fv != "unknown") {
    c.flashinfer = fv;
  } else {
    c.notes.push_back(d.framework + "@" + d.revision + " pins no FlashInfer release moesim knows ('" +
                      (fv.empty() ? std::string("unset") : fv) + "'): FlashInfer families are checked at every release "
                      "(give --flashinfer V to narrow)");
  }
  return c;
}

void validate_traits(const std::map<std::string, std::string>& traits, const models::Framework* rules,
                     const models::KnownBadTable& known_bad, const std::vector<std::string>& family_traits) {
  std::set<std::string> known(family_traits.begin(), family_traits.end());
  for (const auto& e : known_bad.entries)
    for (const auto& [k, v] : e.conditions.traits) known.insert(k);
  if (rules)
    for (const auto& t : rules->traits) known.insert(t.name);
  for (const auto& [k, v] : traits) {
    if (known.count(k)) continue;
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    throw InputError("--trait " + k, "no model reads this trait (known: " + list + ")");
  }
}

}  // namespace moesim::check
