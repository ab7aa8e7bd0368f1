#pragma once
// Shared helpers for importer tests: a per-test temp dir, Debian's python3 running the
// fixture writers in tests/traces/import/py, and the moesim CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/cli_run.hpp"

namespace moesim::testing {

inline std::string import_py(const std::string& script) {
  return std::string(MOESIM_PYTHON) + " " + std::string(MOESIM_TEST_DATA_DIR) + "/../traces/import/py/" + script;
}

// Runs a shell command, returns exit code and combined output.
inline CliRun run_sh(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Temp dirs are removed when the test binary exits (MOESIM_KEEP_TMP=1 keeps them).
struct TempDirs {
  std::vector<std::filesystem::path> dirs;
  ~TempDirs() {
    if (std::getenv("MOESIM_KEEP_TMP")) return;
    std::error_code ec;
    for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};

inline std::filesystem::path fresh_dir(const std::string& name) {
  static TempDirs all;
  const auto d = std::filesystem::temp_directory_path() / ("moesim_import_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  all.dirs.push_back(d);
  return d;
}

// python3-torch is a dependency (scripts/setup.sh installs it): a test that needs it fails,
// never skips, when it is missing -- a skipped .pt importer test would hide an untested path.
#define MOESIM_REQUIRE_TORCH()                                                                                              \
  do {                                                                                                               \
    const auto torch_check = ::moesim::testing::run_sh(std::string(MOESIM_PYTHON) + " -c 'import torch'");         \
    ASSERT_EQ(torch_check.rc, 0) << "python3-torch is missing (" << MOESIM_PYTHON                                   \
                                 << " cannot import torch): run scripts/setup.sh, which installs it. " << torch_check.out; \
  } while (0)

// One line of output (the CLI's error line) has no newline before its end.
inline bool one_line(const std::string& s) {
  const auto p = s.find('\n');
  return p == std::string::npos || p == s.size() - 1;
}

}  // namespace moesim::testing
