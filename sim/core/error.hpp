#pragma once
// moesim's one error type for bad input. Every user-facing failure is a single line that
// names where (file, dataset or JSON path) and what is wrong; the CLI maps it to exit code 2.
#include <stdexcept>
#include <string>

namespace moesim {

class InputError : public std::runtime_error {
 public:
  // where: "trace.h5:/calls/0/topk_ids", "models/devices/sm110.json:/grid_limits/y", ...
  InputError(std::string where, std::string problem)
      : std::runtime_error(where.empty() ? problem : where + ": " + problem),
        where_(std::move(where)), problem_(std::move(problem)) {}
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string where_;
  std::string problem_;
};

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;   // ran fine, but reported error-severity findings / diffs
inline constexpr int kExitBadInput = 2;   // InputError, bad command line
inline constexpr int kExitInternal = 3;   // a bug in moesim itself

}  // namespace moesim
