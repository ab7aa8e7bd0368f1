#pragma once
// Renderings of one finding (sim/kernels/finding.hpp): JSON, a multi-line text block, one line.
#include <boost/json.hpp>
#include <string>

#include "sim/kernels/finding.hpp"

namespace moesim::reports {

boost::json::object to_json(const kernels::Finding& f);
std::string to_text(const kernels::Finding& f);   // one multi-line human block
std::string one_line(const kernels::Finding& f);  // id [severity] kernel/stage[/buffer]: formula (models ...)

}  // namespace moesim::reports
