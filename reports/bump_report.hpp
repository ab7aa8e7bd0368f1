#pragma once
// Renderings of a version-bump result (workflows/bump.hpp): a self-contained HTML page (inline
// CSS and SVG, no scripts, no network: the summary table first, then per case the oracle's
// choice, finding changes with a threshold chart, ULP histograms and per-expert error bars),
// Markdown and JSON.
#include <boost/json.hpp>
#include <string>

#include "workflows/bump.hpp"

namespace moesim::reports {

std::string to_html(const workflows::BumpResult& r);
std::string to_markdown(const workflows::BumpResult& r);
boost::json::object to_json(const workflows::BumpResult& r);

}  // namespace moesim::reports
