#include "replay/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace moesim::replay {

Progress::Progress(std::string label, double delay_s)
    : label_(std::move(label)), delay_s_(delay_s), tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::update(std::size_t done, std::size_t total, const std::string& what) {
  if (!tty_) return;
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (el < delay_s_ && !shown_) return;
  shown_ = true;
  constexpr int kWidth = 30;
  const int fill = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu %-24s %6.1fs", label_.c_str(), fill, "##############################",
               kWidth - fill, "", done, total, what.c_str(), el);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace moesim::replay
