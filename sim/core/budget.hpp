#pragma once
// The memory budget for data read from untrusted files (--max-memory). Every allocation whose
// size comes from a file is checked against it before it is made, and the isolated reader
// (sim/core/isolate.hpp) runs under an address-space limit derived from it.
// Default: half of physical RAM (sysconf(_SC_PHYS_PAGES) * page size / 2).
#include <cstdint>
#include <string>

namespace moesim {

std::int64_t memory_budget();                  // bytes
void set_memory_budget(std::int64_t bytes);    // > 0
std::int64_t default_memory_budget();
// "512M", "8G", "1.5G", "4096" (bytes), "70%" (of physical RAM). InputError naming `where`.
std::int64_t parse_memory_size(const std::string& text, const std::string& where);
// Throws InputError(where, ...) when `bytes` exceeds the budget.
void require_within_budget(std::int64_t bytes, const std::string& where, const std::string& what);

}  // namespace moesim
