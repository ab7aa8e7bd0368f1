#pragma once
// Byte form of the per-item results that MPI ranks send to rank 0 (replay/ranks): a replay
// call report (without stage buffers) and a regress case result. Field by field, exact (doubles
// as their bits), so a report assembled on rank 0 from decoded items is byte-identical to one
// built in one process. decode_* throws std::runtime_error on a malformed buffer.
#include <string>

#include "workflows/regress.hpp"
#include "workflows/replay_job.hpp"

namespace moesim::workflows {

std::string encode_call_report(const CallReport& c);   // c.result.buffers must be empty
CallReport decode_call_report(const std::string& bytes);
std::string encode_case_result(const CaseResult& c);
CaseResult decode_case_result(const std::string& bytes);

// A rank's share: a list of encoded items, or the one-line error that stopped it (with the
// item it was working on). Framing for ranks::gather.
struct RankShare {
  bool failed = false;
  std::string error;                 // "call 3 (layer 1): file:dataset: problem"
  bool input_error = false;          // InputError (bad input) rather than an internal error
  std::vector<std::string> items;
};
std::string encode_share(const RankShare& s);
RankShare decode_share(const std::string& bytes);

}  // namespace moesim::workflows
