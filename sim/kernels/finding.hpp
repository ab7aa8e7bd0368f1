#pragma once
// A hazard finding: what would crash or go wrong, where, why, and from which upstream code.
// Shared by the shape checks (sim/kernels/*_launch.cpp, replay/check) and the replay engine
// (OUTPUT_NOT_WRITTEN, EMULATED_OOB_ACCESS); reports/finding_report.hpp renders it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moesim::kernels {

enum class Severity { info = 0, warning = 1, error = 2 };  // error: crash / wrong result certain

const char* severity_name(Severity s);
Severity parse_severity(const std::string& s);  // InputError on anything else

// Finding ids (docs/findings.md has the catalogue).
namespace finding_id {
inline constexpr const char* kGridYOverflow = "GRID_Y_OVERFLOW";
inline constexpr const char* kGridZOverflow = "GRID_Z_OVERFLOW";
inline constexpr const char* kInt32OffsetOverflow = "INT32_OFFSET_OVERFLOW";
inline constexpr const char* kSmemExceeded = "SMEM_EXCEEDED";
inline constexpr const char* kTileUnregistered = "TILE_UNREGISTERED";
inline constexpr const char* kEmptyTacticSet = "EMPTY_TACTIC_SET";
inline constexpr const char* kActivationUnsupported = "ACTIVATION_UNSUPPORTED";
inline constexpr const char* kScaleShapeContract = "SCALE_SHAPE_CONTRACT";
inline constexpr const char* kScaleDtypeContract = "SCALE_DTYPE_CONTRACT";
inline constexpr const char* kLayoutMismatch = "LAYOUT_MISMATCH";
inline constexpr const char* kExpertIdRange = "EXPERT_ID_RANGE";
inline constexpr const char* kOutputNotWritten = "OUTPUT_NOT_WRITTEN";
inline constexpr const char* kEmulatedOobAccess = "EMULATED_OOB_ACCESS";
inline constexpr const char* kKnownBadVersion = "KNOWN_BAD_VERSION";
inline constexpr const char* kEmpiricalCrashRegion = "EMPIRICAL_CRASH_REGION";
inline constexpr const char* kWorkspaceExceedsMemory = "WORKSPACE_EXCEEDS_MEMORY";
}  // namespace finding_id

// Every id above, in catalogue order.
const std::vector<std::string>& all_finding_ids();

struct Finding {
  std::string id;         // finding_id::*
  Severity severity = Severity::error;
  std::string kernel;     // variant id: flashinfer_trtllm, flashinfer_cutlass, flashinfer_cutedsl, triton, moe_align, ...
  std::string stage;      // routing, gemm1, gemm2, finalize, dispatch, quantize_act, align, ...
  std::string message;    // one line: what happens
  std::string formula;    // the formula with the values substituted
  std::string limit;      // the limit it is compared against
  std::string upstream;   // modelled upstream location: repo file function @ tag/commit
  std::string gpu_error;  // the error text the GPU / framework would print ("" = none: silent wrong result or a warning)
  std::string basis = "source";  // "source" (derived from code) | "empirical" (reported on hardware) | "model" (estimate)
  std::optional<std::int64_t> value;              // the computed quantity, when numeric
  std::optional<std::int64_t> limit_value;        // the limit, when numeric
  std::optional<std::int64_t> tokens;             // tokens per kernel call at which it was evaluated
  std::optional<std::int64_t> first_failing_tokens;  // exact threshold (tokens per kernel call), if searched
  // Emulated-memory findings (replay): the buffer, the first offending element index and how
  // many elements / accesses; limit_value then holds the buffer size in elements.
  std::string buffer;
  std::optional<std::int64_t> index;
  std::optional<std::int64_t> count;
  // Context the finding was evaluated in.
  std::string device, library_version, framework;
  std::vector<std::pair<std::string, std::string>> details;  // extra key/values (tile, tactic, ...)
};


}  // namespace moesim::kernels
