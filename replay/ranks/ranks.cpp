#include "replay/ranks/ranks.hpp"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "sim/core/error.hpp"

#ifdef MOESIM_WITH_MPI
#include <mpi.h>
#endif

namespace moesim::ranks {
namespace {
bool g_init = false;
int g_rank = 0, g_size = 1;

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' && x >= 0 && x < INT_MAX ? static_cast<int>(x) : dflt;
}

// World size announced by the launcher (0 = not launched).
int launcher_size() {
  for (const char* n : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (std::getenv(n)) return env_int(n, 1);
  if (std::getenv("PMIX_RANK")) return 1;
  return 0;
}

void nap(int& us) {
  struct timespec ts {0, us * 1000L};
  nanosleep(&ts, nullptr);
  if (us < 10000) us *= 2;
}
}  // namespace

bool launched() { return launcher_size() > 0; }

bool built_with_mpi() {
#ifdef MOESIM_WITH_MPI
  return true;
#else
  return false;
#endif
}

void init(int* argc, char*** argv) {
  if (g_init || !launched()) return;
#ifdef MOESIM_WITH_MPI
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_init = true;
#else
  if (launcher_size() > 1)
    throw InputError("mpirun", "this moesim was built without MPI (cmake -DMOESIM_MPI=ON); under a launcher with " +
                                   std::to_string(launcher_size()) + " ranks every rank would run the whole job");
#endif
}

void finalize() {
#ifdef MOESIM_WITH_MPI
  if (g_init) MPI_Finalize();
#endif
  g_init = false;
}

int rank() {
  if (g_init || !launched()) return g_rank;
  // Not initialised (a command that refuses to run under the launcher): the launcher's word.
  for (const char* n : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(n)) return env_int(n, 0);
  return 0;
}
int size() { return g_size; }

double timeout_seconds() {
  const char* v = std::getenv("MOESIM_RANK_TIMEOUT");
  if (!v || !*v) return 3600.0;
  char* end = nullptr;
  const double t = std::strtod(v, &end);
  if (!end || *end != '\0' || !(t > 0) || t > 1e7)
    throw InputError("MOESIM_RANK_TIMEOUT", std::string("expected seconds in (0, 1e7], got '") + v + "'");
  return t;
}

void abort_all(const std::string& line, int code) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
#ifdef MOESIM_WITH_MPI
  if (g_init) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void fault_hook(const std::string& item) {
  const char* v = std::getenv("MOESIM_RANK_FAULT");
  if (!v || !*v) return;
  const std::string s = v;
  const auto colon = s.find(':');
  if (colon == std::string::npos) throw InputError("MOESIM_RANK_FAULT", "expected RANK:throw or RANK:stall, got '" + s + "'");
  int r = -1;
  try {
    r = std::stoi(s.substr(0, colon));
  } catch (const std::exception&) {
    throw InputError("MOESIM_RANK_FAULT", "expected RANK:throw or RANK:stall, got '" + s + "'");
  }
  const std::string kind = s.substr(colon + 1);
  if (kind != "throw" && kind != "stall")
    throw InputError("MOESIM_RANK_FAULT", "expected RANK:throw or RANK:stall, got '" + s + "'");
  if (r != g_rank) return;
  if (kind == "throw") throw std::runtime_error("injected fault (MOESIM_RANK_FAULT=" + s + ")");
  for (;;) pause();
}

std::vector<std::string> gather(const std::string& mine, const std::string& what, const std::function<std::string(int)>& share_of) {
  if (g_size == 1) return {mine};
#ifndef MOESIM_WITH_MPI
  return {mine};
#else
  const double limit = timeout_seconds();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
  auto late = [&] { return std::chrono::steady_clock::now() > deadline; };
  const int kTagSize = 18001, kTagData = 18002;
  char tbuf[64];
  std::snprintf(tbuf, sizeof tbuf, "%g", limit);
  if (mine.size() > static_cast<std::size_t>(INT_MAX))
    abort_all("moesim: " + what + ": rank " + std::to_string(g_rank) + "'s results exceed 2 GiB (not gathered)", 2);
  if (g_rank != 0) {
    std::uint64_t n = mine.size();
    MPI_Request rq[2];
    MPI_Isend(&n, 1, MPI_UINT64_T, 0, kTagSize, MPI_COMM_WORLD, &rq[0]);
    MPI_Isend(mine.data(), static_cast<int>(n), MPI_BYTE, 0, kTagData, MPI_COMM_WORLD, &rq[1]);
    int done = 0, us = 50;
    while (MPI_Testall(2, rq, &done, MPI_STATUSES_IGNORE) == MPI_SUCCESS && !done) {
      if (late())
        abort_all("moesim: " + what + ": rank " + std::to_string(g_rank) + ": rank 0 did not collect its results within " + tbuf +
                      " s (MOESIM_RANK_TIMEOUT); aborting all ranks",
                  2);
      nap(us);
    }
    return {};
  }
  std::vector<std::string> out(static_cast<std::size_t>(g_size));
  out[0] = mine;
  std::vector<std::uint64_t> sizes(static_cast<std::size_t>(g_size), 0);
  std::vector<MPI_Request> sreq(static_cast<std::size_t>(g_size), MPI_REQUEST_NULL), dreq = sreq;
  std::vector<int> state(static_cast<std::size_t>(g_size), 0);  // 0 size pending, 1 data pending, 2 done
  state[0] = 2;
  for (int r = 1; r < g_size; ++r) MPI_Irecv(&sizes[r], 1, MPI_UINT64_T, r, kTagSize, MPI_COMM_WORLD, &sreq[r]);
  int us = 50;
  for (;;) {
    bool all = true;
    for (int r = 1; r < g_size; ++r) {
      int flag = 0;
      if (state[r] == 0 && MPI_Test(&sreq[r], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) {
        if (sizes[r] > static_cast<std::uint64_t>(INT_MAX))
          abort_all("moesim: " + what + ": rank " + std::to_string(r) + " announced " + std::to_string(sizes[r]) + " bytes of results", 2);
        out[r].resize(sizes[r]);
        MPI_Irecv(out[r].data(), static_cast<int>(sizes[r]), MPI_BYTE, r, kTagData, MPI_COMM_WORLD, &dreq[r]);
        state[r] = 1;
      }
      if (state[r] == 1 && MPI_Test(&dreq[r], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) state[r] = 2;
      all = all && state[r] == 2;
    }
    if (all) break;
    if (late()) {
      std::string missing;
      int n_missing = 0;
      for (int r = 1; r < g_size; ++r)
        if (state[r] != 2) {
          if (++n_missing > 8) continue;
          missing += (missing.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r);
          if (share_of) missing += " (" + share_of(r) + ")";
        }
      if (n_missing > 8) missing += "; and " + std::to_string(n_missing - 8) + " more ranks";
      abort_all("moesim: " + what + ": " + missing + " did not report within " + tbuf +
                    " s (MOESIM_RANK_TIMEOUT): stalled, dead or far behind; aborting all ranks",
                2);
    }
    nap(us);
  }
  return out;
#endif
}

}  // namespace moesim::ranks
