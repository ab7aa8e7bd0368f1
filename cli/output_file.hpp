#pragma once
// Report files a command writes: to a temporary beside the target, then renamed, so a reader
// never sees a half-written report and an interrupted run leaves the old file in place.
#include <string>

namespace moesim::cli {

// InputError(where, ...) when the file cannot be written.
void write_output_file(const std::string& path, const std::string& content, const std::string& where);

}  // namespace moesim::cli
