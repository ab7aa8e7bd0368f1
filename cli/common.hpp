#pragma once
// Helpers shared by subcommands: Program_options parsing with --help, uniform error exit.
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

namespace moesim::cli {

namespace po = boost::program_options;

// Parses args (args[0] = subcommand name) into vm. Returns false when --help was printed.
// Throws InputError on unknown or malformed options.
// The option-parser fuzz harness (fuzz/fuzz_cli.cpp) sets this: parse_options() then throws
// StopAfterParse once the options parsed, so a command's own option table is exercised
// without running the command.
struct StopAfterParse {};
bool& stop_after_parse();

bool parse_options(const std::vector<std::string>& args, const po::options_description& named,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& usage);

}  // namespace moesim::cli
