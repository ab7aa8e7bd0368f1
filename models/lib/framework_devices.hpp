#pragma once
// Device names -> compute capability, for the framework oracles only
// (models/frameworks/device_aliases.json). The oracles need nothing but the SM version and
// platform; the full device records (SM count, smem, grid limits) live in models/devices/.
#include <string>
#include <vector>

namespace moesim::models {

struct DeviceAlias {
  std::string name;      // canonical alias as written in the file
  int sm = 0;            // major*10 + minor, as vLLM's DeviceCapability.to_int()
  std::string platform;  // "cuda"
  std::string text;      // marketing name
};

// Resolves `name` case-insensitively; "sm_90", "sm90", "SM90a" all resolve to sm90
// (the arch-specific 'a'/'f' suffix is dropped). InputError listing known names otherwise.
DeviceAlias resolve_device(const std::string& models_dir, const std::string& name);
std::vector<DeviceAlias> load_device_aliases(const std::string& path);

}  // namespace moesim::models
