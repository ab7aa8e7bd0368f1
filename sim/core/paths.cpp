#include "sim/core/paths.hpp"

#include <cstdlib>

namespace moesim {
std::string models_dir() {
  if (const char* env = std::getenv("MOESIM_MODELS_DIR"); env && *env) return env;
  return MOESIM_DEFAULT_MODELS_DIR;
}
std::string source_dir() { return MOESIM_SOURCE_DIR; }
}  // namespace moesim
