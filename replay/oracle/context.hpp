#pragma once
// What an oracle predicate can see: device, quant, FlashInfer version, env, traits, and the
// values of selectors evaluated earlier. Evaluation returns the verdict and the values seen.
#include <map>
#include <optional>
#include <set>
#include <string>

#include "models/lib/framework_rules.hpp"

namespace moesim::oracle {

struct Context {
  int sm = 0;
  std::string platform;
  std::string quant;
  std::optional<models::PyVersion> flashinfer;  // nullopt = not installed (or unknown)
  bool flashinfer_unknown = false;               // no version given and none pinned
  std::map<std::string, std::string> env;          // as given (normalised: int_bool -> "0"/"1")
  std::map<std::string, std::string> env_default;  // upstream default when unset (env_value_in)
  std::map<std::string, std::string> traits;   // every declared trait, defaults filled in
  std::map<std::string, std::string> results;  // selector id -> value
  // Inputs the evaluated predicates read ("env:NAME", "trait:NAME", "device", "quant",
  // "flashinfer"): the JSON output lists them as the inputs that decided the answer.
  mutable std::set<std::string> read;
};

struct Verdict {
  bool pass = false;
  std::string observed;
  // The predicate reads an input the query did not give (e.g. trait hidden_dim = 0): not
  // decided. A candidate whose other requirements all hold cannot be accepted or rejected
  // then, and the walk refuses (InputError naming the input) instead of guessing.
  bool unknown = false;
};

Verdict evaluate(const models::Expr& e, const Context& ctx);

}  // namespace moesim::oracle
