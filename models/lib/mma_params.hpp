#pragma once
// Loader for the tensor-core arithmetic table models/mma/fdpa.json (one row per architecture
// and instruction). Produces the plain mma::FdpaParams records the sim/mma model consumes.
#include <string>
#include <vector>

#include "sim/mma/fdpa_params.hpp"

namespace moesim::models {

class FdpaTable {
 public:
  // Throws InputError naming the file and JSON pointer on any malformed or inconsistent row.
  static FdpaTable load(const std::string& path);
  static FdpaTable load_default();  // <models_dir>/mma/fdpa.json
  static std::string default_path();

  const std::vector<mma::FdpaParams>& rows() const { return rows_; }
  // Throws InputError listing the known instructions for that arch when not found.
  const mma::FdpaParams& find(const std::string& arch, const std::string& inst) const;
  const std::string& file() const { return file_; }

 private:
  std::vector<mma::FdpaParams> rows_;
  std::string file_;
};

}  // namespace moesim::models
