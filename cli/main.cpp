// moesim front end: dispatches to the subcommand registered under argv[1].
#include <cstdlib>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/registry.hpp"
#include "replay/ranks/ranks.hpp"
#include "sim/core/atomic_file.hpp"
#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "sim/core/isolate.hpp"

namespace {
void print_top_help() {
  std::cout << "moesim " << MOESIM_VERSION
            << " - trace-replay simulator and regression harness for GPU MoE kernels\n\n"
               "usage: moesim <command> [options]   (moesim <command> --help for details)\n\ncommands:\n";
  for (const auto& [name, cmd] : moesim::cli::commands())
    std::cout << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') << cmd.summary << "\n";
  std::cout << "\nglobal options (any command):\n"
               "  --max-memory SIZE  memory budget for data read from input files (512M, 8G, 50%;\n"
               "                     default half of physical RAM; docs/hardening.md)\n";
}

// An error is one line: control characters from an input (a newline in a trace attribute,
// an option value) are shown as '?'.
std::string one_line(const std::string& s) {
  std::string o = s;
  for (char& c : o)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return o;
}

// Takes the global --max-memory option out of args (any position after the command).
void take_global_options(std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size();) {
    std::string v;
    if (args[i] == "--max-memory") {
      if (i + 1 >= args.size()) throw moesim::InputError("--max-memory", "needs a size (e.g. 512M, 8G, 50%)");
      v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    } else if (args[i].rfind("--max-memory=", 0) == 0) {
      v = args[i].substr(13);
      args.erase(args.begin() + static_cast<long>(i));
    } else {
      ++i;
      continue;
    }
    moesim::set_memory_budget(moesim::parse_memory_size(v, "--max-memory"));
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_top_help();
    return args.empty() ? moesim::kExitBadInput : moesim::kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "moesim " << MOESIM_VERSION << "\n";
    return 0;
  }
  auto& table = moesim::cli::commands();
  auto it = table.find(args[0]);
  if (it == table.end()) {
    std::cerr << "moesim: error: unknown command '" << args[0] << "' (see moesim --help)\n";
    return moesim::kExitBadInput;
  }
  // Untrusted files are read in a child forked per file (sim/core/isolate.hpp). The reader
  // pool (a zygote forked now, before MPI is initialised and while this process is small) is
  // opt-in: MOESIM_READER_POOL=1. Measured by bench_read_isolation, the direct fork costs
  // ~1.0x the in-process read and the pool more (docs/hardening.md), so the fork is the default.
  if (const char* pool = std::getenv("MOESIM_READER_POOL"); pool && std::string(pool) == "1") moesim::isolate::start_pool();
  // Under mpirun / srun only the commands that split their work over ranks run
  // (docs/scale-out.md); MPI is initialised for them alone.
  const bool rank_aware = args[0] == "regress" || args[0] == "replay";
  struct Finalize {
    ~Finalize() { moesim::ranks::finalize(); }
  } finalize;
  // Only rank 0 prints errors: every rank meets a bad option or input the same way.
  auto err = [&]() -> std::ostream& {
    static std::ostringstream sink;
    return moesim::ranks::rank() == 0 ? std::cerr : sink;
  };
  try {
    if (moesim::ranks::launched()) {
      if (!rank_aware)
        throw moesim::InputError("mpirun", "'" + args[0] + "' does not run under an MPI launcher; 'regress' and 'replay' do "
                                 "(docs/scale-out.md); run it directly");
      moesim::ranks::init(&argc, &argv);
    }
    moesim::protect_inputs(true);  // no output of this run may replace one of its inputs
    take_global_options(args);
    return it->second.run(args);
  } catch (const moesim::InputError& e) {
    err() << "moesim " << one_line(args[0]) << ": error: " << one_line(e.what()) << "\n";
    return moesim::kExitBadInput;
  } catch (const std::bad_alloc&) {
    err() << "moesim " << args[0] << ": error: out of memory\n";
    return moesim::kExitInternal;
  } catch (const std::exception& e) {
    err() << "moesim " << one_line(args[0]) << ": internal error: " << one_line(e.what()) << "\n";
    return moesim::kExitInternal;
  }
}
