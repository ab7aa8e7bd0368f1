#pragma once
// Nothing lost: every file moesim writes goes to a temporary file in the target directory and
// is renamed over the output only when complete. Until then the old output is untouched; on an
// error (destructor without commit) or SIGINT/SIGTERM/SIGHUP (signal handler) the temporary is
// unlinked, so no partial file ever appears at the output path. SIGKILL can leave a
// ".NAME.moesim-tmp-XXXXXX" file next to the output, never a partial output.
//
// Inputs are never overwritten: every file moesim opens for reading is noted by (device, inode)
// with note_input(); an output that resolves to a noted input -- the same path, a symlink, a
// hard link, a ../ spelling -- is refused with an InputError (exit 2) at creation and again at
// commit.
#include <string>
#include <vector>

namespace moesim {

// Input protection is per command run: the CLI (cli/main.cpp) turns it on for the process;
// a library user that deliberately rewrites a file it read (tests) leaves it off.
void protect_inputs(bool on);
// Remembers `path` as an input of this process (no-op if protection is off or it does not exist).
void note_input(const std::string& path);
// InputError(out, ...) if `out` names the same file as a noted input or one of `also`.
void refuse_overwriting_inputs(const std::string& out, const std::vector<std::string>& also = {});

class AtomicOutput {
 public:
  // Creates the temporary file next to `final_path`. InputError if the directory is missing or
  // not writable, or `final_path` is an input.
  explicit AtomicOutput(std::string final_path);
  ~AtomicOutput();  // unlinks the temporary unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }
  // fsyncs the temporary, renames it over final_path, fsyncs the directory.
  void commit();
  bool committed() const { return committed_; }

 private:
  std::string final_, temp_;
  int slot_ = -1;
  bool committed_ = false;
};

// Writes `content` to `path` through an AtomicOutput (reports, JSON, text outputs).
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace moesim
