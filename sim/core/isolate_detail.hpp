#pragma once
// Pieces of the isolated reader shared by the direct fork (isolate.cpp) and the reader pool
// (reader_pool.cpp). Not an API: use sim/core/isolate.hpp.
#include <cstddef>
#include <functional>
#include <string>

#include "sim/core/isolate.hpp"

namespace moesim::isolate::detail {

// The shared page a reader writes the object it is reading into (note_reading()).
constexpr std::size_t kActivityBytes = 4096;
// CLOCK_MONOTONIC seconds (deadlines).
double now_s();

// Marks this process as an isolated reader; note_reading() writes to `activity` (shared page).
void enter_reader(char* activity);
// PDEATHSIG, default signal dispositions, stdout/stderr to /dev/null.
void become_reader_process();
// RLIMIT_CORE 0, RLIMIT_CPU from the deadline, RLIMIT_AS from the memory budget.
void apply_limits(double wall);
// Runs the self-test hook then `work` into a sink on `memfd`; returns the reader's message.
std::string reader_body(int memfd, const char* selftest, const std::function<void(Sink&)>& work);
// Maps a reader's message / deadline / wait status / activity to the result or InputError.
Result finish(const std::string& file, double wall, int memfd, const std::string& msg, bool timed_out, int status,
              const std::string& object);
void write_all(int fd, const std::string& s);
std::string one_line(std::string s);

}  // namespace moesim::isolate::detail
