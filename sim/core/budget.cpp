#include "sim/core/budget.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>

#include "sim/core/error.hpp"

namespace moesim {
namespace {
std::int64_t physical_ram() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::int64_t{8} << 30;
  return static_cast<std::int64_t>(pages) * page;
}
std::atomic<std::int64_t>& budget_slot() {
  static std::atomic<std::int64_t> b{0};
  return b;
}
std::string human(std::int64_t b) {
  char buf[64];
  if (b >= (std::int64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1 << 30));
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}
}  // namespace

std::int64_t default_memory_budget() { return physical_ram() / 2; }

std::int64_t memory_budget() {
  const std::int64_t b = budget_slot().load();
  return b > 0 ? b : default_memory_budget();
}

void set_memory_budget(std::int64_t bytes) {
  if (bytes <= 0) throw InputError("--max-memory", "must be positive");
  budget_slot().store(bytes);
}

std::int64_t parse_memory_size(const std::string& text, const std::string& where) {
  const std::string allowed = "a size like 512M, 8G, 1.5G, 1048576 or 50% (of physical RAM)";
  if (text.empty()) throw InputError(where, "empty size (expected " + allowed + ")");
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const std::string suffix(end);
  double mult = 1;
  if (suffix.empty() || suffix == "B") mult = 1;
  else if (suffix == "K" || suffix == "KiB" || suffix == "k") mult = 1024.0;
  else if (suffix == "M" || suffix == "MiB") mult = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (suffix == "T" || suffix == "TiB") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "%") mult = static_cast<double>(physical_ram()) / 100.0;
  else throw InputError(where, "'" + text + "' is not " + allowed);
  if (end == text.c_str() || !std::isfinite(v) || v <= 0) throw InputError(where, "'" + text + "' is not " + allowed);
  const double bytes = v * mult;
  if (bytes < 1 << 20) throw InputError(where, "'" + text + "' is below the minimum budget of 1 MiB");
  if (bytes > 9.0e18) throw InputError(where, "'" + text + "' is too large");
  return static_cast<std::int64_t>(bytes);
}

void require_within_budget(std::int64_t bytes, const std::string& where, const std::string& what) {
  if (bytes > memory_budget())
    throw InputError(where, what + " needs " + human(bytes) + ", over the memory budget of " + human(memory_budget()) +
                                " (--max-memory)");
}

}  // namespace moesim
