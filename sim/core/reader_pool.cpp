// The reader pool (sim/core/isolate.hpp): a zygote process, forked early from a small,
// clean address space, that keeps one worker forked and waiting. A read asks the zygote for
// the waiting worker (its socket and activity page come back over SCM_RIGHTS), sends it the
// request (handler name, file, arguments, deadline, memory budget, result memfd), and waits
// for its one reply under the deadline. The worker serves that one file and exits; the
// zygote forks the next one at once, so the next read finds it ready. The zygote reaps the
// workers and reports each exit status back on its control socket, which is how a crash is
// told from a clean exit (the worker is the zygote's child, not ours).
//
// Protocol (SOCK_SEQPACKET: one message per send, boundaries kept):
//   parent -> zygote  "G"                          give me the waiting worker
//   zygote -> parent  "W" pid  + fds {sock, act}   here it is (zygote forks the next)
//                     "F"                          no worker (fork failed)
//                     "S" pid status               a worker exited (wait status)
//   parent -> worker  request + fd {memfd}
//   worker -> parent  the reader message (isolate_detail.hpp reader_body)
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"
#include "sim/core/isolate_detail.hpp"

namespace moesim::isolate {
namespace {

using detail::kActivityBytes;
using detail::now_s;
constexpr std::size_t kMaxMessage = 16384;

std::map<std::string, Handler>& handlers() {
  static std::map<std::string, Handler> h;
  return h;
}
std::vector<void (*)()>& warmers() {
  static std::vector<void (*)()> w;
  return w;
}


// ---- messages with file descriptors
bool send_msg(int sock, const std::string& data, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  if (!fds.empty()) {
    if (fds.size() > 4) return false;
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(data.size());
  }
}

// 1 = a message, 0 = EOF (peer gone), -1 = error. Received fds are close-on-exec.
int recv_msg(int sock, std::string& data, std::vector<int>& fds) {
  data.assign(kMaxMessage, '\0');
  iovec iov{data.data(), data.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  ssize_t n;
  do n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  fds.clear();
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < k; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.push_back(fd);
      }
    }
  if (n == 0 && fds.empty()) return 0;
  data.resize(static_cast<std::size_t>(n));
  return 1;
}

// Waits until `fd` is readable or `deadline` (monotonic seconds) passes.
bool wait_readable(int fd, double deadline) {
  for (;;) {
    const double left = deadline - now_s();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min(left * 1000.0 + 1, 1e9)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r > 0) return true;
  }
}

// Little encoders for the request: fields separated by '\0' (paths cannot contain it).
std::vector<std::string> split0(const std::string& s) {
  std::vector<std::string> out;
  std::size_t a = 0;
  for (;;) {
    const auto z = s.find('\0', a);
    if (z == std::string::npos) {
      out.push_back(s.substr(a));
      return out;
    }
    out.push_back(s.substr(a, z - a));
    a = z + 1;
  }
}

// The environment a worker's reading depends on; the zygote captured it when it started, so
// a read under a different value takes the direct-fork path instead.
std::string env_fingerprint() {
  std::string f;
  for (const char* k : {"MOESIM_MODELS_DIR", "MOESIM_SFU_DIR", "MOESIM_SIMD"}) {
    const char* v = std::getenv(k);
    f += std::string(k) + "=" + (v ? v : "") + ";";
  }
  return f;
}

// ---------------------------------------------------------------- worker
[[noreturn]] void worker_main(int sock, int act_fd) {
  void* act = mmap(nullptr, kActivityBytes, PROT_READ | PROT_WRITE, MAP_SHARED, act_fd, 0);
  close(act_fd);
  if (act == MAP_FAILED) _exit(3);
  detail::enter_reader(static_cast<char*>(act));
  std::string req;
  std::vector<int> fds;
  if (recv_msg(sock, req, fds) != 1 || fds.size() != 1) _exit(0);  // parent gone or never used
  const int memfd = fds[0];
  // name \0 file \0 args \0 wall \0 budget \0 selftest
  const auto f = split0(req);
  std::string msg;
  if (f.size() != 6) {
    msg = "Xmalformed request to the isolated reader";
  } else {
    const double wall = std::strtod(f[3].c_str(), nullptr);
    const std::int64_t budget = std::strtoll(f[4].c_str(), nullptr, 10);
    if (budget > 0) set_memory_budget(budget);
    detail::apply_limits(wall);
    const auto it = handlers().find(f[0]);
    if (it == handlers().end()) {
      msg = "Xno isolated reader named '" + f[0] + "'";
    } else {
      const Handler h = it->second;
      const std::string& file = f[1];
      const std::string& args = f[2];
      msg = detail::reader_body(memfd, f[5].c_str(), [&](Sink& s) { h(file, args, s); });
    }
  }
  send_msg(sock, msg, {});
  _exit(0);
}

// ---------------------------------------------------------------- zygote
struct Ready {
  pid_t pid = -1;
  int sock = -1;
  int act = -1;
};

Ready spawn_worker(int ctl, int sigfd) {
  Ready r;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return r;
  const int act = memfd_create("moesim-reader-activity", MFD_CLOEXEC);
  if (act < 0 || ftruncate(act, kActivityBytes) != 0) {
    if (act >= 0) close(act);
    close(sv[0]), close(sv[1]);
    return r;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]), close(sv[1]), close(act);
    return r;
  }
  if (pid == 0) {
    close(ctl), close(sigfd), close(sv[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the zygote's death ends a waiting worker
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    worker_main(sv[1], act);
  }
  close(sv[1]);
  r.pid = pid, r.sock = sv[0], r.act = act;
  return r;
}

[[noreturn]] void zygote_main(int ctl, pid_t parent) {
  detail::become_reader_process();
  if (getppid() != parent) _exit(0);  // the parent died before PDEATHSIG was set
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  for (auto* w : warmers()) {
    try {
      w();
    } catch (...) {
    }
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  Ready ready = spawn_worker(ctl, sigfd);
  for (;;) {
    pollfd p[2] = {{ctl, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (poll(p, sigfd >= 0 ? 2 : 1, sigfd >= 0 ? -1 : 50) < 0 && errno != EINTR) _exit(0);
    // Reap every finished worker and report its status (the parent matches it by pid).
    if (sigfd >= 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      }
    }
    int st = 0;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      send_msg(ctl, "S" + std::to_string(w) + " " + std::to_string(st), {});
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    std::string m;
    std::vector<int> fds;
    const int r = recv_msg(ctl, m, fds);
    for (int fd : fds) close(fd);
    if (r <= 0) _exit(0);  // the parent is gone: so are we (a waiting worker sees EOF too)
    if (m == "G") {
      if (ready.pid < 0) ready = spawn_worker(ctl, sigfd);
      if (ready.pid < 0) {
        send_msg(ctl, "F", {});
        continue;
      }
      send_msg(ctl, "W" + std::to_string(ready.pid), {ready.sock, ready.act});
      close(ready.sock), close(ready.act);
      ready = spawn_worker(ctl, sigfd);
    }
  }
}

// ---------------------------------------------------------------- parent side
struct Pool {
  std::mutex mu;
  bool tried = false;
  pid_t zygote = -1;
  int ctl = -1;
  std::string env;
  std::map<pid_t, int> statuses;  // exit statuses the zygote reported, by worker pid
};
Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: read paths may run during static destruction
  return *p;
}

void shut(Pool& p) {
  if (p.ctl >= 0) close(p.ctl);
  p.ctl = -1;
  if (p.zygote > 0) {
    kill(p.zygote, SIGKILL);
    while (waitpid(p.zygote, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  p.zygote = -1;
  p.statuses.clear();
}

void start_locked(Pool& p) {
  if (p.tried) return;
  p.tried = true;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
  p.env = env_fingerprint();
  const pid_t parent = getpid();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]), close(sv[1]);
    return;
  }
  if (pid == 0) {
    close(sv[0]);
    zygote_main(sv[1], parent);
  }
  close(sv[1]);
  p.zygote = pid;
  p.ctl = sv[0];
}

// Reads control messages until one satisfies `want` (recording worker statuses on the way)
// or the deadline passes. False: the zygote is gone or silent.
// `until_status` > 0: also stop once that worker's status is known.
bool read_ctl(Pool& p, double deadline, const std::function<bool(const std::string&, std::vector<int>&)>& want,
              pid_t until_status = -1) {
  for (;;) {
    if (until_status > 0 && p.statuses.count(until_status)) return true;
    if (!wait_readable(p.ctl, deadline)) return false;
    std::string m;
    std::vector<int> fds;
    if (recv_msg(p.ctl, m, fds) != 1) return false;
    if (!m.empty() && m[0] == 'S') {
      const auto sp = m.find(' ');
      if (sp != std::string::npos) p.statuses[static_cast<pid_t>(std::atol(m.c_str() + 1))] = std::atoi(m.c_str() + sp + 1);
      for (int fd : fds) close(fd);
      continue;
    }
    if (want(m, fds)) return true;
    for (int fd : fds) close(fd);
  }
}

}  // namespace

bool register_handler(const std::string& name, Handler h) {
  handlers()[name] = h;
  return true;
}

bool register_warmer(void (*warm)()) {
  warmers().push_back(warm);
  return true;
}

void start_pool() {
  if (in_child()) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  start_locked(p);
}

bool pool_running() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.ctl >= 0;
}

void stop_pool() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  shut(p);
}

double pool_cpu_seconds() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.zygote <= 0) return 0;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(p.zygote) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* q = std::strrchr(buf, ')');  // fields after "pid (comm)"; utime is field 14
  if (!q) return 0;
  long long v[4] = {0, 0, 0, 0};
  if (std::sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3]) != 4) return 0;
  return static_cast<double>(v[0] + v[1] + v[2] + v[3]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Result run(const std::string& file, const std::string& name, const std::string& args) {
  const auto hit = handlers().find(name);
  if (hit == handlers().end()) throw std::logic_error("isolate::run: no reader named '" + name + "'");
  if (in_child()) throw std::logic_error("isolate::run called inside an isolated child");
  const Handler h = hit->second;
  auto direct = [&] { return run(file, [&](Sink& s) { h(file, args, s); }); };
  if (file.find('\0') != std::string::npos || args.find('\0') != std::string::npos || file.size() > 8192 ||
      args.size() > 4096)
    return direct();

  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.mu);
  start_locked(p);
  if (p.ctl < 0 || p.env != env_fingerprint()) {
    lock.unlock();
    return direct();
  }
  // 1. The waiting worker.
  pid_t wpid = -1;
  int wsock = -1, act_fd = -1;
  const bool got = send_msg(p.ctl, "G", {}) && read_ctl(p, now_s() + 5.0, [&](const std::string& m, std::vector<int>& fds) {
                     if (m.empty() || (m[0] != 'W' && m[0] != 'F')) return false;
                     if (m[0] == 'W' && fds.size() == 2) {
                       wpid = static_cast<pid_t>(std::atol(m.c_str() + 1));
                       wsock = fds[0], act_fd = fds[1];
                       fds.clear();
                     }
                     return true;
                   });
  if (!got || wpid <= 0) {
    if (!got) shut(p);  // a silent or dead zygote: stop using it
    lock.unlock();
    return direct();
  }
  struct Closer {
    int& a;
    int& b;
    ~Closer() {
      if (a >= 0) close(a);
      if (b >= 0) close(b);
    }
  } closer{wsock, act_fd};
  void* act = mmap(nullptr, kActivityBytes, PROT_READ, MAP_SHARED, act_fd, 0);
  if (act == MAP_FAILED) {
    kill(wpid, SIGKILL);
    lock.unlock();
    return direct();
  }
  struct Unmap {
    void* p;
    ~Unmap() { munmap(p, kActivityBytes); }
  } unmap{act};

  // 2. The request.
  struct stat st {};
  const std::int64_t size = stat(file.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : 0;
  const double wall = deadline_seconds(size);
  const int memfd = memfd_create("moesim-isolated-read", MFD_CLOEXEC);
  if (memfd < 0) throw std::runtime_error(std::string("memfd_create failed: ") + std::strerror(errno));
  const char* selftest = std::getenv("MOESIM_ISOLATE_SELFTEST");
  std::string req = name;
  for (const std::string& field : {file, args, std::to_string(wall), std::to_string(memory_budget()),
                                   std::string(selftest ? selftest : "")})
    req += std::string(1, '\0') + field;
  std::string msg;
  bool timed_out = false;
  const double end = now_s() + wall;
  if (send_msg(wsock, req, {memfd})) {
    // 3. The one reply, under the deadline.
    if (!wait_readable(wsock, end)) {
      timed_out = true;
    } else {
      std::vector<int> fds;
      if (recv_msg(wsock, msg, fds) != 1) msg.clear();
      for (int fd : fds) close(fd);
    }
  }
  if (timed_out) kill(wpid, SIGKILL);
  // A reply "O"/"E"/"M"/"X" is the worker's own account (it exits 0 right after); with none,
  // its exit status from the zygote says what killed it.
  int status = 0;
  if (msg.empty() && !timed_out) {
    const bool have = read_ctl(p, now_s() + 10.0, [](const std::string&, std::vector<int>&) { return false; }, wpid);
    if (have) {
      status = p.statuses[wpid];
    } else {
      shut(p);  // the zygote went silent: report what we know and stop using it
      status = W_EXITCODE(255, 0);
    }
  }
  std::string object(static_cast<const char*>(act), strnlen(static_cast<const char*>(act), kActivityBytes - 1));
  p.statuses.clear();
  lock.unlock();
  return detail::finish(file, wall, memfd, msg, timed_out, status, object);
}

}  // namespace moesim::isolate
