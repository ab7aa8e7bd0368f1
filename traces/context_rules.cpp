#include "traces/context_rules.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "models/lib/device.hpp"
#include "models/lib/framework_rules.hpp"
#include "models/lib/framework_version.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/quant/layout.hpp"

namespace moesim::traces {
namespace {
bool safe_id(const std::string& s) {
  return !s.empty() && s.size() <= 128 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; });
}
bool is_file(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
std::string printable(const std::string& s) {
  std::string o;
  for (char c : s.substr(0, 64)) o += (c >= 0x20 && c < 0x7f) ? c : '?';
  return o + (s.size() > 64 ? "..." : "");
}
}  // namespace

void check_parallel_size(const std::string& where, const std::string& name, std::int64_t v) {
  if (v < 1 || v > kMaxParallelSize)
    throw InputError(where, name + " must be in [1, " + std::to_string(kMaxParallelSize) + "], got " + std::to_string(v));
}

const models::DeviceTable& device_table() {
  static const models::DeviceTable table = models::DeviceTable::load(models_dir());
  return table;
}

std::mutex& frameworks_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, models::Framework>& frameworks_cache() {
  static std::map<std::string, models::Framework> cache;
  return cache;
}
const models::Framework& framework_named(const std::string& name) {
  std::lock_guard<std::mutex> lock(frameworks_mu());
  auto& cache = frameworks_cache();
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, models::load_framework_by_name(models_dir(), name)).first;
  return it->second;
}

void preload_vocabularies() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      device_table();
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(models_dir() + "/frameworks", ec))
        if (e.path().extension() == ".json" && e.path().stem() != "device_aliases") framework_named(e.path().stem().string());
    } catch (const InputError&) {
      // A broken models/ file is reported where it is used, with its own message.
    }
  });
}

void check_device(const std::string& where, const std::string& device) {
  try {
    device_table().find(device);
  } catch (const InputError& e) {
    throw InputError(where, e.problem());
  }
}

void check_flashinfer_version(const std::string& where, const std::string& v) { models::PyVersion::parse(v, where); }

void check_framework(const std::string& where, const std::string& fw) {
  const auto at = fw.find('@');
  const std::string name = fw.substr(0, at);
  if (!safe_id(name) || !is_file(models_dir() + "/frameworks/" + name + ".json"))
    throw InputError(where, "unknown framework '" + printable(name) + "' (known: models/frameworks/*.json: vllm, sglang)");
  if (at != std::string::npos) {
    // The revision vocabulary of --vllm/--sglang: ids and aliases in models/frameworks/NAME.json.
    const std::string rev = fw.substr(at + 1);
    const models::Framework& f = framework_named(name);
    if (f.find_revision(rev) < 0) {
      std::string known;
      for (const auto& r : f.revisions) known += (known.empty() ? "" : ", ") + r.id;
      throw InputError(where, "unknown " + name + " revision '" + printable(rev) + "' (known: " + known + ")");
    }
  }
}

void check_backend(const std::string& where, const std::string& id) {
  // A kernel variant id (models/kernels/ID.json, what replay --variant takes) or the family
  // name of one (ID_..., what check --backend takes: flashinfer_trtllm, triton, ...).
  if (safe_id(id)) {
    if (is_file(models_dir() + "/kernels/" + id + ".json")) return;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(models_dir() + "/kernels", ec))
      if (e.path().extension() == ".json" && e.path().stem().string().rfind(id + "_", 0) == 0) return;
  }
  throw InputError(where, "unknown kernel backend '" + printable(id) +
                              "' (known: the ids of models/kernels/*.json and their family prefixes)");
}

void check_tactic(const std::string& where, const std::string& tactic) {
  if (tactic.size() > 256) throw InputError(where, "tactic longer than 256 characters");
  for (char c : tactic)
    if (c < 0x20 || c >= 0x7f) throw InputError(where, "tactic '" + printable(tactic) + "' contains a non-printable character");
}

void check_layout_tag(const std::string& where, const std::string& tag) {
  try {
    quant::parse_layout(tag);
  } catch (const InputError& e) {
    throw InputError(where, "unknown layout tag '" + printable(tag) + "' (" + e.problem() + ")");
  }
}

namespace {
// Runs a rule; its error keeps where and problem, with any control character of the value
// (a newline in a trace attribute) shown as '?', so the error stays one line.
template <class F>
void one_line_rule(F&& rule) {
  try {
    rule();
  } catch (const InputError& e) {
    std::string problem = e.problem();
    bool changed = false;
    for (char& ch : problem)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?', changed = true;
    if (!changed) throw;
    throw InputError(e.where(), problem);
  }
}
void validate_context_unchecked(const Trace& t, const std::string& file);
void validate_context_flags_unchecked(const RecordingContext& c);
}  // namespace

void validate_context(const Trace& t, const std::string& file) {
  one_line_rule([&] { validate_context_unchecked(t, file); });
}

void validate_context_flags(const RecordingContext& c) {
  one_line_rule([&] { validate_context_flags_unchecked(c); });
}

namespace {
void validate_context_unchecked(const Trace& t, const std::string& file) {
  const RecordingContext& c = t.context;
  const std::string g = file + ":/context@";
  check_parallel_size(g + "tp", "tp", c.tp);
  check_parallel_size(g + "ep", "ep", c.ep);
  check_parallel_size(g + "dp", "dp", c.dp);
  if (c.max_num_batched_tokens < 0 || c.max_num_batched_tokens > (std::int64_t{1} << 31))
    throw InputError(g + "max_num_batched_tokens", "must be in [0, 2^31], got " + std::to_string(c.max_num_batched_tokens));
  if (!c.device.empty()) check_device(g + "device", c.device);
  if (!c.flashinfer_version.empty()) check_flashinfer_version(g + "flashinfer_version", c.flashinfer_version);
  if (!c.framework.empty()) check_framework(g + "framework", c.framework);
  if (!c.backend.empty()) check_backend(g + "backend", c.backend);
  check_tactic(g + "tactic", c.tactic);
  check_layout_tag(file + ":/model@weight_layout", t.model.weight_layout);
  check_layout_tag(file + ":/model@scale_layout", t.model.scale_layout);
}

void validate_context_flags_unchecked(const RecordingContext& c) {
  check_parallel_size("--tp", "tp", c.tp);
  check_parallel_size("--ep", "ep", c.ep);
  check_parallel_size("--dp", "dp", c.dp);
  if (c.max_num_batched_tokens < 0 || c.max_num_batched_tokens > (std::int64_t{1} << 31))
    throw InputError("--max-num-batched-tokens", "must be in [0, 2^31], got " + std::to_string(c.max_num_batched_tokens));
  if (!c.device.empty()) check_device("--device", c.device);
  if (!c.flashinfer_version.empty()) check_flashinfer_version("--flashinfer", c.flashinfer_version);
  if (!c.framework.empty()) check_framework("--framework", c.framework);
  if (!c.backend.empty()) check_backend("--backend", c.backend);
  check_tactic("--tactic", c.tactic);
}
}  // namespace

}  // namespace moesim::traces
