#include "cli/registry.hpp"

#include "cli/common.hpp"
#include "sim/core/error.hpp"

namespace moesim::cli {

std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> table;
  return table;
}

Registrar::Registrar(std::string name, std::string summary, CommandFn fn) {
  commands()[name] = Command{name, std::move(summary), std::move(fn)};
}

bool& stop_after_parse() {
  static bool stop = false;
  return stop;
}

bool parse_options(const std::vector<std::string>& args, const po::options_description& named,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& usage) {
  po::options_description all(named);
  all.add_options()("help,h", "show this help");
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: moesim " << usage << "\n\n" << all << "\n";
      return false;
    }
    po::notify(vm);
    if (stop_after_parse()) throw StopAfterParse();
  } catch (const po::error& e) {
    throw InputError("moesim " + args[0], std::string(e.what()) + " (see moesim " + args[0] + " --help)");
  }
  return true;
}

}  // namespace moesim::cli
