#pragma once
// Which SM90 mixed-GEMM interleave algorithm (layout tag, sim/quant/sm90_interleave.hpp) each
// FlashInfer release runs: models/flashinfer/sm90_interleave.json. Versions are listed one by
// one (release branches revert and re-apply PR #3738, so ranges would lie).
#include <optional>
#include <string>
#include <vector>

#include "models/lib/framework_version.hpp"

namespace moesim::models {

struct Sm90InterleaveVersion {
  PyVersion version;
  std::string commit;
  std::string layout;
};

class Sm90InterleaveVersions {
 public:
  static Sm90InterleaveVersions load(const std::string& models_dir);  // models_dir/flashinfer/sm90_interleave.json
  static Sm90InterleaveVersions load_file(const std::string& path);

  // The layout tag for a listed version; nullopt for versions before `absent_before` (the
  // functions do not exist there); InputError naming the file for any other version.
  std::optional<std::string> layout_for(const PyVersion& v) const;
  std::optional<std::string> layout_for(const std::string& version) const;

  const std::vector<Sm90InterleaveVersion>& versions() const { return versions_; }  // ordered by version
  const std::vector<std::string>& layouts() const { return layouts_; }
  const std::string& main_layout() const { return main_layout_; }
  const std::string& main_commit() const { return main_commit_; }
  const PyVersion& absent_before() const { return absent_before_; }
  const std::string& file() const { return file_; }

 private:
  std::vector<Sm90InterleaveVersion> versions_;
  std::vector<std::string> layouts_;
  std::string main_layout_, main_commit_, file_;
  PyVersion absent_before_;
};

}  // namespace moesim::models
