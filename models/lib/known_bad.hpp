#pragma once
// Known-bad library versions per kernel variant, and empirical crash regions reported on
// hardware (models/known_bad.json).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/framework_version.hpp"

namespace moesim::models {

// Conditions under which a known-bad entry bites, beyond version/device/quant ("conditions").
struct KnownBadConditions {
  std::int64_t min_tokens_per_call = 0;               // largest kernel call >= this (0 = any)
  double min_avg_tokens_per_expert = 0;               // T*K/local_E of the largest call > this (0 = any)
  std::vector<std::string> activations;               // model activation in this list (empty = any)
  std::vector<std::string> routings;                  // routing family (renormalize | deepseek) in this list
  std::map<std::string, std::string> traits;          // check --trait K=V that must be given
  std::string text() const;                           // "tokens per call >= 6000, trait per_token_scale=1"
};

struct KnownBadEntry {
  std::string id, library, variant, severity, title, symptom, upstream, fix;
  std::string gpu_error;          // the error text it prints ("" = silent wrong result or unknown)
  PyVersion min;
  std::optional<PyVersion> fixed_in;  // first release with the fix (exclusive); nullopt = unfixed at the newest tag read
  std::vector<int> sms;           // empty = any device
  std::vector<std::string> quant; // empty = any quant
  KnownBadConditions conditions;
  bool matches(const std::string& variant, const PyVersion& v, int sm, const std::string& quant) const;
};

struct EmpiricalCrashRegion {
  std::string id, library, variant, severity, title, upstream;
  std::string gpu_error;  // the error text reported on hardware
  std::vector<std::string> quant;
  std::int64_t num_experts = 0, top_k = 0;  // 0 = any
  std::int64_t min_tokens_per_call = 0;
  bool matches_shape(const std::string& variant, const std::string& quant, std::int64_t e, std::int64_t k) const;
};

struct KnownBadTable {
  std::vector<KnownBadEntry> entries;
  std::vector<EmpiricalCrashRegion> regions;
  std::string file;
  static KnownBadTable load(const std::string& models_dir);
};

}  // namespace moesim::models
