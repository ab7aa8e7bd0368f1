#pragma once
// Renderings of `moesim inspect`: what a trace holds and its expert-load statistics.
#include <boost/json.hpp>
#include <string>

#include "traces/inspect.hpp"
#include "traces/trace.hpp"

namespace moesim::reports {

boost::json::object to_json(const traces::Trace& t, const traces::TraceSummary& s, bool per_expert);
std::string to_text(const traces::Trace& t, const traces::TraceSummary& s, bool per_expert);

}  // namespace moesim::reports
