#pragma once
// Loads the engine-side kernel families' launch models (models/launch/*.json) into the plain
// records of sim/kernels/launch_family.hpp. Every expression is parsed at load time, so a
// malformed formula is a one-line error naming file and JSON pointer.
#include <string>

#include "sim/kernels/launch_family.hpp"

namespace moesim::models {

// <models_dir>/launch/*.json, in file-name order.
kernels::launch::FamilyTable load_launch_families(const std::string& models_dir);
kernels::launch::FamilyData load_launch_family_file(const std::string& path);

}  // namespace moesim::models
