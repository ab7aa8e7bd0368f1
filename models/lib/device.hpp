#pragma once
// Device records for launch-geometry checks (models/devices/devices.json): SM version, SM
// count, opt-in shared memory per block and CUDA grid limits.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace moesim::models {

struct Device {
  std::string id;                    // "h100", "thor", ...
  std::string name;                  // torch.cuda.get_device_name() spelling
  std::vector<std::string> aliases;  // "sm90", ...
  int sm = 0;                        // major*10 + minor
  std::int64_t sm_count = 0;
  std::int64_t smem_per_block_optin = 0;  // bytes
  std::int64_t memory_bytes = 0;          // device memory (datasheet capacity, bytes); 0 = unknown
  std::array<std::int64_t, 3> grid_max{2147483647, 65535, 65535};
  std::string confidence;            // "spec" | "assumed"
  std::string note;
  int major() const { return sm / 10; }
};

class DeviceTable {
 public:
  // Loads <models_dir>/devices/devices.json (InputError naming file and JSON pointer).
  static DeviceTable load(const std::string& models_dir);
  static DeviceTable load_file(const std::string& path);
  // Case-insensitive id, name or alias; "sm_90a"/"SM90" -> "sm90". InputError listing ids.
  const Device& find(const std::string& name) const;
  const std::vector<Device>& all() const { return devices_; }
  const std::string& file() const { return file_; }
  std::string grid_limits_source;

 private:
  std::vector<Device> devices_;
  std::string file_;
};

// Normalises a device spelling for lookup: lower case, "sm_" -> "sm", drops an arch suffix
// letter after the digits ("sm90a" -> "sm90", "sm_100f" -> "sm100").
std::string normalize_device_name(const std::string& s);

}  // namespace moesim::models
