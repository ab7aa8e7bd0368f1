#pragma once
// Renderings of a regress verdict (workflows/regress.hpp): JUnit XML (one testcase per case
// instance; the failure text names the first divergent stage or the new finding), a Markdown
// summary sized for a CI job summary (at most 1 MiB), JSON, and a short text summary.
#include <boost/json.hpp>
#include <cstddef>
#include <string>

#include "workflows/regress.hpp"

namespace moesim::reports {

inline constexpr std::size_t kMarkdownSummaryLimit = 1u << 20;  // GitHub's step-summary cap

std::string to_junit(const workflows::RegressResult& r);
std::string to_markdown(const workflows::RegressResult& r, std::size_t limit = kMarkdownSummaryLimit);
boost::json::object to_json(const workflows::RegressResult& r);
std::string to_text(const workflows::RegressResult& r);

// XML 1.0 text/attribute escaping; characters XML cannot carry become U+FFFD.
std::string xml_escape(const std::string& s);

}  // namespace moesim::reports
