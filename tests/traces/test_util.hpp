#pragma once
// Helpers for trace tests: temp paths, running the CLI, building small traces.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "traces/trace.hpp"

namespace moesim::testing {

inline std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() / "moesim-tests";
  std::filesystem::create_directories(dir);
  return (dir / (std::string(info->test_suite_name()) + "." + info->name() + "." + name)).string();
}

struct CmdResult {
  int code;
  std::string out;  // stdout + stderr
};

inline CmdResult run_cmd(const std::string& cmd) {
  CmdResult r{0, ""};
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline traces::Trace small_trace(std::int64_t T = 6) {
  traces::Trace t;
  t.model.name = "tiny";
  t.model.num_experts = 8;
  t.model.top_k = 2;
  t.model.hidden = 16;
  t.model.intermediate = 8;
  traces::MoeCall c;
  c.num_tokens = T;
  for (std::int64_t i = 0; i < T; ++i) {
    c.topk_ids.push_back(static_cast<std::int32_t>(i % 8));
    c.topk_ids.push_back(static_cast<std::int32_t>((i + 3) % 8));
    c.topk_weights.push_back(0.75f);
    c.topk_weights.push_back(0.25f);
  }
  t.calls.push_back(c);
  return t;
}

}  // namespace moesim::testing
