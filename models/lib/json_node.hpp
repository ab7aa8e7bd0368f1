#pragma once
// Checked access into JSON world data. Every accessor that fails throws InputError naming
// the file and the JSON pointer (e.g. "models/devices.json:/devices/3/sm_count: expected an
// integer, got string"), so a malformed data file is a one-line error, never a crash.
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moesim::models {

class Node {
 public:
  Node(const boost::json::value* v, std::string file, std::string pointer)
      : v_(v), file_(std::move(file)), ptr_(std::move(pointer)) {}

  const boost::json::value& raw() const { return *v_; }
  const std::string& file() const { return file_; }
  const std::string& pointer() const { return ptr_; }
  std::string where() const { return file_ + ":" + (ptr_.empty() ? "/" : ptr_); }

  bool is_object() const { return v_->is_object(); }
  bool is_array() const { return v_->is_array(); }
  bool is_string() const { return v_->is_string(); }
  bool is_null() const { return v_->is_null(); }

  bool has(const std::string& key) const;
  Node at(const std::string& key) const;              // required member
  std::optional<Node> find(const std::string& key) const;  // optional member
  Node at(std::size_t i) const;                       // array element
  std::size_t size() const;                           // array or object size
  std::vector<Node> items() const;                    // array elements
  std::vector<std::pair<std::string, Node>> members() const;  // object members, in file order

  std::string as_string() const;
  std::int64_t as_int() const;
  double as_double() const;  // accepts integers too
  bool as_bool() const;
  std::vector<std::int64_t> as_int_vector() const;
  std::vector<std::string> as_string_vector() const;

  // Convenience: member with default.
  std::string get_string(const std::string& key, const std::string& dflt) const;
  std::int64_t get_int(const std::string& key, std::int64_t dflt) const;
  double get_double(const std::string& key, double dflt) const;
  bool get_bool(const std::string& key, bool dflt) const;

  [[noreturn]] void fail(const std::string& problem) const;

 private:
  static const char* kind_name(const boost::json::value& v);
  const boost::json::value* v_;
  std::string file_;
  std::string ptr_;
};

// A parsed JSON document that owns its value; root() hands out checked Nodes.
class Document {
 public:
  static Document load(const std::string& path);  // throws InputError on I/O or parse errors
  static Document parse(const std::string& text, const std::string& name);
  Node root() const { return Node(&value_, name_, ""); }
  const std::string& name() const { return name_; }

 private:
  boost::json::value value_;
  std::string name_;
};

}  // namespace moesim::models
