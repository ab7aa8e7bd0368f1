#include "models/lib/device.hpp"

#include <cctype>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

std::string normalize_device_name(const std::string& s) {
  std::string o;
  for (char c : s) o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : o)
    if (c == ' ') c = '_';
  if (o.rfind("sm_", 0) == 0) o = "sm" + o.substr(3);
  if (o.size() > 2 && o.rfind("sm", 0) == 0 && std::isdigit(static_cast<unsigned char>(o[2]))) {
    std::size_t i = 2;
    while (i < o.size() && std::isdigit(static_cast<unsigned char>(o[i]))) ++i;
    if (i + 1 == o.size() && (o[i] == 'a' || o[i] == 'f')) o.resize(i);
  }
  return o;
}

DeviceTable DeviceTable::load(const std::string& models_dir) {
  return load_file(models_dir + "/devices/devices.json");
}

DeviceTable DeviceTable::load_file(const std::string& path) {
  Document doc = Document::load(path);
  Node root = doc.root();
  DeviceTable t;
  t.file_ = path;
  t.grid_limits_source = root.get_string("grid_limits_source", "");
  std::array<std::int64_t, 3> grid{2147483647, 65535, 65535};
  if (auto d = root.find("defaults")) {
    if (auto g = d->find("grid_max")) {
      auto v = g->as_int_vector();
      if (v.size() != 3) g->fail("expected [x, y, z]");
      grid = {v[0], v[1], v[2]};
    }
  }
  for (const Node& n : root.at("devices").items()) {
    Device d;
    d.id = n.at("id").as_string();
    d.name = n.get_string("name", d.id);
    if (auto a = n.find("aliases")) d.aliases = a->as_string_vector();
    d.sm = static_cast<int>(n.at("sm").as_int());
    if (d.sm < 10 || d.sm > 999) n.at("sm").fail("SM version out of range");
    d.sm_count = n.at("sm_count").as_int();
    if (d.sm_count <= 0) n.at("sm_count").fail("must be positive");
    d.smem_per_block_optin = n.at("smem_per_block_optin").as_int();
    if (d.smem_per_block_optin <= 0) n.at("smem_per_block_optin").fail("must be positive");
    d.memory_bytes = n.get_int("memory_bytes", 0);
    if (d.memory_bytes < 0) n.at("memory_bytes").fail("must be non-negative");
    d.grid_max = grid;
    if (auto g = n.find("grid_max")) {
      auto v = g->as_int_vector();
      if (v.size() != 3) g->fail("expected [x, y, z]");
      d.grid_max = {v[0], v[1], v[2]};
    }
    d.confidence = n.get_string("confidence", "spec");
    d.note = n.get_string("note", "");
    t.devices_.push_back(std::move(d));
  }
  return t;
}

const Device& DeviceTable::find(const std::string& name) const {
  const std::string key = normalize_device_name(name);
  for (const Device& d : devices_) {
    if (normalize_device_name(d.id) == key || normalize_device_name(d.name) == key) return d;
    for (const auto& a : d.aliases)
      if (normalize_device_name(a) == key) return d;
  }
  std::string known;
  for (const Device& d : devices_) known += (known.empty() ? "" : ", ") + d.id;
  throw InputError(file_, "unknown device '" + name + "' (known: " + known + ")");
}

}  // namespace moesim::models
