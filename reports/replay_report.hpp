#pragma once
// Reports of one `moesim replay` run: per call, the variant's findings, stage timings and the
// diff against the chosen side (reference, golden, another variant), as text, JSON
// (Boost.JSON) or Markdown.
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "replay/diff.hpp"
#include "workflows/replay_job.hpp"

namespace moesim::reports {

// The replay job's result structs (workflows/replay_job.hpp), under their report names.
using workflows::CallReport;
using workflows::ReplayReport;

boost::json::object to_json(const replay::BufferDiff& d);
boost::json::object to_json(const ReplayReport& r);
std::string to_text(const ReplayReport& r);
std::string to_markdown(const ReplayReport& r);
// `moesim replay --list-variants`: one line per variant description.
std::string variant_list_text();

}  // namespace moesim::reports
