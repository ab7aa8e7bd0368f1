#include "cli/output_file.hpp"

#include <cstdio>
#include <fstream>

#include "sim/core/error.hpp"

namespace moesim::cli {

void write_output_file(const std::string& path, const std::string& content, const std::string& where) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw InputError(where, "cannot write '" + path + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(where, "cannot rename '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace moesim::cli
