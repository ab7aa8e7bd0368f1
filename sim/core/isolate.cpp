#include "sim/core/isolate.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>

#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate_detail.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MOESIM_ISOLATE_NO_RLIMIT_AS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define MOESIM_ISOLATE_NO_RLIMIT_AS 1
#endif
#endif

namespace moesim::isolate {
namespace {

using detail::kActivityBytes;
char* g_activity = nullptr;  // shared page, set in the child only
bool g_in_child = false;


class MemfdSink : public Sink {
 public:
  explicit MemfdSink(int fd) : fd_(fd) {}
  ~MemfdSink() override {
    if (p_) munmap(p_, n_);
  }
  std::uint8_t* allocate(std::size_t bytes) override {
    if (p_ || done_) throw std::logic_error("isolate::Sink::allocate called twice");
    done_ = true;
    if (bytes == 0) return nullptr;
    if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) throw std::bad_alloc();
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    p_ = static_cast<std::uint8_t*>(p);
    n_ = bytes;
    return p_;
  }

 private:
  int fd_;
  std::uint8_t* p_ = nullptr;
  std::size_t n_ = 0;
  bool done_ = false;
};

}  // namespace
namespace detail {
double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace detail
namespace {
std::int64_t address_space_bytes() {
  std::ifstream f("/proc/self/statm");
  std::int64_t pages = 0;
  f >> pages;
  return pages * sysconf(_SC_PAGE_SIZE);
}

}  // namespace

namespace detail {
void enter_reader(char* activity) {
  g_in_child = true;
  g_activity = activity;
}

// Limits every reader process runs under (see the header).
void apply_limits(double wall) {
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(wall)) + 1;
  rlimit rc{cpu, cpu + 1};
  setrlimit(RLIMIT_CPU, &rc);
#ifndef MOESIM_ISOLATE_NO_RLIMIT_AS
  const std::int64_t as = address_space_bytes() + 2 * memory_budget() + (std::int64_t{256} << 20);
  rlimit ra{static_cast<rlim_t>(as), static_cast<rlim_t>(as)};
  setrlimit(RLIMIT_AS, &ra);
#endif
}

// Default dispositions, output to /dev/null (libhdf5 can print assertion text on its way
// down: keep the user's terminal to one line), die with the parent.
void become_reader_process() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) signal(sig, SIG_DFL);
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
    close(devnull);
  }
}

// Runs `work` (after the self-test hook) and returns the message the parent decodes:
// "O" done, "E<where>\0<problem>" InputError, "M" out of memory, "X<what>" other failure.
std::string reader_body(int memfd, const char* selftest, const std::function<void(Sink&)>& work) {
  std::string msg;
  try {
    if (selftest && *selftest) {
      const std::string test = selftest;
      note_reading("/selftest");
      if (test == "segv") raise(SIGSEGV);
      if (test == "hang") for (;;) pause();
      if (test == "spin") { volatile unsigned long i = 0; for (;;) i = i + 1; }
      if (test == "oom") {
        for (;;) {
          auto* p = static_cast<char*>(std::malloc(std::size_t{64} << 20));
          if (!p) throw std::bad_alloc();
          std::memset(p, 1, std::size_t{64} << 20);
        }
      }
      if (test == "exit") _exit(7);
    }
    MemfdSink sink(memfd);
    work(sink);
    msg = "O";
  } catch (const InputError& e) {
    msg = "E" + e.where() + std::string(1, '\0') + e.problem();
  } catch (const std::bad_alloc&) {
    msg = "M";
  } catch (const std::exception& e) {
    msg = std::string("X") + e.what();
  } catch (...) {
    msg = "Xunknown exception";
  }
  if (msg.size() > 8000) msg.resize(8000);
  return msg;
}

}  // namespace detail

namespace {
using namespace detail;

[[noreturn]] void child_main(int msg_fd, int memfd, double wall, const std::function<void(Sink&)>& work) {
  g_in_child = true;
  become_reader_process();
  apply_limits(wall);
  write_all(msg_fd, reader_body(memfd, std::getenv("MOESIM_ISOLATE_SELFTEST"), work));
  _exit(0);
}

}  // namespace
namespace detail {
std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return std::string("SIG") + (name ? name : std::to_string(sig).c_str());
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}


// Maps what a reader process did to the caller's result: its message, whether the deadline
// killed it, its wait status, and the object it was reading (activity page). Closes memfd.
Result finish(const std::string& file, double wall, int memfd, const std::string& msg, bool timed_out, int status,
              const std::string& object) {
  const std::string where = file + (object.empty() ? "" : ":" + object);
  auto fail = [&](const std::string& problem) {
    close(memfd);
    throw InputError(where, problem);
  };
  char wall_txt[32];
  std::snprintf(wall_txt, sizeof wall_txt, "%.0f", wall);
  if (timed_out) fail(std::string("reading did not finish within ") + wall_txt + " s (corrupt or hostile file; the reader was killed)");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGXCPU) fail(std::string("reading exceeded the CPU limit of ") + wall_txt + " s (corrupt or hostile file)");
    if (sig == SIGKILL) fail("the reader was killed (SIGKILL: out of memory?) while reading this file");
    fail("the HDF5 reader crashed (" + signal_text(sig) + ") on this file: corrupt or hostile metadata");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || msg.empty())
    fail("the reader exited unexpectedly (status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
         ") on this file");
  if (msg[0] == 'E') {
    const auto z = msg.find('\0');
    close(memfd);
    if (z == std::string::npos) throw InputError(file, one_line(msg.substr(1)));
    throw InputError(one_line(msg.substr(1, z - 1)), one_line(msg.substr(z + 1)));
  }
  if (msg[0] == 'M')
    fail("reading needs more memory than the budget allows (--max-memory, now " +
         std::to_string(memory_budget() >> 20) + " MiB)");
  if (msg[0] == 'X') {
    close(memfd);
    throw std::runtime_error("isolated reader of " + file + ": " + one_line(msg.substr(1)));
  }
  struct stat ms {};
  fstat(memfd, &ms);
  const std::size_t n = static_cast<std::size_t>(ms.st_size);
  if (n == 0) {
    close(memfd);
    return Result();
  }
  void* p = mmap(nullptr, n, PROT_READ, MAP_SHARED | MAP_POPULATE, memfd, 0);
  close(memfd);
  if (p == MAP_FAILED) throw std::runtime_error("mmap of the isolated reader's result failed");
  return Result(static_cast<const std::uint8_t*>(p), n);
}
}  // namespace detail

Result::~Result() {
  if (p_) munmap(const_cast<std::uint8_t*>(p_), n_);
}

bool in_child() { return g_in_child; }

void note_reading(const std::string& object) {
  if (!g_activity) return;
  const std::size_t n = std::min(object.size(), kActivityBytes - 1);
  std::memcpy(g_activity, object.data(), n);
  g_activity[n] = '\0';
}

double deadline_seconds(std::int64_t bytes) {
  if (const char* t = std::getenv("MOESIM_READ_TIMEOUT")) {
    char* end = nullptr;
    const double v = std::strtod(t, &end);
    if (end != t && *end == '\0' && v > 0 && std::isfinite(v)) return v;
    throw InputError("MOESIM_READ_TIMEOUT", std::string("'") + t + "' is not a positive number of seconds");
  }
  return 10.0 + static_cast<double>(bytes) / (32.0 * 1024 * 1024);
}

Result run(const std::string& file, const std::function<void(Sink&)>& work) {
  if (g_in_child) {  // already isolated (e.g. a weight check inside a trace read): run inline
    throw std::logic_error("isolate::run called inside an isolated child");
  }
  struct stat st {};
  const std::int64_t size = stat(file.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
  const double wall = deadline_seconds(size);
  const int memfd = memfd_create("moesim-isolated-read", MFD_CLOEXEC);
  if (memfd < 0) throw std::runtime_error(std::string("memfd_create failed: ") + std::strerror(errno));
  void* act = mmap(nullptr, kActivityBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (act == MAP_FAILED) {
    close(memfd);
    throw std::runtime_error("mmap of the activity page failed");
  }
  static_cast<char*>(act)[0] = '\0';
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    close(memfd);
    munmap(act, kActivityBytes);
    throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(memfd), close(pfd[0]), close(pfd[1]);
    munmap(act, kActivityBytes);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(e));
  }
  if (pid == 0) {
    close(pfd[0]);
    g_activity = static_cast<char*>(act);
    child_main(pfd[1], memfd, wall, work);
  }
  close(pfd[1]);
  std::string msg;
  bool timed_out = false;
  const double end = now_s() + wall;
  for (;;) {
    const double left = end - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pfd[0], POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min(left * 1000.0 + 1, 1e9)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    char buf[4096];
    const ssize_t n = read(pfd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child has exited (or closed the pipe)
    msg.append(buf, static_cast<std::size_t>(n));
  }
  close(pfd[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string object(static_cast<const char*>(act));
  munmap(act, kActivityBytes);
  return finish(file, wall, memfd, msg, timed_out, status, object);
}

}  // namespace moesim::isolate
