#pragma once
// Revisions as users name them: a modelled revision id or alias ("pr40808", "v0"), a release
// tag ("v0.19.0", "v0.5.13"), or a commit hash (7..40 hex digits) on upstream first-parent
// main, which resolves to the nearest modelled revision at or before it, with a note.
// A tag or commit newer than the last modelled revision is an error ("not modelled after X").
#include <string>
#include <vector>

#include "models/lib/framework_rules.hpp"

namespace moesim::models {

struct ResolvedRevision {
  int index = -1;       // into Framework::revisions
  std::string how;      // "revision", "tag", "commit"
  std::string spec;     // as given
  std::string note;     // how it resolved (tags, commits)
};

// Throws InputError listing the revisions and tags when `spec` names none of them, for a tag
// the model cannot place, and for a commit outside the recorded history or after the last
// modelled revision.
ResolvedRevision resolve_revision(const Framework& fw, const std::string& spec, const std::string& models_dir);

// One row of `moesim oracle --list-revisions`.
struct RevisionRow {
  std::string name;      // revision id or tag
  std::string kind;      // "revision" or "tag"
  std::string date;
  std::string commit;    // source commit ("" unknown)
  std::string resolves;  // revision a tag resolves to, or "not resolvable: <why>"
  std::string text;      // title / derivation
};
std::vector<RevisionRow> revision_rows(const Framework& fw);

}  // namespace moesim::models
