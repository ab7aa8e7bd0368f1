// libFuzzer harness: every models/ JSON loader. The first byte selects the loader (and the
// file it reads); the rest replaces that file in a private copy of models/ (made once, in
// $MOESIM_FUZZ_TMP or /dev/shm), the loader runs, the original content is restored.
// InputError is the expected outcome; anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "models/lib/chunking.hpp"
#include "models/lib/device.hpp"
#include "models/lib/flashinfer_profile.hpp"
#include "models/lib/framework_devices.hpp"
#include "models/lib/framework_rules.hpp"
#include "models/lib/json_node.hpp"
#include "models/lib/known_bad.hpp"
#include "models/lib/mma_params.hpp"
#include "models/lib/preset.hpp"
#include "models/lib/sm90_interleave_versions.hpp"
#include "models/lib/triton_config.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/variant.hpp"

namespace fs = std::filesystem;
using namespace moesim;

namespace {
std::string g_dir;  // private models copy

struct Loader {
  const char* file;  // relative to the models dir
  std::function<void(const std::string& dir, const std::string& path)> run;
};

const std::vector<Loader>& loaders() {
  static const std::vector<Loader> l = {
      {"devices/devices.json", [](auto&, auto& p) { models::DeviceTable::load_file(p); }},
      {"frameworks/device_aliases.json", [](auto&, auto& p) { models::load_device_aliases(p); }},
      {"frameworks/vllm.json", [](auto&, auto& p) { models::load_framework(p); }},
      {"frameworks/sglang.json", [](auto& d, auto&) { models::load_framework_by_name(d, "sglang"); }},
      {"chunking/vllm.json", [](auto& d, auto&) { models::ChunkingTable::load(d, "vllm"); }},
      {"flashinfer/0.6.11.json", [](auto& d, auto&) { models::FlashInferProfiles::load(d); }},
      {"flashinfer/sm90_interleave.json", [](auto&, auto& p) { models::Sm90InterleaveVersions::load_file(p); }},
      {"known_bad.json", [](auto& d, auto&) { models::KnownBadTable::load(d); }},
      {"mma/fdpa.json", [](auto&, auto& p) { models::FdpaTable::load(p); }},
      {"presets/qwen3-30b-a3b.json", [](auto& d, auto&) { models::load_preset(d, "qwen3-30b-a3b"); }},
      {"triton_configs/vllm_defaults.json", [](auto& d, auto&) { models::TritonConfigRules::load(d, "vllm"); }},
      {"kernels/triton_bf16.json", [](auto&, auto& p) { kernels::load_variant(p); }},
      {"kernels/flashinfer_cutlass_nvfp4.json", [](auto&, auto& p) { kernels::load_variant(p); }},
      {"presets/qwen3-30b-a3b.json", [](auto&, auto& p) { models::Document::load(p); }},  // the JSON parser itself
  };
  return l;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
void spit(const std::string& p, const char* d, std::size_t n) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(d, static_cast<std::streamsize>(n));
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("MOESIM_FUZZ_TMP");
  g_dir = std::string(tmp ? tmp : "/dev/shm") + "/moesim_fuzz_models_" + std::to_string(getpid());
  fs::remove_all(g_dir);
  fs::copy(models_dir(), g_dir, fs::copy_options::recursive);
  setenv("MOESIM_MODELS_DIR", g_dir.c_str(), 1);
  std::atexit([] { fs::remove_all(g_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Loader& l = loaders()[data[0] % loaders().size()];
  const std::string path = g_dir + "/" + l.file;
  const std::string orig = slurp(path);
  spit(path, reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    l.run(g_dir, path);
  } catch (const InputError&) {
  }
  spit(path, orig.data(), orig.size());
  return 0;
}
