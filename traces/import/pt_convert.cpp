#include "traces/import/pt_convert.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "sim/core/error.hpp"

namespace moesim::traces::import {

namespace {
std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}
}  // namespace

PtConverted::~PtConverted() {
  std::error_code ec;
  if (!safetensors.empty()) std::filesystem::remove(safetensors, ec);
  if (!tree_json.empty()) std::filesystem::remove(tree_json, ec);
}

PtConverted convert_pt(const std::string& python, const std::string& source_dir, const std::string& pt, bool tree) {
  static std::atomic<int> counter{0};
  const std::string stem = (std::filesystem::temp_directory_path() /
                            ("moesim_pt_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  PtConverted out;
  out.safetensors = stem + ".safetensors";
  if (tree) out.tree_json = stem + ".json";
  const std::string cmd = quote(python) + " " + quote(source_dir + "/scripts/capture/pt_to_safetensors.py") + " " + quote(pt) + " " +
                          quote(out.safetensors) + (tree ? " --tree " + quote(out.tree_json) : "") + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw InputError(pt, "cannot run the .pt converter (" + python + ")");
  std::string msg;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) msg += buf;
  if (pclose(p) != 0) {
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    const auto nl = msg.rfind('\n');
    std::string last = nl == std::string::npos ? msg : msg.substr(nl + 1);
    if (last.rfind(pt + ": ", 0) == 0) last = last.substr(pt.size() + 2);
    throw InputError(pt, "cannot read with python3-torch: " + (last.empty() ? "converter failed" : last));
  }
  return out;
}

}  // namespace moesim::traces::import
