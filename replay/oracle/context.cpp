#include "replay/oracle/context.hpp"

#include <algorithm>

#include "sim/core/error.hpp"

namespace moesim::oracle {

namespace {

template <class T>
std::string set_str(const std::vector<T>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    if constexpr (std::is_same_v<T, std::string>) s += v[i];
    else s += std::to_string(v[i]);
  }
  return s + "}";
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string yn(bool b) { return b ? "yes" : "no"; }

std::int64_t trait_int(const Context& ctx, const models::Expr& e) {
  auto it = ctx.traits.find(e.name);
  if (it == ctx.traits.end()) throw InputError(e.where, "trait '" + e.name + "' has no value");
  return std::stoll(it->second);  // validated as an integer when the query was built
}

}  // namespace

Verdict evaluate(const models::Expr& e, const Context& ctx) {
  const std::string& op = e.op;
  const int family = ctx.sm / 10;
  if (op.rfind("sm_", 0) == 0 || op == "platform_in") ctx.read.insert("device");
  else if (op == "quant_in") ctx.read.insert("quant");
  else if (op.rfind("flashinfer_", 0) == 0) ctx.read.insert("flashinfer");
  else if (op.rfind("env_", 0) == 0) ctx.read.insert("env:" + e.name);
  else if (op.rfind("trait_", 0) == 0) ctx.read.insert("trait:" + e.name);
  if (op == "all" || op == "any") {
    bool all = op == "all";
    Verdict out{all, ""};
    bool unknown = false;
    for (const auto& c : e.children) {
      Verdict v = evaluate(c, ctx);
      out.observed += (out.observed.empty() ? "" : all ? " AND " : " OR ") + std::string("[") + v.observed + "]";
      if (v.unknown) {
        unknown = true;
        continue;
      }
      out.pass = all ? (out.pass && v.pass) : (out.pass || v.pass);
    }
    // Decided by the known children alone when one of them settles it (a false under all,
    // a true under any); otherwise the unknown child decides.
    out.unknown = unknown && (all ? out.pass : !out.pass);
    if (out.unknown) out.pass = false;
    return out;
  }
  if (op == "not") {
    Verdict v = evaluate(e.children.front(), ctx);
    return {v.unknown ? false : !v.pass, "NOT [" + v.observed + "]", v.unknown};
  }
  if (op == "always") return {e.flag, e.flag ? "always" : "never"};
  if (op == "sm_in" || op == "sm_not_in") {
    bool in = contains<std::int64_t>(e.ints, ctx.sm);
    return {op == "sm_in" ? in : !in,
            "sm=" + std::to_string(ctx.sm) + (op == "sm_in" ? " in " : " not in ") + set_str(e.ints) + "? " +
                yn(op == "sm_in" ? in : !in)};
  }
  if (op == "sm_family_in") {
    // vLLM is_device_capability_family(x): to_int()//10 == x//10
    bool in = std::any_of(e.ints.begin(), e.ints.end(), [&](std::int64_t x) { return x / 10 == family; });
    return {in, "sm=" + std::to_string(ctx.sm) + " (family " + std::to_string(family * 10) + ") in families " +
                    set_str(e.ints) + "? " + yn(in)};
  }
  if (op == "sm_major_in") {
    bool in = contains<std::int64_t>(e.ints, family);
    return {in, "major=" + std::to_string(family) + " in " + set_str(e.ints) + "? " + yn(in)};
  }
  if (op == "sm_ge") return {ctx.sm >= e.num, "sm=" + std::to_string(ctx.sm) + " >= " + std::to_string(e.num) + "? " + yn(ctx.sm >= e.num)};
  if (op == "sm_lt") return {ctx.sm < e.num, "sm=" + std::to_string(ctx.sm) + " < " + std::to_string(e.num) + "? " + yn(ctx.sm < e.num)};
  if (op == "platform_in") {
    bool in = contains(e.strs, ctx.platform);
    return {in, "platform=" + ctx.platform + " in " + set_str(e.strs) + "? " + yn(in)};
  }
  if (op == "quant_in") {
    bool in = contains(e.strs, ctx.quant) || contains(e.strs, std::string("*"));
    return {in, "quant=" + ctx.quant + " in " + set_str(e.strs) + "? " + yn(in)};
  }
  if (op.rfind("flashinfer_", 0) == 0 && ctx.flashinfer_unknown)
    throw InputError(e.where, "this rule needs the flashinfer version, and the revision records no pin: pass --flashinfer VERSION (or 'none')");
  if (op == "flashinfer_installed") {
    bool have = ctx.flashinfer.has_value();
    return {have == e.flag, std::string("flashinfer ") + (have ? ctx.flashinfer->text + " installed" : "not installed")};
  }
  if (op == "flashinfer_ge" || op == "flashinfer_lt") {
    if (!ctx.flashinfer) return {false, "flashinfer not installed"};
    bool ge = *ctx.flashinfer >= *e.version;
    bool pass = op == "flashinfer_ge" ? ge : !ge;
    return {pass, "flashinfer=" + ctx.flashinfer->text + (op == "flashinfer_ge" ? " >= " : " < ") + e.version->text + "? " + yn(pass)};
  }
  if (op == "env_set" || op == "env_unset") {
    auto it = ctx.env.find(e.name);
    bool set = it != ctx.env.end();
    bool pass = op == "env_set" ? set : !set;
    return {pass, e.name + (set ? "=" + it->second : " unset")};
  }
  if (op == "env_in" || op == "env_not_in") {
    auto it = ctx.env.find(e.name);
    bool in = it != ctx.env.end() && contains(e.strs, it->second);
    bool pass = op == "env_in" ? in : !in;
    return {pass, e.name + (it == ctx.env.end() ? " unset" : "=" + it->second) + (op == "env_in" ? " in " : " not in ") +
                      set_str(e.strs) + "? " + yn(pass)};
  }
  if (op == "env_value_in") {
    // The value upstream code sees: the variable if set, else its declared default
    // (e.g. vLLM envs.VLLM_FLASHINFER_MOE_BACKEND is "latency" when unset).
    auto it = ctx.env.find(e.name);
    std::string v;
    std::string how;
    if (it != ctx.env.end()) {
      v = it->second;
      how = "=" + v;
    } else {
      auto d = ctx.env_default.find(e.name);
      v = d == ctx.env_default.end() ? "" : d->second;
      how = " unset (default '" + v + "')";
    }
    bool in = contains(e.strs, v);
    return {in, e.name + how + " in " + set_str(e.strs) + "? " + yn(in)};
  }
  if (op == "trait_in" || op == "trait_not_in") {
    auto it = ctx.traits.find(e.name);
    std::string v = it == ctx.traits.end() ? "" : it->second;
    bool in = contains(e.strs, v);
    bool pass = op == "trait_in" ? in : !in;
    return {pass, e.name + "=" + v + (op == "trait_in" ? " in " : " not in ") + set_str(e.strs) + "? " + yn(pass)};
  }
  if (op == "trait_ge" || op == "trait_lt") {
    std::int64_t v = trait_int(ctx, e);
    bool pass = op == "trait_ge" ? v >= e.num : v < e.num;
    return {pass, e.name + "=" + std::to_string(v) + (op == "trait_ge" ? " >= " : " < ") + std::to_string(e.num) + "? " + yn(pass)};
  }
  if (op == "trait_multiple_of") {
    // 0 = not given: upstream reads it here, so the answer depends on it.
    std::int64_t v = trait_int(ctx, e);
    if (v == 0) return {false, e.name + " not given (upstream requires a multiple of " + std::to_string(e.num) + ")", true};
    bool pass = v % e.num == 0;
    return {pass, e.name + "=" + std::to_string(v) + " % " + std::to_string(e.num) + " == 0? " + yn(pass)};
  }
  if (op == "result_in") {
    auto it = ctx.results.find(e.name);
    std::string v = it != ctx.results.end() ? it->second
                    : ctx.results.count(e.name.substr(0, e.name.rfind('.'))) ? "(none)"  // candidate lacks the property
                                                                              : "(not evaluated)";
    bool in = contains(e.strs, v);
    return {in, e.name + "=" + v + " in " + set_str(e.strs) + "? " + yn(in)};
  }
  throw InputError(e.where, "unknown predicate operator '" + op + "'");
}

}  // namespace moesim::oracle
