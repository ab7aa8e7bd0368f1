#pragma once
// Known-bad library versions per kernel variant, and empirical crash regions reported on
// hardware (models/known_bad.json).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/lib/framework_version.hpp"

namespace moesim::models {

struct KnownBadEntry {
  std::string id, library, variant, severity, title, symptom, upstream;
  std::string gpu_error;          // the error text it prints ("" = silent wrong result or unknown)
  PyVersion min;
  std::optional<PyVersion> max;   // nullopt = unfixed at the newest tag read
  std::vector<int> sms;           // empty = any device
  std::vector<std::string> quant; // empty = any quant
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
