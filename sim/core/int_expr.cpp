#include "sim/core/int_expr.hpp"

#include <cctype>
#include <set>

#include "sim/core/error.hpp"

namespace moesim::expr {

using i128 = __int128;

struct Node {
  enum Kind { num, var, unary, binary, ternary, call } kind = num;
  std::int64_t value = 0;
  std::string name;  // var / call name / operator
  std::vector<std::shared_ptr<const Node>> args;
};

namespace {

struct Token {
  enum Kind { end, num, ident, op } kind = end;
  std::string text;
  std::int64_t value = 0;
};

std::vector<Token> lex(const std::string& s, const std::string& where) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i;
      i128 v = 0;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) {
        if (s[j] != '_') v = v * 10 + (s[j] - '0');
        if (v > INT64_MAX) throw InputError(where, "integer literal too large in '" + s + "'");
        ++j;
      }
      out.push_back({Token::num, s.substr(i, j - i), static_cast<std::int64_t>(v)});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::ident, s.substr(i, j - i), 0});
      i = j;
    } else {
      static const char* two[] = {"==", "!=", "<=", ">=", "&&", "||"};
      std::string t(1, c);
      for (const char* o : two)
        if (s.compare(i, 2, o) == 0) t = o;
      if (t.size() == 1 && std::string("+-*/%()<>!?:,").find(c) == std::string::npos)
        throw InputError(where, std::string("unexpected character '") + c + "' in expression '" + s + "'");
      out.push_back({Token::op, t, 0});
      i += t.size();
    }
  }
  out.push_back({Token::end, "", 0});
  return out;
}

class Parser {
 public:
  Parser(std::vector<Token> t, std::string text, std::string where)
      : t_(std::move(t)), text_(std::move(text)), where_(std::move(where)) {}
  std::shared_ptr<const Node> parse() {
    auto n = ternary();
    if (t_[p_].kind != Token::end) fail("unexpected '" + t_[p_].text + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(where_, "expression '" + text_ + "': " + why);
  }
  bool is_op(const char* o) const { return t_[p_].kind == Token::op && t_[p_].text == o; }
  void expect(const char* o) {
    if (!is_op(o)) fail(std::string("expected '") + o + "'");
    ++p_;
  }
  static std::shared_ptr<const Node> mk(Node::Kind k, std::string name, std::vector<std::shared_ptr<const Node>> a) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->name = std::move(name);
    n->args = std::move(a);
    return n;
  }
  std::shared_ptr<const Node> ternary() {
    auto c = binary(0);
    if (!is_op("?")) return c;
    ++p_;
    auto a = ternary();
    expect(":");
    auto b = ternary();
    return mk(Node::ternary, "?", {c, a, b});
  }
  static int prec(const std::string& o) {
    if (o == "||") return 1;
    if (o == "&&") return 2;
    if (o == "==" || o == "!=" || o == "<" || o == "<=" || o == ">" || o == ">=") return 3;
    if (o == "+" || o == "-") return 4;
    if (o == "*" || o == "/" || o == "%") return 5;
    return 0;
  }
  std::shared_ptr<const Node> binary(int min_prec) {
    auto lhs = unary();
    while (t_[p_].kind == Token::op) {
      const std::string o = t_[p_].text;
      const int pr = prec(o);
      if (pr == 0 || pr <= min_prec) break;
      ++p_;
      auto rhs = binary(pr);
      lhs = mk(Node::binary, o, {lhs, rhs});
    }
    return lhs;
  }
  std::shared_ptr<const Node> unary() {
    if (is_op("-") || is_op("!")) {
      const std::string o = t_[p_++].text;
      return mk(Node::unary, o, {unary()});
    }
    return primary();
  }
  std::shared_ptr<const Node> primary() {
    const Token& t = t_[p_];
    if (t.kind == Token::num) {
      ++p_;
      auto n = std::make_shared<Node>();
      n->kind = Node::num;
      n->value = t.value;
      return n;
    }
    if (t.kind == Token::ident) {
      ++p_;
      if (is_op("(")) {
        static const std::set<std::string> fns = {"cdiv", "round_up", "min", "max", "next_pow2", "log2_ceil"};
        if (!fns.count(t.text)) fail("unknown function '" + t.text + "' (cdiv, round_up, min, max, next_pow2, log2_ceil)");
        ++p_;
        std::vector<std::shared_ptr<const Node>> a;
        if (!is_op(")")) {
          a.push_back(ternary());
          while (is_op(",")) {
            ++p_;
            a.push_back(ternary());
          }
        }
        expect(")");
        const std::size_t want = (t.text == "cdiv" || t.text == "round_up") ? 2 : (t.text == "next_pow2" || t.text == "log2_ceil") ? 1 : 0;
        if ((want && a.size() != want) || (!want && a.empty())) fail("wrong number of arguments to " + t.text);
        return mk(Node::call, t.text, a);
      }
      auto n = std::make_shared<Node>();
      n->kind = Node::var;
      n->name = t.text;
      return n;
    }
    if (is_op("(")) {
      ++p_;
      auto n = ternary();
      expect(")");
      return n;
    }
    fail(t.kind == Token::end ? "unexpected end" : "unexpected '" + t.text + "'");
  }

  std::vector<Token> t_;
  std::size_t p_ = 0;
  std::string text_, where_;
};

struct Evaluator {
  const Vars& v;
  const std::string& text;
  const std::string& where;
  [[noreturn]] void fail(const std::string& why) const { throw InputError(where, "expression '" + text + "': " + why); }
  i128 check(i128 x) const {
    if (x > INT64_MAX || x < INT64_MIN) fail("value outside int64");
    return x;
  }
  i128 eval(const Node& n) const {
    switch (n.kind) {
      case Node::num: return n.value;
      case Node::var: {
        auto it = v.find(n.name);
        if (it == v.end()) {
          std::string known;
          for (const auto& [k, _] : v) known += (known.empty() ? "" : ", ") + k;
          fail("unknown variable '" + n.name + "' (known: " + known + ")");
        }
        return it->second;
      }
      case Node::unary: {
        const i128 a = eval(*n.args[0]);
        return n.name == "-" ? check(-a) : i128(a == 0);
      }
      case Node::ternary: return eval(*n.args[0]) != 0 ? eval(*n.args[1]) : eval(*n.args[2]);
      case Node::binary: {
        const std::string& o = n.name;
        if (o == "&&") return eval(*n.args[0]) != 0 && eval(*n.args[1]) != 0;
        if (o == "||") return eval(*n.args[0]) != 0 || eval(*n.args[1]) != 0;
        const i128 a = eval(*n.args[0]), b = eval(*n.args[1]);
        if (o == "+") return check(a + b);
        if (o == "-") return check(a - b);
        if (o == "*") {
          // |a|,|b| <= 2^63, so the 128-bit product cannot overflow.
          return check(a * b);
        }
        if (o == "/" || o == "%") {
          if (b == 0) fail("division by zero");
          if (a < 0 || b < 0) fail("'" + o + "' of a negative operand");
          return o == "/" ? a / b : a % b;
        }
        if (o == "==") return a == b;
        if (o == "!=") return a != b;
        if (o == "<") return a < b;
        if (o == "<=") return a <= b;
        if (o == ">") return a > b;
        if (o == ">=") return a >= b;
        fail("unknown operator " + o);
      }
      case Node::call: {
        std::vector<i128> a;
        for (const auto& x : n.args) a.push_back(eval(*x));
        if (n.name == "cdiv" || n.name == "round_up") {
          if (a[1] <= 0) fail(n.name + " by a non-positive value");
          if (a[0] < 0) fail(n.name + " of a negative value");
          const i128 q = (a[0] + a[1] - 1) / a[1];
          return check(n.name == "cdiv" ? q : q * a[1]);
        }
        if (n.name == "min" || n.name == "max") {
          i128 r = a[0];
          for (i128 x : a) r = n.name == "min" ? (x < r ? x : r) : (x > r ? x : r);
          return r;
        }
        if (n.name == "next_pow2" || n.name == "log2_ceil") {
          if (a[0] < 0) fail(n.name + " of a negative value");
          i128 p = 1;
          std::int64_t lg = 0;
          while (p < a[0]) p *= 2, ++lg;
          return n.name == "next_pow2" ? check(p) : i128(lg);
        }
        fail("unknown function " + n.name);
      }
    }
    fail("bad node");
  }
};

std::string grouped(std::int64_t v) {
  std::string s = std::to_string(v < 0 ? -(v + 1) + 1ULL : static_cast<unsigned long long>(v));
  std::string o;
  int c = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it, ++c) {
    if (c && c % 3 == 0) o.insert(o.begin(), ',');
    o.insert(o.begin(), *it);
  }
  return v < 0 ? "-" + o : o;
}

void collect(const Node& n, std::set<std::string>& out) {
  if (n.kind == Node::var) out.insert(n.name);
  for (const auto& a : n.args) collect(*a, out);
}

}  // namespace

Expr Expr::parse(const std::string& text, const std::string& where) {
  Expr e;
  e.text_ = text;
  e.where_ = where;
  if (text.find_first_not_of(" \t") == std::string::npos) throw InputError(where, "empty expression");
  e.root_ = Parser(lex(text, where), text, where).parse();
  return e;
}

std::int64_t Expr::eval(const Vars& v) const {
  if (!root_) throw InputError(where_, "empty expression");
  return static_cast<std::int64_t>(Evaluator{v, text_, where_}.eval(*root_));
}

std::string Expr::substituted(const Vars& v) const {
  std::string out;
  for (const Token& t : lex(text_, where_)) {
    if (t.kind == Token::end) break;
    if (!out.empty() && t.kind != Token::op && (std::isalnum(static_cast<unsigned char>(out.back())) || out.back() == '_'))
      out += ' ';
    if (t.kind == Token::ident) {
      auto it = v.find(t.text);
      out += it == v.end() ? t.text : grouped(it->second);
    } else if (t.kind == Token::op && t.text != "(" && t.text != ")" && t.text != "," && t.text != "!") {
      if (!out.empty() && out.back() != ' ' && out.back() != '(') out += ' ';
      out += t.text + " ";
    } else {
      if (t.text == "," ) out += ", ";
      else out += t.text;
    }
  }
  // Tidy "( " and " )" and trailing space.
  std::string tidy;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == ' ' && (i + 1 == out.size() || out[i + 1] == ')' || out[i + 1] == ',' || out[i + 1] == ' ')) continue;
    tidy += out[i];
  }
  return tidy;
}

std::vector<std::string> Expr::variables() const {
  std::set<std::string> s;
  if (root_) collect(*root_, s);
  return {s.begin(), s.end()};
}

}  // namespace moesim::expr
