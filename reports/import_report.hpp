#pragma once
// Renders what an importer wrote (moesim import KIND): one summary line plus its notes.
#include <string>

#include "traces/import/import_result.hpp"

namespace moesim::reports {

std::string format_import_text(const traces::import::ImportResult& r);
std::string format_import_json(const traces::import::ImportResult& r);

}  // namespace moesim::reports
