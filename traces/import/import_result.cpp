#include "traces/import/import_result.hpp"

#include <unistd.h>

#include <filesystem>

#include "sim/core/error.hpp"

namespace moesim::traces::import {

void check_output_path(const std::string& output, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  if (output.empty()) throw InputError("--output", "missing output trace path (-o)");
  std::error_code ec;
  for (const auto& in : inputs)
    if (fs::exists(output, ec) && fs::exists(in, ec) && fs::equivalent(output, in, ec))
      throw InputError(output, "output would overwrite the input " + in);
}

std::string temp_path_for(const std::string& output) { return output + ".tmp." + std::to_string(::getpid()); }

void commit_temp(const std::string& tmp, const std::string& output) {
  std::error_code ec;
  std::filesystem::rename(tmp, output, ec);
  if (ec) {
    discard_temp(tmp);
    throw InputError(output, "cannot rename the finished trace into place: " + ec.message());
  }
}

void discard_temp(const std::string& tmp) {
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
}

}  // namespace moesim::traces::import
