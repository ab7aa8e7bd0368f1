#include "sim/kernels/finding.hpp"

#include "sim/core/error.hpp"

namespace moesim::kernels {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

Severity parse_severity(const std::string& s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "error") return Severity::error;
  throw InputError("", "unknown severity '" + s + "' (info | warning | error)");
}

const std::vector<std::string>& all_finding_ids() {
  static const std::vector<std::string> ids = {
      finding_id::kGridYOverflow,        finding_id::kInt32OffsetOverflow, finding_id::kSmemExceeded,
      finding_id::kTileUnregistered,     finding_id::kEmptyTacticSet,      finding_id::kActivationUnsupported,
      finding_id::kScaleShapeContract,   finding_id::kScaleDtypeContract,  finding_id::kLayoutMismatch,
      finding_id::kExpertIdRange,        finding_id::kOutputNotWritten,    finding_id::kEmulatedOobAccess,
      finding_id::kKnownBadVersion,      finding_id::kEmpiricalCrashRegion, finding_id::kWorkspaceExceedsMemory,
      finding_id::kGridZOverflow};
  return ids;
}

}  // namespace moesim::kernels
