// moesim regress: run a suite (docs/suite-format.md) and compare it with its baseline; the
// verdict as an exit code (0 pass, 1 regression, 2 bad input), JUnit XML, Markdown and JSON.
// Options -> workflows::RegressRequest -> workflows::run_regress -> reports/regress_report.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/common.hpp"
#include "cli/output_file.hpp"
#include "cli/registry.hpp"
#include "replay/ranks/ranks.hpp"
#include "reports/regress_report.hpp"
#include "sim/core/error.hpp"
#include "workflows/regress.hpp"

namespace moesim::cli {
namespace {

int run_regress_cmd(const std::vector<std::string>& args) {
  po::options_description o("regress options");
  workflows::RegressRequest req;
  std::string junit, markdown;
  bool as_json = false;
  o.add_options()
      ("suite", po::value(&req.suite), "suite file (JSON, docs/suite-format.md)")
      ("baseline", po::value(&req.baseline), "compare with this baseline directory (default: the suite's \"baseline\")")
      ("no-baseline", po::bool_switch(&req.no_baseline), "check the suite's expectations only")
      ("update-baseline", po::value(&req.update_baseline), "record the baseline (SHA-256 of output bits, metrics, findings) into DIR")
      ("junit", po::value(&junit), "write a JUnit XML report (one testcase per case)")
      ("markdown", po::value(&markdown), "write a Markdown summary (at most 1 MiB, for a CI job summary)")
      ("json", po::bool_switch(&as_json), "print the verdict as JSON instead of text")
      ("threads", po::value(&req.threads), "OpenMP threads per replay (default: all); results are bit-identical for any count")
      ("no-timings", po::bool_switch(&req.no_timings), "report 0 s for wall-clock times, so reports of any two runs (any thread or rank count) compare byte for byte");
  po::positional_options_description pos;
  pos.add("suite", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "regress SUITE [--baseline DIR | --no-baseline | --update-baseline DIR] [--junit FILE] [--markdown FILE] [--json]"))
    return kExitOk;
  if (req.suite.empty()) throw InputError("regress", "give a SUITE file (see --help)");
  if (req.no_baseline && (!req.baseline.empty() || !req.update_baseline.empty()))
    throw InputError("--no-baseline", "contradicts --baseline / --update-baseline");
  if (!req.baseline.empty() && !req.update_baseline.empty())
    throw InputError("--update-baseline", "give --baseline DIR or --update-baseline DIR, not both");
  // Progress on stderr once the suite has run for more than two seconds (one line per case).
  const auto start = std::chrono::steady_clock::now();
  req.on_case = [&](std::size_t i, std::size_t n, const std::string& id) {
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (el < 2.0 || id.empty() || ranks::rank() != 0) return;
    std::fprintf(stderr, "moesim regress: [%zu/%zu] %s (%.1f s)\n", i + 1, n, id.c_str(), el);
  };
  const workflows::RegressResult r = workflows::run_regress(req);
  if (ranks::rank() != 0) return kExitOk;  // only rank 0 writes reports (docs/scale-out.md)
  if (!junit.empty()) write_output_file(junit, reports::to_junit(r), "--junit");
  if (!markdown.empty()) write_output_file(markdown, reports::to_markdown(r), "--markdown");
  if (as_json) std::cout << boost::json::serialize(reports::to_json(r)) << "\n";
  else std::cout << reports::to_text(r);
  return r.exit_code();
}

const Registrar reg("regress", "run a regression suite against its baseline (JUnit, Markdown, JSON; exit 0/1/2)", run_regress_cmd);

}  // namespace
}  // namespace moesim::cli
