#pragma once
// Reports of one `moesim replay` run: per call, the variant's findings, stage timings and the
// diff against the chosen side (reference, golden, another variant), as text, JSON
// (Boost.JSON) or Markdown.
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "replay/diff.hpp"
#include "replay/executor.hpp"
#include "sim/kernels/variant.hpp"

namespace moesim::reports {

struct CallReport {
  std::size_t call = 0;
  std::int64_t num_tokens = 0;
  replay::ReplayResult result;             // candidate replay (buffers dropped after diffing)
  std::optional<replay::ReplayDiff> diff;  // absent with --against none
};

struct ReplayReport {
  std::string trace;
  std::string variant;
  std::string fidelity;
  std::vector<std::string> assumptions;
  std::string against;  // "reference_fp64", "golden", a variant id, or ""
  int threads = 1;
  std::vector<CallReport> calls;
  bool all_bit_identical() const;
  std::size_t error_findings() const;
};

boost::json::object to_json(const replay::BufferDiff& d);
boost::json::object to_json(const ReplayReport& r);
std::string to_text(const ReplayReport& r);
std::string to_markdown(const ReplayReport& r);

}  // namespace moesim::reports
