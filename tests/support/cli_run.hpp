#pragma once
// Runs the real `moesim` binary (MOESIM_BINARY) with arguments and captures its exit code
// and combined stdout+stderr, for tests that check the CLI end to end.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace moesim::testing {

struct CliRun {
  int rc = -1;
  std::string out;
};

inline CliRun run_moesim(const std::string& args, bool merge_stderr = true) {
  const std::string cmd = std::string(MOESIM_BINARY) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace moesim::testing
