#pragma once
// A finding raised while replaying (OUTPUT_NOT_WRITTEN, EMULATED_OOB_ACCESS).
// INTEGRATION NOTE: sim/kernels/finding.hpp (issue 5) will hold the project-wide Finding
// struct; when it lands, this becomes an alias of it.
#include <cstdint>
#include <string>

namespace moesim::replay {

struct ReplayFinding {
  std::string id;        // OUTPUT_NOT_WRITTEN | EMULATED_OOB_ACCESS
  std::string severity;  // error | warning
  std::string kernel;    // variant id
  std::string stage;     // stage id
  std::string buffer;
  std::string formula;   // what was checked, with values
  std::int64_t index = -1;  // first offending element index
  std::int64_t count = 0;   // how many elements / accesses
  std::int64_t limit = 0;   // buffer size in elements
  std::string models;       // upstream source location the stage models
  std::string message() const;
};

}  // namespace moesim::replay
