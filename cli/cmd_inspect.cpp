// moesim inspect: what a trace holds, its expert-load statistics, and what it lacks.
#include <boost/json.hpp>
#include <iostream>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "reports/inspect_report.hpp"
#include "traces/inspect.hpp"
#include "traces/trace_io.hpp"

namespace moesim::cli {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string path;
  bool as_json = false, per_expert = false;
  opts.add_options()("trace", po::value<std::string>(&path)->required(), "trace file (HDF5)")
      ("json", po::bool_switch(&as_json), "machine-readable JSON on stdout")
      ("per-expert", po::bool_switch(&per_expert), "also list tokens per expert");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "inspect TRACE [--json] [--per-expert]")) return 0;
  const traces::Trace t = traces::read_trace(path);
  const traces::TraceSummary s = traces::summarize(t);
  if (as_json)
    std::cout << boost::json::serialize(reports::to_json(t, s, per_expert)) << "\n";
  else
    std::cout << reports::to_text(t, s, per_expert);
  return 0;
}

Registrar reg("inspect", "summarise a trace: shapes, dtypes, expert load, what it lacks", run);

}  // namespace
}  // namespace moesim::cli
