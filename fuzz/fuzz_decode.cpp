// libFuzzer harness: the parent's side of the isolated read -- the trust boundary that runs
// in-process in the product. The isolated child parsed a hostile file with libhdf5, so the
// buffer it hands back is untrusted: decode, the pread fill of planned datasets (our own
// Fletcher32), the structure re-check, the context rules and validate() must turn any bytes
// into an InputError, never a crash, hang, sanitizer report or other exception; and a trace
// they accept must be safe for what `moesim inspect` does with it (summarize).
//
// Input: byte 0 picks the file the planned datasets are filled from (fuzz/corpus/trace/*.h5,
// sorted), the rest is the child's encoded result. Seeds (fuzz/corpus/decode/) are real
// results of the child's half on those files:
//   MOESIM_FUZZ_DECODE_SEEDS=DIR fuzz_decode   writes them and exits.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "traces/inspect.hpp"
#include "traces/trace_codec.hpp"
#include "traces/trace_io.hpp"

namespace {
struct Source {
  std::string path;
  int fd;
};
std::vector<Source> sources;

void write_seed(const std::string& dir, const std::string& name, std::uint8_t pick, const std::vector<std::uint8_t>& buf) {
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (!f) std::abort();
  std::fputc(pick, f);
  std::fwrite(buf.data(), 1, buf.size(), f);
  std::fclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  moesim::set_memory_budget(std::int64_t{256} << 20);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(std::string(MOESIM_SOURCE_DIR) + "/fuzz/corpus/trace"))
    if (e.path().extension() == ".h5") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& p : files) sources.push_back({p, open(p.c_str(), O_RDONLY | O_CLOEXEC)});
  if (sources.empty() || sources.size() > 256) std::abort();
  if (const char* dir = std::getenv("MOESIM_FUZZ_DECODE_SEEDS")) {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::string stem = std::filesystem::path(sources[i].path).stem().string();
      // With plans (what the child sends for simple datasets) and fully inline.
      write_seed(dir, stem + "_planned", static_cast<std::uint8_t>(i), moesim::traces::encode_isolated_result(sources[i].path));
      moesim::traces::ReadOptions opt;
      opt.isolate = false;
      const moesim::traces::Trace t = moesim::traces::read_trace_in_process(sources[i].path, opt);
      std::vector<std::uint8_t> buf(moesim::traces::encoded_size(t));
      moesim::traces::encode(t, buf.data());
      write_seed(dir, stem + "_inline", static_cast<std::uint8_t>(i), buf);
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Source& src = sources[data[0] % sources.size()];
  try {
    const moesim::traces::Trace t = moesim::traces::decode_isolated_result(src.path, src.fd, data + 1, size - 1);
    (void)moesim::traces::summarize(t);
  } catch (const moesim::InputError& e) {
    // The error must be one line naming the file (the rule of the real binary).
    const std::string what = e.what();
    if (what.rfind(src.path, 0) != 0 || what.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
