#pragma once
// One vocabulary for values that arrive both as CLI flags and as trace attributes: a trace's
// /context and /model attributes go through the same checks as the equivalent option
// (--tp/--ep/--dp, --device, --flashinfer, --framework/--vllm/--sglang, --backend/--variant,
// --layout). Every failure is an InputError naming `where` (file:/context@tp) or the flag.
#include <cstdint>
#include <string>

#include "traces/trace.hpp"

namespace moesim::traces {

// Documented cap on tp/ep/dp (no deployment we model exceeds it).
inline constexpr std::int64_t kMaxParallelSize = 4096;
// Documented cap on --threads (OpenMP; also bounded by omp_get_thread_limit()).
inline constexpr int kMaxThreads = 1024;

// 1..kMaxParallelSize.
void check_parallel_size(const std::string& where, const std::string& name, std::int64_t v);
// A device id, name or alias of models/devices/devices.json.
void check_device(const std::string& where, const std::string& device);
// A FlashInfer version in the PEP 440 subset of models/lib/framework_version.hpp.
void check_flashinfer_version(const std::string& where, const std::string& v);
// NAME@REVISION with NAME one of models/frameworks/NAME.json.
void check_framework(const std::string& where, const std::string& fw);
// A kernel variant id (models/kernels/ID.json) or a family prefix of one (flashinfer_trtllm).
void check_backend(const std::string& where, const std::string& id);
// Printable ASCII without newlines, at most 256 bytes (free-form family-specific tactic text;
// its keys are checked where the tactic is applied, e.g. replay::apply_triton_tactic).
void check_tactic(const std::string& where, const std::string& tactic);
// A scale/weight layout tag of sim/quant/layout.hpp.
void check_layout_tag(const std::string& where, const std::string& tag);

// Loads the device table and models/frameworks/*.json once per process (read_trace calls it
// before forking the isolated reader, so each child does not parse them again).
void preload_vocabularies();

// All of the above on a trace read from `file` (empty strings = not recorded, allowed).
void validate_context(const Trace& t, const std::string& file);
// The same rules on a context given as flags (moesim synth), errors naming the flag.
void validate_context_flags(const RecordingContext& c);

}  // namespace moesim::traces
