// moesim bump: validate a FlashInfer version bump (--from A --to B) and/or a framework revision
// bump (--from-framework/--to-framework) over a suite: oracle backends, finding changes,
// numerics per stage, known-bad entries fixed or introduced.
// Options -> workflows::BumpRequest -> workflows::run_bump -> reports/bump_report.
#include <cstdio>
#include <iostream>

#include "cli/common.hpp"
#include "cli/output_file.hpp"
#include "cli/registry.hpp"
#include "reports/bump_report.hpp"
#include "sim/core/error.hpp"
#include "workflows/bump.hpp"

namespace moesim::cli {
namespace {

int run_bump_cmd(const std::vector<std::string>& args) {
  po::options_description o("bump options");
  workflows::BumpRequest req;
  std::string html, markdown;
  bool as_json = false;
  o.add_options()
      ("suite", po::value(&req.suite), "suite file (JSON, docs/suite-format.md)")
      ("from", po::value(&req.from), "FlashInfer version before the bump (A)")
      ("to", po::value(&req.to), "FlashInfer version after the bump (B)")
      ("from-framework", po::value(&req.from_framework), "framework revision before (vllm@REV | sglang@REV)")
      ("to-framework", po::value(&req.to_framework), "framework revision after")
      ("html", po::value(&html), "write a self-contained HTML report (inline CSS and SVG)")
      ("markdown", po::value(&markdown), "write a Markdown report")
      ("json", po::bool_switch(&as_json), "print the JSON report on stdout (default: Markdown)")
      ("threads", po::value(&req.threads), "OpenMP threads per replay (default: all)");
  po::positional_options_description pos;
  pos.add("suite", 1);
  po::variables_map vm;
  if (!parse_options(args, o, pos, vm,
                     "bump --from A --to B SUITE [--from-framework vllm@R1 --to-framework vllm@R2] [--html FILE] [--markdown FILE] [--json]"))
    return kExitOk;
  if (req.suite.empty()) throw InputError("bump", "give a SUITE file (see --help)");
  req.on_case = [](std::size_t i, std::size_t n, const std::string& id) {
    std::fprintf(stderr, "moesim bump: [%zu/%zu] %s\n", i + 1, n, id.c_str());
  };
  const workflows::BumpResult r = workflows::run_bump(req);
  if (!html.empty()) write_output_file(html, reports::to_html(r), "--html");
  if (!markdown.empty()) write_output_file(markdown, reports::to_markdown(r), "--markdown");
  if (as_json) std::cout << boost::json::serialize(reports::to_json(r)) << "\n";
  else std::cout << reports::to_markdown(r);
  for (const auto& c : r.cases)
    if (!c.error.empty()) return kExitBadInput;
  return kExitOk;
}

const Registrar reg("bump", "validate a FlashInfer / framework version bump over a suite (HTML, Markdown, JSON)", run_bump_cmd);

}  // namespace
}  // namespace moesim::cli
