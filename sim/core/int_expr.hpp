#pragma once
// Integer expressions for launch-model data (models/launch/*.json): grid sizes, index
// products, shared-memory and workspace formulas are written in the data file as the
// upstream source writes them ("round_up(T*K + El*(align-1), align) - 1") and evaluated here
// exactly, in 128-bit integers (a value outside int64 is an error, never a wrap).
//
// Grammar (C precedence): ?: || && (== != < <= > >=) (+ -) (* / %) unary(- !) primary.
// '/' and '%' are floor division / modulo of non-negative operands (Python's // on sizes);
// a negative operand or a zero divisor is an error naming the expression.
// Functions: cdiv(a,b) round_up(a,b) min(a,...) max(a,...) next_pow2(a) log2_ceil(a).
// Booleans are 0/1.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moesim::expr {

using Vars = std::map<std::string, std::int64_t>;

struct Node;

class Expr {
 public:
  Expr() = default;
  // InputError(where, ...) on a syntax error.
  static Expr parse(const std::string& text, const std::string& where);
  // InputError(where, ...) on an unknown variable, division by zero, negative operand of
  // '/' or '%', or a result outside int64.
  std::int64_t eval(const Vars& v) const;
  // The text with every variable replaced by its value ("(T - 1) * H" -> "(8,192 - 1) * 7,168").
  std::string substituted(const Vars& v) const;
  // Variables the expression reads.
  std::vector<std::string> variables() const;
  const std::string& text() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  std::shared_ptr<const Node> root_;
  std::string text_, where_;
};

}  // namespace moesim::expr
