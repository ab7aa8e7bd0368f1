#pragma once
// Renderings of a backend-oracle decision (replay/oracle/oracle.hpp) used by `moesim oracle`:
// the reasoning trail as text, and the decision and trail as one line of JSON.
#include <string>

#include "replay/oracle/oracle.hpp"

namespace moesim::reports {

std::string format_text(const oracle::OracleDecision& d);
std::string format_json(const oracle::OracleDecision& d);  // serialized, with a trailing newline

}  // namespace moesim::reports
