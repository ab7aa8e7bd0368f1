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

// A named reader the pre-forked worker can run: reads `file` as `args` says, writes the
// validated result into `sink`. Registered at static-initialisation time (register_handler
// in a namespace-scope initialiser), so every process of this binary -- and the pool's
// zygote forked from it -- knows the same table.
using Handler = void (*)(const std::string& file, const std::string& args, Sink& sink);
bool register_handler(const std::string& name, Handler h);
// Runs before the zygote forks its first worker (e.g. loading the models/ vocabularies that
// every worker would otherwise load again). Exceptions are ignored: a worker then loads
// lazily and reports the error against the file it reads.
bool register_warmer(void (*warm)());

// Runs the handler `name` for the untrusted file `file` in a fresh process. The fast path is
// the reader pool: a small zygote process, forked early (start_pool), keeps one worker
// forked, warmed and waiting, so the fork is off the read's critical path and the worker
// starts from the zygote's small, clean address space. The worker gets the same limits,
// deadline, activity page and error mapping as run(file, work) below, and serves exactly
// one file, then exits (no libhdf5 state survives from one untrusted file to the next). If
// the pool is unavailable (zygote gone, fds exhausted, environment changed since it
// started) it falls back to run(file, work) with the same guarantees.
Result run(const std::string& file, const std::string& name, const std::string& args);
// Starts the pool now (moesim's main does, first thing, so the zygote's fork and warm-up
// overlap the command's own start-up). Idempotent; a failure only disables the fast path.
void start_pool();
// True while a pool zygote is alive for this process (for tests and the bench).
bool pool_running();
// Stops the pool (tests: exercise the fallback; the zygote also exits with the process).
void stop_pool();
// CPU seconds spent by the zygote and the workers it has reaped (from /proc), so a bench can
// count the pool's whole cost, not only the wall-clock latency; 0 without a pool.
double pool_cpu_seconds();

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
