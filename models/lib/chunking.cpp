#include "models/lib/chunking.hpp"

#include <algorithm>

#include "models/lib/json_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::models {

std::int64_t TrtllmNvfp4Chunk::chunk_size(std::int64_t e, std::int64_t k) const {
  // Python integer arithmetic: // floors; all terms positive for E <= max_grid_y.
  const std::int64_t num = e + (max_grid_y - e + 1) * max_tile_tokens_dim - 1;
  const std::int64_t max_supported = k > 0 ? num / k : num;
  return std::min(cap, max_supported);
}

ChunkingTable ChunkingTable::load(const std::string& models_dir, const std::string& framework) {
  ChunkingTable t;
  t.file_ = models_dir + "/chunking/" + framework + ".json";
  Document doc = Document::load(t.file_);
  Node root = doc.root();
  for (const Node& n : root.at("revisions").items()) {
    FrameworkRevision r;
    r.framework = framework;
    r.id = n.at("id").as_string();
    if (auto d = n.find("date")) r.date = d->as_string();
    r.note = n.get_string("note", "");
    r.commit = n.get_string("commit", "");
    r.order = static_cast<int>(n.at("order").as_int());
    if (auto c = n.find("triton_chunk")) {
      TritonChunk tc;
      tc.env = c->get_string("env", "");
      tc.default_size = c->at("default").as_int();
      if (tc.default_size <= 0) c->at("default").fail("chunk size must be positive");
      tc.source = c->at("source").as_string();
      r.triton_chunk = tc;
    }
    r.triton_offsets_int32 = n.at("triton_offsets_int32").as_bool();
    r.triton_offsets_source = n.get_string("triton_offsets_source", "");
    if (auto c = n.find("trtllm_nvfp4_chunk")) {
      TrtllmNvfp4Chunk tc;
      tc.max_grid_y = c->at("max_grid_y").as_int();
      tc.max_tile_tokens_dim = c->at("max_tile_tokens_dim").as_int();
      tc.cap = c->at("cap").as_int();
      tc.applies_to_class = c->at("applies_to_class").as_string();
      tc.formula = c->at("formula").as_string();
      tc.source = c->at("source").as_string();
      r.trtllm_nvfp4_chunk = tc;
    }
    t.revs_.push_back(std::move(r));
  }
  std::sort(t.revs_.begin(), t.revs_.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  if (t.revs_.empty()) root.at("revisions").fail("no revisions");
  if (auto a = root.find("aliases"))
    for (const auto& [k, v] : a->members()) t.aliases_[k] = v.as_string();
  t.latest_ = t.revs_.back().id;
  for (const auto& [k, v] : t.aliases_) {
    bool ok = false;
    for (const auto& r : t.revs_) ok = ok || r.id == v;
    if (!ok) root.at("aliases").at(k).fail("alias to unknown revision '" + v + "'");
  }
  return t;
}

const FrameworkRevision& ChunkingTable::find(const std::string& rev) const {
  std::string id = rev;
  if (auto it = aliases_.find(rev); it != aliases_.end()) id = it->second;
  for (const auto& r : revs_)
    if (r.id == id) return r;
  std::string known;
  for (const auto& r : revs_) known += (known.empty() ? "" : ", ") + r.id;
  for (const auto& [k, v] : aliases_) known += ", " + k;
  throw InputError(file_, "unknown revision '" + rev + "' (known: " + known + ")");
}

}  // namespace moesim::models
