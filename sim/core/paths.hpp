#pragma once
#include <string>

namespace moesim {
// Directory holding the JSON world data: $MOESIM_MODELS_DIR, else the source tree's models/.
std::string models_dir();
// Root of the source tree (for bundled traces and test data).
std::string source_dir();
}  // namespace moesim
