#include "models/lib/framework_devices.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
// "sm_90a" -> "sm90", "SM121f" -> "sm121"; other names only lower-cased, '-' and ' ' -> '_'.
std::string normalise(const std::string& in) {
  std::string s = lower(in);
  for (auto& c : s)
    if (c == '-' || c == ' ') c = '_';
  if (s.rfind("sm_", 0) == 0) s = "sm" + s.substr(3);
  if (s.size() > 2 && s.rfind("sm", 0) == 0 && std::isdigit(static_cast<unsigned char>(s[2]))) {
    if (s.back() == 'a' || s.back() == 'f') s.pop_back();
  }
  return s;
}
}  // namespace

std::vector<DeviceAlias> load_device_aliases(const std::string& path) {
  Document doc = Document::load(path);
  std::vector<DeviceAlias> out;
  std::set<std::string> seen;
  for (const auto& [name, n] : doc.root().at("devices").members()) {
    DeviceAlias d;
    d.name = name;
    d.sm = static_cast<int>(n.at("sm").as_int());
    if (d.sm < 10 || d.sm > 999) n.at("sm").fail("SM version out of range");
    d.platform = n.get_string("platform", "cuda");
    d.text = n.get_string("text", "");
    if (normalise(name) != name) n.fail("alias names must be written normalised (lower case, 'sm90' form): '" + normalise(name) + "'");
    if (!seen.insert(name).second) n.fail("duplicate device alias");
    out.push_back(d);
  }
  return out;
}

DeviceAlias resolve_device(const std::string& models_dir, const std::string& name) {
  auto all = load_device_aliases(models_dir + "/frameworks/device_aliases.json");
  std::string key = normalise(name);
  for (const auto& d : all)
    if (d.name == key) return d;
  std::string known;
  for (const auto& d : all) known += (known.empty() ? "" : ", ") + d.name;
  throw InputError("device '" + name + "'", "unknown device (known: " + known + ")");
}

}  // namespace moesim::models
