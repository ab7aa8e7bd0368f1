#include "models/lib/sm90_interleave_versions.hpp"

#include <algorithm>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

namespace {
std::string checked_layout(const Node& n, const std::vector<std::string>& layouts) {
  std::string s = n.as_string();
  if (std::find(layouts.begin(), layouts.end(), s) == layouts.end()) n.fail("layout '" + s + "' is not declared in /layouts");
  return s;
}
std::string checked_commit(const Node& n) {
  std::string s = n.as_string();
  if (s.size() != 40 || s.find_first_not_of("0123456789abcdef") != std::string::npos) n.fail("expected a 40-digit hex commit");
  return s;
}
}  // namespace

Sm90InterleaveVersions Sm90InterleaveVersions::load(const std::string& models_dir) {
  return load_file(models_dir + "/flashinfer/sm90_interleave.json");
}

Sm90InterleaveVersions Sm90InterleaveVersions::load_file(const std::string& path) {
  Sm90InterleaveVersions t;
  t.file_ = path;
  const Document doc = Document::load(path);
  const Node root = doc.root();
  for (const Node& l : root.at("layouts").items()) {
    t.layouts_.push_back(l.at("layout").as_string());
    (void)l.at("introduced_by").as_string();
  }
  if (t.layouts_.empty()) root.at("layouts").fail("no layouts declared");
  const Node ab = root.at("absent_before");
  t.absent_before_ = PyVersion::parse(ab.as_string(), ab.where());
  const Node m = root.at("main");
  t.main_layout_ = checked_layout(m.at("layout"), t.layouts_);
  t.main_commit_ = checked_commit(m.at("commit"));
  for (const Node& n : root.at("versions").items()) {
    Sm90InterleaveVersion v;
    v.version = PyVersion::parse(n.at("version").as_string(), n.at("version").where());
    v.commit = checked_commit(n.at("commit"));
    v.layout = checked_layout(n.at("layout"), t.layouts_);
    if (v.version < t.absent_before_) n.at("version").fail("listed version is before absent_before " + t.absent_before_.text);
    for (const auto& o : t.versions_)
      if (o.version == v.version) n.at("version").fail("duplicate version " + v.version.text);
    t.versions_.push_back(std::move(v));
  }
  std::sort(t.versions_.begin(), t.versions_.end(),
            [](const Sm90InterleaveVersion& a, const Sm90InterleaveVersion& b) { return a.version < b.version; });
  return t;
}

std::optional<std::string> Sm90InterleaveVersions::layout_for(const PyVersion& v) const {
  for (const auto& e : versions_)
    if (e.version == v) return e.layout;
  if (v < absent_before_) return std::nullopt;
  throw InputError(file_, "FlashInfer version " + v.text + " is not listed (SM90 interleave algorithm unknown; listed: " +
                              versions_.front().version.text + " .. " + versions_.back().version.text + ")");
}

std::optional<std::string> Sm90InterleaveVersions::layout_for(const std::string& version) const {
  return layout_for(PyVersion::parse(version, file_ + " (requested version)"));
}

}  // namespace moesim::models
