#include "models/lib/json_node.hpp"

#include <fstream>
#include <sstream>

#include "sim/core/error.hpp"

namespace moesim::models {

namespace json = boost::json;

const char* Node::kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "bool";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "?";
}

void Node::fail(const std::string& problem) const { throw InputError(where(), problem); }

bool Node::has(const std::string& key) const { return v_->is_object() && v_->as_object().contains(key); }

Node Node::at(const std::string& key) const {
  if (!v_->is_object()) fail(std::string("expected an object, got ") + kind_name(*v_));
  const auto& o = v_->as_object();
  auto it = o.find(key);
  if (it == o.end()) fail("missing required key '" + key + "'");
  return Node(&it->value(), file_, ptr_ + "/" + key);
}

std::optional<Node> Node::find(const std::string& key) const {
  if (!v_->is_object()) fail(std::string("expected an object, got ") + kind_name(*v_));
  const auto& o = v_->as_object();
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  return Node(&it->value(), file_, ptr_ + "/" + key);
}

Node Node::at(std::size_t i) const {
  if (!v_->is_array()) fail(std::string("expected an array, got ") + kind_name(*v_));
  const auto& a = v_->as_array();
  if (i >= a.size()) fail("index " + std::to_string(i) + " out of range (size " + std::to_string(a.size()) + ")");
  return Node(&a[i], file_, ptr_ + "/" + std::to_string(i));
}

std::size_t Node::size() const {
  if (v_->is_array()) return v_->as_array().size();
  if (v_->is_object()) return v_->as_object().size();
  fail(std::string("expected an array or object, got ") + kind_name(*v_));
}

std::vector<Node> Node::items() const {
  if (!v_->is_array()) fail(std::string("expected an array, got ") + kind_name(*v_));
  std::vector<Node> out;
  const auto& a = v_->as_array();
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out.emplace_back(&a[i], file_, ptr_ + "/" + std::to_string(i));
  return out;
}

std::vector<std::pair<std::string, Node>> Node::members() const {
  if (!v_->is_object()) fail(std::string("expected an object, got ") + kind_name(*v_));
  std::vector<std::pair<std::string, Node>> out;
  for (const auto& kv : v_->as_object()) {
    std::string k(kv.key());
    out.emplace_back(k, Node(&kv.value(), file_, ptr_ + "/" + k));
  }
  return out;
}

std::string Node::as_string() const {
  if (!v_->is_string()) fail(std::string("expected a string, got ") + kind_name(*v_));
  return std::string(v_->as_string());
}

std::int64_t Node::as_int() const {
  if (v_->is_int64()) return v_->as_int64();
  if (v_->is_uint64()) {
    if (v_->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) fail("integer out of int64 range");
    return static_cast<std::int64_t>(v_->as_uint64());
  }
  fail(std::string("expected an integer, got ") + kind_name(*v_));
}

double Node::as_double() const {
  if (v_->is_double()) return v_->as_double();
  if (v_->is_int64()) return static_cast<double>(v_->as_int64());
  if (v_->is_uint64()) return static_cast<double>(v_->as_uint64());
  fail(std::string("expected a number, got ") + kind_name(*v_));
}

bool Node::as_bool() const {
  if (!v_->is_bool()) fail(std::string("expected true/false, got ") + kind_name(*v_));
  return v_->as_bool();
}

std::vector<std::int64_t> Node::as_int_vector() const {
  std::vector<std::int64_t> out;
  for (const auto& n : items()) out.push_back(n.as_int());
  return out;
}

std::vector<std::string> Node::as_string_vector() const {
  std::vector<std::string> out;
  for (const auto& n : items()) out.push_back(n.as_string());
  return out;
}

std::string Node::get_string(const std::string& key, const std::string& dflt) const {
  auto n = find(key);
  return n ? n->as_string() : dflt;
}
std::int64_t Node::get_int(const std::string& key, std::int64_t dflt) const {
  auto n = find(key);
  return n ? n->as_int() : dflt;
}
double Node::get_double(const std::string& key, double dflt) const {
  auto n = find(key);
  return n ? n->as_double() : dflt;
}
bool Node::get_bool(const std::string& key, bool dflt) const {
  auto n = find(key);
  return n ? n->as_bool() : dflt;
}

Document Document::parse(const std::string& text, const std::string& name) {
  Document d;
  d.name_ = name;
  json::parse_options opt;
  opt.allow_comments = false;
  boost::system::error_code ec;
  d.value_ = json::parse(text, ec, {}, opt);
  if (ec) {
    // Boost.JSON does not report a position, so find the line by re-parsing incrementally.
    json::stream_parser p({}, opt);
    std::size_t line = 1, col = 1;
    boost::system::error_code ec2;
    for (char c : text) {
      p.write(&c, 1, ec2);
      if (ec2) break;
      if (c == '\n') { ++line; col = 1; } else { ++col; }
    }
    throw InputError(name, "malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(col) +
                               ": " + ec.message());
  }
  return d;
}

Document Document::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open JSON file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

}  // namespace moesim::models
