#pragma once
// Subcommand registry. Each cli/cmd_*.cpp registers itself with one static Registrar, so a
// new subcommand is a new file and nothing else changes.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace moesim::cli {

// args[0] is the subcommand name; the rest are its own arguments.
using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;  // one line for `moesim --help`
  CommandFn run;
};

std::map<std::string, Command>& commands();

struct Registrar {
  Registrar(std::string name, std::string summary, CommandFn fn);
};

}  // namespace moesim::cli
