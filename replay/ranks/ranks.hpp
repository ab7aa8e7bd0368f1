#pragma once
// MPI scale-out (docs/scale-out.md): which rank this process is, and a gather of each rank's
// serialised results to rank 0 that never hangs. Built with MPI when CMake's MOESIM_MPI is ON;
// MPI is initialised only when the process was started by a launcher (mpirun / srun: the
// OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE environment), so the same binary run directly
// is one process, as without MPI. Partitions are the callers' (workflows/): static and
// documented, results combined on rank 0 in a fixed order, so reports do not depend on N.
#include <functional>
#include <string>
#include <vector>

namespace moesim::ranks {

// True when a launcher started this process (its environment), whether or not MPI is built in.
bool launched();
// Built with MPI support (MOESIM_MPI).
bool built_with_mpi();
// MPI_Init_thread when launched() and built with MPI; InputError when launched() with more
// than one rank but built without MPI (each rank would run the whole job). Idempotent.
void init(int* argc, char*** argv);
// MPI_Finalize if init() initialised MPI.
void finalize();
int rank();  // 0 without MPI; before init() under a launcher, the rank it announces
int size();  // 1 without MPI

// Collective-wait deadline in seconds: MOESIM_RANK_TIMEOUT (default 3600). A wait longer
// than this (a rank stalled, died or is far behind) ends the job: one line naming the ranks
// that did not report, then MPI_Abort with exit code 2.
double timeout_seconds();

// Every rank passes its bytes; rank 0 gets all of them in rank order (its own first), the
// others an empty vector. Nonblocking sends/receives polled against timeout_seconds().
// `what` names the job in the timeout message ("replay t.h5", "regress s.json"); `share_of(r)`
// names rank r's share of the work in it ("calls 4..7 (layers 2..3)"), from the static partition.
std::vector<std::string> gather(const std::string& mine, const std::string& what,
                                const std::function<std::string(int)>& share_of = {});

// Ends every rank now: prints `line` (one line) on stderr and calls MPI_Abort with `code`.
[[noreturn]] void abort_all(const std::string& line, int code);

// Test hook (docs/scale-out.md, tests/cli/mpi_test.cpp): MOESIM_RANK_FAULT="R:throw" makes rank
// R throw an internal error in its share of the work, "R:stall" makes it sleep forever
// before reporting. Called by the workflows at the start of a rank's share; no-op unless set.
void fault_hook(const std::string& item);

}  // namespace moesim::ranks
