// libFuzzer harness: the CLI option parsers. Input = NUL-separated argv. First byte even:
// argv goes to the real command (every cli/cmd_*.cpp is linked in) with stop_after_parse()
// set, so each command's option table, positional handling and pre-parse code run but the
// command does not. First byte odd: the second byte selects one of the value parsers that
// options and trace attributes share, fed the rest as text. InputError is expected;
// anything else (a crash, a sanitizer report, another exception) is a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "cli/registry.hpp"
#include "models/lib/device.hpp"
#include "models/lib/framework_version.hpp"
#include "replay/dispatch/dispatch.hpp"
#include "replay/inputs.hpp"
#include "replay/oracle/oracle.hpp"
#include "sim/core/budget.hpp"
#include "sim/core/error.hpp"
#include "sim/core/paths.hpp"
#include "sim/kernels/variant.hpp"
#include "sim/quant/fp8.hpp"
#include "sim/quant/layout.hpp"
#include "sim/quant/mx.hpp"
#include "sim/quant/nvfp4.hpp"
#include "traces/context_rules.hpp"

using namespace moesim;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cli::stop_after_parse() = true;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    if ((data[0] & 1) == 0) {
      std::vector<std::string> args;
      std::string cur;
      for (char c : std::string(reinterpret_cast<const char*>(data + 1), size - 1)) {
        if (c == '\0') args.push_back(cur), cur.clear();
        else cur += c;
      }
      args.push_back(cur);
      if (args.size() > 64) return 0;
      // The command name: one of the registered ones, chosen by the second byte.
      auto& table = cli::commands();
      auto it = table.begin();
      std::advance(it, data[1] % table.size());
      args[0] = it->first;
      for (const auto& a : args)  // these would run real work before parsing (listings)
        if (a == "--list-presets" || a == "--list-variants" || a == "--plan") return 0;
      try {
        it->second.run(args);
      } catch (const cli::StopAfterParse&) {
      }
      return 0;
    }
    switch (data[1] % 16) {
      case 0: parse_memory_size(text, "--max-memory"); break;
      case 1: quant::parse_layout(text); break;
      case 2: quant::parse_nvfp4_rule(text); break;
      case 3: quant::parse_mx_rule(text); break;
      case 4: quant::parse_mx_elem(text); break;
      case 5: quant::parse_fp8_granularity(text); break;
      case 6: dispatch::parse_mode(text); break;
      case 7: models::PyVersion::parse(text, "--flashinfer"); break;
      case 8: oracle::parse_assignment(text, "--env"); break;
      case 9: {
        kernels::VariantSpec spec = kernels::find_variant("triton_bf16");
        replay::apply_triton_tactic(spec, text, "--tactic");
        break;
      }
      case 10: traces::check_device("--device", text); break;
      case 11: traces::check_framework("--framework", text); break;
      case 12: traces::check_backend("--backend", text); break;
      case 13: traces::check_tactic("--tactic", text); break;
      case 14: models::normalize_device_name(text); break;
      case 15: {
        std::int64_t v = 0;
        for (std::size_t i = 0; i < 8 && i < text.size(); ++i) v = (v << 8) | static_cast<unsigned char>(text[i]);
        traces::check_parallel_size("--ep", "ep", v);
        break;
      }
    }
  } catch (const InputError&) {
  }
  return 0;
}
