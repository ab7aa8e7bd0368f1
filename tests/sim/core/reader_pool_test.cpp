// The reader pool (sim/core/reader_pool.cpp): one fresh process per file, the same error
// mapping as the direct fork, and a fallback that keeps the guarantees when the pool is gone.
// Through the real binary (every command starts the pool) the failure mapping is tested by
// tests/cli/hardening_cli_test.cpp's MOESIM_ISOLATE_SELFTEST cases.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"

namespace moesim::isolate {
namespace {

// Test readers: the pid of the process that ran it, plus the file and args echoed back.
void pid_reader(const std::string& file, const std::string& args, Sink& sink) {
  const std::string s = std::to_string(getpid()) + "|" + file + "|" + args;
  std::memcpy(sink.allocate(s.size()), s.data(), s.size());
}
void failing_reader(const std::string& file, const std::string& args, Sink&) {
  note_reading("/calls/0003/topk_ids");
  if (args == "input") throw InputError(file + ":/x", "bad shape");
  if (args == "segv") raise(SIGSEGV);
  if (args == "hang") for (;;) pause();
  throw std::runtime_error("boom");
}
[[maybe_unused]] const bool kReg = register_handler("test-pid", pid_reader) && register_handler("test-fail", failing_reader);

std::string text(const Result& r) { return std::string(reinterpret_cast<const char*>(r.data()), r.size()); }

std::string error_of(const std::string& args) {
  try {
    run("/some/file.h5", "test-fail", args);
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "no error";
}

TEST(ReaderPool, EveryFileGetsAFreshProcess) {
  start_pool();
  ASSERT_TRUE(pool_running());
  const std::string a = text(run("/f/a.h5", "test-pid", "x1"));
  const std::string b = text(run("/f/b.h5", "test-pid", "x2"));
  EXPECT_EQ(a.substr(a.find('|')), "|/f/a.h5|x1");
  EXPECT_EQ(b.substr(b.find('|')), "|/f/b.h5|x2");
  const long pa = std::atol(a.c_str()), pb = std::atol(b.c_str());
  EXPECT_NE(pa, pb);  // no reader process serves two files
  EXPECT_NE(pa, static_cast<long>(getpid()));
  EXPECT_NE(pb, static_cast<long>(getpid()));
  EXPECT_TRUE(pool_running());
}

TEST(ReaderPool, FailuresMapLikeTheDirectFork) {
  start_pool();
  EXPECT_EQ(error_of("input"), "/some/file.h5:/x: bad shape");
  const std::string segv = error_of("segv");
  EXPECT_NE(segv.find("/some/file.h5:/calls/0003/topk_ids"), std::string::npos) << segv;
  // SIGSEGV, or SIGABRT where ASan's SEGV handler aborts (abort_on_error=1).
  EXPECT_NE(segv.find("reader crashed (SIG"), std::string::npos) << segv;
  EXPECT_EQ(error_of("other").rfind("other: isolated reader of /some/file.h5: boom", 0), 0u) << error_of("other");
  setenv("MOESIM_READ_TIMEOUT", "1", 1);
  const std::string hang = error_of("hang");
  unsetenv("MOESIM_READ_TIMEOUT");
  EXPECT_NE(hang.find("did not finish within 1 s"), std::string::npos) << hang;
  EXPECT_NE(hang.find(":/calls/0003/topk_ids"), std::string::npos) << hang;
  // The pool survives its workers' deaths and keeps serving.
  EXPECT_TRUE(pool_running());
  EXPECT_NE(text(run("/f/c.h5", "test-pid", "")).find("|/f/c.h5|"), std::string::npos);
}

TEST(ReaderPool, FallsBackToTheDirectForkWithTheSameGuarantees) {
  stop_pool();
  EXPECT_FALSE(pool_running());
  // start_pool() is one-shot per process: after a stop, reads take the direct fork.
  const std::string a = text(run("/f/d.h5", "test-pid", "y"));
  EXPECT_EQ(a.substr(a.find('|')), "|/f/d.h5|y");
  EXPECT_NE(std::atol(a.c_str()), static_cast<long>(getpid()));
  EXPECT_EQ(error_of("input"), "/some/file.h5:/x: bad shape");
  EXPECT_NE(error_of("segv").find("reader crashed (SIG"), std::string::npos);
}

TEST(ReaderPool, UnknownReaderIsALogicError) { EXPECT_THROW(run("/f", "no-such-reader", ""), std::logic_error); }

}  // namespace
}  // namespace moesim::isolate
