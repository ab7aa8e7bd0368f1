#pragma once
// The deployment options of `moesim check`, bound into a workflows::CheckRequest; `moesim repro`
// takes the same ones so a user can paste the same command line.
#include "cli/common.hpp"
#include "workflows/check_job.hpp"

namespace moesim::cli {

void add_check_options(po::options_description& o, workflows::CheckRequest& r);

}  // namespace moesim::cli
