#pragma once
// Renderings of a check job (workflows/check_job.hpp) as `moesim check` prints them: the
// findings at or above a severity, as text blocks or one line of JSON.
#include <boost/json.hpp>
#include <string>

#include "workflows/check_job.hpp"

namespace moesim::reports {

boost::json::object to_json(const workflows::CheckResult& r, kernels::Severity min_severity);
std::string to_text(const workflows::CheckResult& r, kernels::Severity min_severity);

}  // namespace moesim::reports
