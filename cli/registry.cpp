#include "cli/registry.hpp"

#include <algorithm>

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
    // Boost 1.81's error_with_option_name::what() substitutes %value%-style placeholders in a
    // loop that never ends when an argument itself contains one (found by fuzz/fuzz_cli:
    // `moesim check --ep 'a%value%'` hung): with a '%' in any argument, build the line here.
    const bool pct = std::any_of(rest.begin(), rest.end(), [](const std::string& a) { return a.find('%') != std::string::npos; });
    std::string msg;
    if (pct) {
      const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
      msg = "invalid command line" + (named ? " at option '" + named->get_option_name() + "'" : std::string()) +
            " (an argument contains '%')";
    } else {
      msg = e.what();
    }
    throw InputError("moesim " + args[0], msg + " (see moesim " + args[0] + " --help)");
  }
  return true;
}

}  // namespace moesim::cli
