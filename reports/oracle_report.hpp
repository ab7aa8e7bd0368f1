#pragma once
// Renderings of a backend-oracle decision (replay/oracle/oracle.hpp) used by `moesim oracle`:
// the reasoning trail as text, and the decision and trail as one line of JSON.
#include <string>

#include "models/lib/framework_rules.hpp"
#include "replay/oracle/oracle.hpp"

namespace moesim::reports {

std::string format_text(const oracle::OracleDecision& d);
std::string format_json(const oracle::OracleDecision& d);  // serialized, with a trailing newline

// `moesim oracle --list-revisions NAME`: every modelled revision and release tag with its date,
// source commit and what a tag resolves to (models/lib/framework_revision.hpp revision_rows).
std::string format_revision_list(const models::Framework& fw, bool json);

}  // namespace moesim::reports
