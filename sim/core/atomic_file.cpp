#include "sim/core/atomic_file.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "sim/core/error.hpp"

namespace moesim {
namespace {

// ---- input identities
std::mutex& inputs_mu() {
  static std::mutex m;
  return m;
}
std::set<std::pair<dev_t, ino_t>>& inputs_by_id() {
  static std::set<std::pair<dev_t, ino_t>> s;
  return s;
}

// ---- temporaries the signal handler must unlink (async-signal-safe: fixed storage)
constexpr int kSlots = 32;
constexpr std::size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> used{0};
  char path[kPathMax];
};
std::array<Slot, kSlots> g_slots;

extern "C" void moesim_unlink_temps_and_reraise(int sig) {
  for (auto& s : g_slots)
    if (s.used.load() == 1) unlink(s.path);
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
      struct sigaction old {};
      sigaction(sig, nullptr, &old);
      if (old.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring
      struct sigaction sa {};
      sa.sa_handler = moesim_unlink_temps_and_reraise;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;
      sigaction(sig, &sa, nullptr);
    }
  });
}

int claim_slot(const std::string& path) {
  if (path.size() >= kPathMax) throw InputError(path, "output path too long");
  for (int i = 0; i < kSlots; ++i) {
    int expect = 0;
    if (g_slots[static_cast<std::size_t>(i)].used.compare_exchange_strong(expect, 2)) {
      std::memcpy(g_slots[static_cast<std::size_t>(i)].path, path.c_str(), path.size() + 1);
      g_slots[static_cast<std::size_t>(i)].used.store(1);
      return i;
    }
  }
  throw InputError(path, "too many outputs open at once (at most 32)");
}

void release_slot(int i) {
  if (i >= 0) g_slots[static_cast<std::size_t>(i)].used.store(0);
}

std::string dir_of(const std::string& p) {
  const auto s = p.rfind('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return p.substr(0, s);
}
std::string base_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

static std::atomic<bool> g_protect{false};

void protect_inputs(bool on) { g_protect.store(on); }

void note_input(const std::string& path) {
  if (!g_protect.load()) return;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;
  std::lock_guard<std::mutex> lock(inputs_mu());
  inputs_by_id().insert({st.st_dev, st.st_ino});
}

void refuse_overwriting_inputs(const std::string& out, const std::vector<std::string>& also) {
  struct stat st {};
  if (stat(out.c_str(), &st) != 0) return;  // does not exist (yet): cannot be an input
  bool hit = false;
  {
    std::lock_guard<std::mutex> lock(inputs_mu());
    hit = inputs_by_id().count({st.st_dev, st.st_ino}) > 0;
  }
  for (const auto& a : also) {
    struct stat sa {};
    if (stat(a.c_str(), &sa) == 0 && sa.st_dev == st.st_dev && sa.st_ino == st.st_ino) hit = true;
  }
  if (hit) throw InputError(out, "output is the same file as an input (same inode); refusing to overwrite an input");
}

AtomicOutput::AtomicOutput(std::string final_path) : final_(std::move(final_path)) {
  if (final_.empty()) throw InputError("output", "empty output path");
  refuse_overwriting_inputs(final_);
  struct stat st {};
  const bool exists = stat(final_.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) throw InputError(final_, "output path is a directory");
  install_handlers_once();
  std::string tmpl = dir_of(final_) + "/." + base_of(final_) + ".moesim-tmp-XXXXXX";
  if (tmpl.size() >= kPathMax) throw InputError(final_, "output path too long");
  // Claim the signal slot before the file exists, so a signal in between cannot leak it.
  slot_ = claim_slot(tmpl);
  std::string buf = tmpl;
  // mkstemp fills in the name only after the file exists: hold the cleanup signals until the
  // slot names the real file, else a signal in that window unlinks the template and leaks it.
  sigset_t block, saved;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &saved);
  const int fd = mkstemp(buf.data());
  const int mkstemp_errno = errno;
  if (fd >= 0) std::memcpy(g_slots[static_cast<std::size_t>(slot_)].path, buf.c_str(), buf.size() + 1);
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (fd < 0) {
    release_slot(slot_);
    throw InputError(final_, std::string("cannot create the output's temporary file in ") + dir_of(final_) + " (" + std::strerror(mkstemp_errno) + ")");
  }
  temp_ = buf;
  // mkstemp makes 0600; give the file the permissions a plain create would (or the old file's).
  mode_t mode = 0;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    const mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  fchmod(fd, mode);
  close(fd);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_ && !temp_.empty()) unlink(temp_.c_str());
  release_slot(slot_);
}

void AtomicOutput::commit() {
  if (committed_) return;
  // Test hook (tests/cli/hardening_cli_test.cpp): hold the finished temporary before the
  // rename so a test can signal the process while the output is still a temporary.
  if (const char* hold = std::getenv("MOESIM_TEST_HOLD_BEFORE_RENAME")) sleep(static_cast<unsigned>(std::atoi(hold)));
  refuse_overwriting_inputs(final_);
  const int fd = open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(final_, "temporary output " + temp_ + " vanished before commit");
  if (fsync(fd) != 0) {
    const int e = errno;
    close(fd);
    throw InputError(final_, std::string("cannot flush output to disk (") + std::strerror(e) + ")");
  }
  close(fd);
  if (rename(temp_.c_str(), final_.c_str()) != 0)
    throw InputError(final_, std::string("cannot rename the finished output into place (") + std::strerror(errno) + ")");
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
  const int dfd = open(dir_of(final_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicOutput out(path);
  const int fd = open(out.temp_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) throw InputError(path, std::string("cannot open temporary output (") + std::strerror(errno) + ")");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      close(fd);
      throw InputError(path, std::string("write failed (") + std::strerror(e) + ")");
    }
    done += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0) throw InputError(path, std::string("write failed (") + std::strerror(errno) + ")");
  out.commit();
}

}  // namespace moesim
