#pragma once
// .pt (torch.save zip + pickle) files are read through Debian's python3-torch: the converter
// scripts/capture/pt_to_safetensors.py (torch.load weights_only) writes a temp safetensors
// file (and, for trees, a JSON skeleton), which moesim then reads with its own hostile-input
// safetensors reader. The temp files are removed when the PtConverted is destroyed.
#include <string>
#include <utility>

namespace moesim::traces::import {

struct PtConverted {
  std::string safetensors, tree_json;  // temp files ("" tree_json unless asked for)
  PtConverted() = default;
  PtConverted(const PtConverted&) = delete;
  PtConverted& operator=(const PtConverted&) = delete;
  PtConverted(PtConverted&& o) noexcept : safetensors(std::move(o.safetensors)), tree_json(std::move(o.tree_json)) { o.safetensors.clear(), o.tree_json.clear(); }
  PtConverted& operator=(PtConverted&& o) noexcept {
    std::swap(safetensors, o.safetensors);
    std::swap(tree_json, o.tree_json);
    return *this;
  }
  ~PtConverted();
};

// Throws InputError(pt, <the converter's last stderr line>) on any failure.
PtConverted convert_pt(const std::string& python, const std::string& source_dir, const std::string& pt, bool tree);

}  // namespace moesim::traces::import
