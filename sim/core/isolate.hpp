#pragma once
// Isolated parsing of untrusted files. libhdf5 is not safe on hostile metadata (it can crash,
// hang or allocate without bound), so untrusted files are opened, parsed and validated in a
// forked child that runs under
//   RLIMIT_AS   = its address space at fork + 2 x the memory budget (sim/core/budget.hpp) + 256 MiB
//   RLIMIT_CPU  = the wall-clock deadline, rounded up
//   RLIMIT_CORE = 0 (no core dumps from hostile inputs)
//   a wall-clock deadline enforced by the parent (poll on a pipe, then SIGKILL):
//   10 s + 1 s per 32 MiB of input, or $MOESIM_READ_TIMEOUT seconds.
// The child writes its result (already validated) into a memfd that the parent maps; the
// parent never touches the file's metadata itself. Any death of the child -- a signal, the
// deadline, an rlimit, an unexpected exit -- becomes one InputError naming the file and the
// object the child was reading at the time (note_reading()).
//
// Test hook: MOESIM_ISOLATE_SELFTEST=segv|hang|oom|exit makes the child misbehave that way
// right after it starts, so the mapping of each failure to an error is tested through the
// real binary.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace moesim::isolate {

// Memory the child hands to the parent. allocate() may be called once.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::uint8_t* allocate(std::size_t bytes) = 0;
};

// A read-only mapping of the child's result.
class Result {
 public:
  Result() = default;
  Result(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  Result(Result&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  Result& operator=(Result&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  Result(const Result&) = delete;
  ~Result();
  const std::uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  const std::uint8_t* p_ = nullptr;
  std::size_t n_ = 0;
};

// Runs `work` in a child for the untrusted file `file`. InputError thrown by `work` in the
// child is rethrown in the parent with the same where/problem; any other failure becomes an
// InputError(file[:object], what happened). `work` must not return to the caller's stack in
// any other way (it runs in a forked copy of the process).
Result run(const std::string& file, const std::function<void(Sink&)>& work);

// Called by readers in the child before touching an object ("/calls/0000/topk_ids", ...),
// so a crash or hang can be reported with it. Cheap no-op in the parent.
void note_reading(const std::string& object);
// True inside an isolated child.
bool in_child();
// Wall-clock deadline (seconds) for a file of `bytes`.
double deadline_seconds(std::int64_t bytes);

}  // namespace moesim::isolate
