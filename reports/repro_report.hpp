#pragma once
// Renderings of a repro result (workflows/repro.hpp): text for a terminal / bug report, JSON.
#include <boost/json.hpp>
#include <string>

#include "workflows/repro.hpp"

namespace moesim::reports {

boost::json::object to_json(const workflows::ReproResult& r);
std::string to_text(const workflows::ReproResult& r);

}  // namespace moesim::reports
