// bench_mpi_scaleout: MPI scale-out of `moesim replay` (docs/scale-out.md), measured in one run:
//  1. a synthetic multi-layer bf16 trace (L layers, one call of T tokens per layer) replayed
//     through triton_bf16 (--against none) on 1 rank x 1 thread and on 2 ranks x 1 thread
//     (mpirun --oversubscribe --bind-to none): wall times, speed-up, and the per-MAC cost of the
//     1-rank run (the report's per-call replay seconds / the MACs of GEMM1 + GEMM2: T*K*(N1*H + H*I));
//  2. the bytes a rank sends to rank 0 per call (workflows/result_codec, a call report replayed
//     in process) at two expert counts, fitted as a + b*E;
//  3. the projected time of a full DeepSeek-V3 layer stack (58 MoE layers, 8192 tokens per
//     layer: E=256, K=8, H=7168, I=2048) on 64 ranks x 1 thread from those measurements.
// c_mac is the 1-rank process's CPU time (getrusage of the child: start-up, trace reads and
// replay included) per MAC, so the projection assumes a dedicated core per rank.
// Usage: bench_mpi_scaleout [layers=8] [tokens=384]. Needs mpirun (openmpi-bin). Prints; asserts nothing.
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/common.hpp"
#include "workflows/replay_job.hpp"
#include "workflows/result_codec.hpp"

namespace {
using moesim::bench::wall_now;

std::string tmp(const std::string& name) { return "/tmp/bench_mpi_scaleout." + std::to_string(getpid()) + "." + name; }

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// CPU seconds (user + sys) of the finished child processes so far.
double children_cpu() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Bytes rank -> rank 0 for one call report of a T=2 call with E experts (against reference:
// the per-expert diff groups are what grows with E).
std::size_t report_bytes(std::int64_t experts) {
  const std::string t = tmp("e" + std::to_string(experts) + ".h5");
  sh(std::string(MOESIM_BINARY) + " synth -p deepseek-v3 --layers 2 -t 2 --experts " + std::to_string(experts) +
     " --top-k 2 --hidden 128 --intermediate 128 --activations --weights bf16 -o " + t + " > /dev/null");
  moesim::workflows::ReplayRequest q;
  q.trace = t;
  q.variant = "triton_bf16";
  q.against = "reference";
  q.call = "1";
  q.threads = 1;
  const auto rep = moesim::workflows::run_replay(q);
  std::remove(t.c_str());
  return moesim::workflows::encode_call_report(rep.calls.at(0)).size();
}
}  // namespace

int main(int argc, char** argv) try {
  const long L = argc > 1 ? std::atol(argv[1]) : 8, T = argc > 2 ? std::atol(argv[2]) : 384;
  const long E = 16, K = 2, H = 1024, I = 512;
  const double macs_call = double(T) * K * (2.0 * I * H + double(H) * I);
  const std::string trace = tmp("trace.h5");
  moesim::bench::print_load("before");
  if (sh(std::string(MOESIM_BINARY) + " synth -p deepseek-v3 --layers " + std::to_string(L) + " -t " + std::to_string(T) +
         " --experts " + std::to_string(E) + " --top-k " + std::to_string(K) + " --hidden " + std::to_string(H) + " --intermediate " +
         std::to_string(I) + " --activations --weights bf16 -s 1 -o " + trace + " > /dev/null") != 0)
    return 2;
  std::printf("trace: %ld layers x 1 call, T=%ld E=%ld K=%ld H=%ld I=%ld bf16 (%.2f GMAC per call)\n", L, T, E, K, H, I, macs_call / 1e9);
  const std::string replay = std::string(" ") + MOESIM_BINARY + " replay " + trace + " --variant triton_bf16 --against none --threads 1 --json";
  const std::string mpirun = std::string("mpirun --oversubscribe --bind-to none -q ") + (geteuid() == 0 ? "--allow-run-as-root " : "") +
                             "-x OMP_NUM_THREADS=1 ";
  const std::string o1 = tmp("r1.json"), o2 = tmp("r2.json");
  double t0 = wall_now();
  const double cpu0 = children_cpu();
  const int rc1 = sh("OMP_NUM_THREADS=1" + replay + " > " + o1);
  const double w1 = wall_now() - t0, cpu1 = children_cpu() - cpu0;
  t0 = wall_now();
  const int rc2 = sh(mpirun + "-np 2" + replay + " > " + o2);
  const double w2 = wall_now() - t0;
  moesim::bench::print_load("after the replays");
  if (rc1 != 0 || rc2 != 0) {
    std::fprintf(stderr, "bench_mpi_scaleout: replay exit %d / %d\n", rc1, rc2);
    return 2;
  }
  const auto j1 = boost::json::parse(slurp(o1)).as_object(), j2 = boost::json::parse(slurp(o2)).as_object();
  double compute = 0;
  for (const auto& c : j1.at("calls").as_array()) compute += c.as_object().at("seconds").to_number<double>();
  const std::size_t n1 = j1.at("calls").as_array().size(), n2 = j2.at("calls").as_array().size();
  const double c_mac_wall = compute / (macs_call * double(L));
  // The projection uses CPU time: on a dedicated core wall ~ CPU; here the cores are shared.
  const double c_mac = cpu1 / (macs_call * double(L));
  std::printf("1 rank x 1 thread : %.2f s wall, %.2f s CPU (%zu calls; replay wall %.2f s = %.3f wall-ns per MAC; whole process %.3f CPU-ns per MAC)\n",
              w1, cpu1, n1, compute, c_mac_wall * 1e9, c_mac * 1e9);
  std::printf("2 ranks x 1 thread: %.2f s wall (%zu calls)\n", w2, n2);
  std::printf("speed-up 2 ranks / 1 rank: %.2fx (ideal 2.00x; start-up, the trace's metadata read on every rank and the\n"
              "  2-core machine shared with other jobs take the rest)\n", w1 / w2);
  std::remove(o1.c_str()), std::remove(o2.c_str()), std::remove(trace.c_str());

  // Communication volume per call (measured): bytes = a + b*E from two expert counts.
  const std::size_t b16 = report_bytes(16), b32 = report_bytes(32);
  const double b = double(b32 - b16) / 16.0, a = double(b16) - 16.0 * b;
  const double bytes_dsv3 = a + b * 256;
  std::printf("result bytes per call (against reference): E=16 %zu B, E=32 %zu B -> %.0f + %.1f*E; E=256: %.0f B\n", b16, b32, a, b,
              bytes_dsv3);

  // Projection: DeepSeek-V3, 58 MoE layers x 8192 tokens, 64 ranks x 1 thread. Items are calls
  // (one per layer); the contiguous partition puts one layer on each of 58 ranks (6 idle).
  const double Ld = 58, Td = 8192, Ed = 256, Kd = 8, Hd = 7168, Id = 2048, R = 64;
  const double macs_layer = Td * Kd * (2 * Id * Hd + Hd * Id);
  const double per_rank_layers = std::ceil(Ld / R);
  const double t_compute = per_rank_layers * macs_layer * c_mac;
  const double weights_layer = Ed * (2 * Id * Hd + Hd * Id) * 2;  // bf16 bytes a rank reads for its layer
  const double fs_bw = 2e9;                                        // ASSUMED shared-filesystem read per node, B/s
  const double alpha = 5e-6, beta = 10e9;                          // ASSUMED interconnect latency, bandwidth
  const double volume = Ld * bytes_dsv3;                           // gathered to rank 0, result reports only
  const double t_comm = (R - 1) * alpha + volume / beta;
  const double t_read = per_rank_layers * weights_layer / fs_bw;
  std::printf("projection, DeepSeek-V3 layer stack (58 MoE layers, T=8192, E=256 K=8 H=7168 I=2048; %.2f TMAC per layer):\n",
              macs_layer / 1e12);
  std::printf("  model: T(R) = ceil(58/R) * MAC_layer * c_mac + ceil(58/R) * W_layer / B_fs + (R-1)*alpha + 58*bytes_call/beta\n");
  std::printf("  c_mac %.3f CPU-ns (measured above: whole 1-rank process incl. start-up and reads / MACs, 1 thread); W_layer %.1f GB bf16; B_fs %.0f GB/s, alpha %.0f us, beta %.0f GB/s (assumed)\n",
              c_mac * 1e9, weights_layer / 1e9, fs_bw / 1e9, alpha * 1e6, beta / 1e9);
  std::printf("  1 rank : %.0f s (%.1f h)\n", Ld * (macs_layer * c_mac + weights_layer / fs_bw), Ld * (macs_layer * c_mac + weights_layer / fs_bw) / 3600);
  std::printf("  64 ranks: compute %.0f s + weight read %.1f s + gather %.4f s (%.2f MB) = %.0f s (%.1f min); speed-up %.1fx (58 busy ranks)\n",
              t_compute, t_read, t_comm, volume / 1e6, t_compute + t_read + t_comm, (t_compute + t_read + t_comm) / 60,
              Ld * (macs_layer * c_mac + weights_layer / fs_bw) / (t_compute + t_read + t_comm));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_mpi_scaleout: error: %s\n", e.what());
  return 2;
}
