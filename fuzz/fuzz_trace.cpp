// libFuzzer harness: the trace reader + validator, in-process (no isolation), on a temp file.
// Everything the isolated child runs for `moesim inspect/check/replay` runs here: open, every
// attribute and dataset read, validate(), context rules, weight verification, and the codec
// round trip the parent decodes. InputError is the expected outcome for bad input; anything
// else (a crash, a sanitizer report, another exception type, a leak) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "traces/inspect.hpp"
#include "traces/trace_codec.hpp"
#include "traces/trace_io.hpp"

namespace {
std::string temp_path() {
  static const std::string p = std::string(std::getenv("MOESIM_FUZZ_TMP") ? std::getenv("MOESIM_FUZZ_TMP") : "/dev/shm") +
                               "/moesim_fuzz_trace_" + std::to_string(getpid()) + ".h5";
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  moesim::set_memory_budget(std::int64_t{256} << 20);  // in-process: the budget is the only bound
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = temp_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    moesim::traces::ReadOptions opt;
    opt.isolate = false;
    opt.verify_weights = true;
    const moesim::traces::Trace t = moesim::traces::read_trace_in_process(path, opt);
    std::vector<std::uint8_t> buf(moesim::traces::encoded_size(t));
    moesim::traces::encode(t, buf.data());
    const moesim::traces::Trace back = moesim::traces::decode(buf.data(), buf.size());
    if (back.calls.size() != t.calls.size()) std::abort();
    (void)moesim::traces::summarize(back);
  } catch (const moesim::InputError&) {
  }
  try {  // the path the real binary takes: child parse + plan, parent pread fill + validate
    moesim::traces::ReadOptions opt;
    const moesim::traces::Trace t = moesim::traces::read_trace_split_in_process(path, opt);
    (void)moesim::traces::summarize(t);
  } catch (const moesim::InputError&) {
  }
  unlink(path.c_str());
  return 0;
}
