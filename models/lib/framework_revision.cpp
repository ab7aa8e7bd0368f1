#include "models/lib/framework_revision.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "sim/core/error.hpp"

namespace moesim::models {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

bool is_hex(const std::string& s) {
  return s.size() >= 7 && s.size() <= 40 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string known_list(const Framework& fw) {
  std::vector<std::string> revs, tags;
  for (const auto& r : fw.revisions) revs.push_back(r.id);
  for (const auto& t : fw.tags) tags.push_back(t.tag);
  std::string out = "known revisions, oldest first: " + join(revs);
  if (!tags.empty()) out += "; release tags: " + join(tags);
  if (!fw.history_file.empty()) out += "; or a commit hash on " + fw.history_note;
  return out;
}

struct HistoryHit {
  std::string commit, date, rev;
};

// Finds `spec` (a hex prefix) in the history file; InputError on ambiguity or bad lines.
std::vector<HistoryHit> find_in_history(const Framework& fw, const std::string& spec, const std::string& models_dir) {
  std::string path = models_dir + "/frameworks/" + fw.history_file;
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the commit history named by " + fw.file);
  std::vector<HistoryHit> hits;
  std::string line;
  std::size_t n = 0;
  std::string want = lower(spec).substr(0, 12);
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    HistoryHit h;
    if (!(ls >> h.commit >> h.date >> h.rev) || !is_hex(h.commit))
      throw InputError(path + ":" + std::to_string(n), "expected '<hex commit> <date> <revision|+>'");
    if (h.commit.compare(0, want.size(), want) == 0) hits.push_back(h);
  }
  return hits;
}

}  // namespace

ResolvedRevision resolve_revision(const Framework& fw, const std::string& spec, const std::string& models_dir) {
  ResolvedRevision out;
  out.spec = spec;
  const std::string where = fw.name + "@" + spec;
  if (int i = fw.find_revision(spec); i >= 0) {
    out.index = i;
    out.how = "revision";
    return out;
  }
  for (const auto& t : fw.tags) {
    if (t.tag != spec) continue;
    if (t.revision.empty()) throw InputError(where, "release tag " + t.tag + ": " + t.unresolved);
    out.index = fw.find_revision(t.revision);
    out.how = "tag";
    out.note = "release tag " + t.tag + (t.date.empty() ? "" : " (" + t.date + ")") + " resolves to modelled revision " +
               t.revision + ": " + t.derivation;
    return out;
  }
  if (is_hex(spec) && !fw.history_file.empty()) {
    // An exact revision commit first (revisions carry full hashes).
    for (std::size_t i = 0; i < fw.revisions.size(); ++i)
      if (!fw.revisions[i].commit.empty() && fw.revisions[i].commit.compare(0, spec.size(), lower(spec)) == 0) {
        out.index = static_cast<int>(i);
        out.how = "commit";
        out.note = "commit " + spec + " is the merge of modelled revision " + fw.revisions[i].id;
        return out;
      }
    // A release tag's own commit (on its release branch, not on main) resolves as that tag.
    for (const auto& t : fw.tags)
      if (!t.commit.empty() && t.commit.compare(0, spec.size(), lower(spec)) == 0) {
        ResolvedRevision r = resolve_revision(fw, t.tag, models_dir);
        r.spec = spec;
        r.note = "commit " + spec + " is the commit of release tag " + t.tag + "; " + r.note;
        return r;
      }
    auto hits = find_in_history(fw, spec, models_dir);
    if (hits.size() > 1) throw InputError(where, "commit prefix '" + spec + "' is ambiguous (" + std::to_string(hits.size()) + " commits); give more digits");
    if (hits.empty())
      throw InputError(where, "commit " + spec + " is not on " + fw.history_note +
                                  " (a release-branch commit? name its release tag); " + known_list(fw));
    const auto& h = hits.front();
    if (h.rev == "+") {
      const auto& last = fw.revisions.back();
      throw InputError(where, "commit " + spec + " (" + h.date + ") is not modelled after " + last.id + " (" +
                                  last.commit.substr(0, 12) + ", " + last.date + ")");
    }
    out.index = fw.find_revision(h.rev);
    if (out.index < 0) throw InputError(fw.history_file, "names unknown revision '" + h.rev + "'");
    out.how = "commit";
    out.note = "commit " + h.commit + " (" + h.date + ") is on first-parent main after modelled revision " + h.rev +
               " and before the next one; it resolves to " + h.rev +
               " (upstream commits between them that the model does not record may change the answer)";
    return out;
  }
  throw InputError(where, "unknown " + fw.name + " revision '" + spec + "' (" + known_list(fw) + ")");
}

std::vector<RevisionRow> revision_rows(const Framework& fw) {
  std::vector<RevisionRow> rows;
  for (const auto& r : fw.revisions) {
    std::string name = r.id;
    if (!r.aliases.empty()) name += " (aka " + join(r.aliases) + ")";
    rows.push_back({name, "revision", r.date, r.commit, r.id, r.title});
  }
  for (const auto& t : fw.tags)
    rows.push_back({t.tag, "tag", t.date, t.commit.empty() ? t.branch_point : t.commit,
                    t.revision.empty() ? "not resolvable: " + t.unresolved : t.revision,
                    (t.commit.empty() && !t.branch_point.empty() ? "commit shown is the branch point; " : "") + t.source});
  return rows;
}

}  // namespace moesim::models
