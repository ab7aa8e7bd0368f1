#pragma once
// A progress line on stderr for long replays: only on a terminal, only once a replay has run
// for more than `delay_s` seconds, erased when done. Never writes to stdout (reports go there).
#include <chrono>
#include <string>

namespace moesim::replay {

class Progress {
 public:
  explicit Progress(std::string label, double delay_s = 2.0);
  ~Progress();
  void update(std::size_t done, std::size_t total, const std::string& what);
  void finish();

 private:
  std::string label_;
  double delay_s_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace moesim::replay
