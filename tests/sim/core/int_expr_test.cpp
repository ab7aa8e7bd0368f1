// Integer expressions of the launch-model data: checked against an independent evaluation of
// randomly generated expression trees (the generator computes each value in __int128 while it
// writes the text), plus the error cases a hostile data file can produce.
#include "sim/core/int_expr.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <optional>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

namespace moesim::expr {
namespace {

using i128 = __int128;

struct Gen {
  Rng rng;
  Vars vars{{"a", 7}, {"b", 13}, {"T", 131072}, {"H", 4096}, {"zero", 0}};
  std::uint64_t pick(std::uint64_t n) { return rng.below(n); }
  // Returns text and value; nullopt value = evaluation must throw (div by zero, negative
  // operand of / %, out of int64).
  std::pair<std::string, std::optional<i128>> make(int depth) {
    if (depth == 0 || pick(4) == 0) {
      if (pick(2)) {
        const std::int64_t v = static_cast<std::int64_t>(pick(100000));
        return {std::to_string(v), i128(v)};
      }
      static const char* names[] = {"a", "b", "T", "H", "zero"};
      const char* n = names[pick(5)];
      return {n, i128(vars.at(n))};
    }
    auto [lt, lv] = make(depth - 1);
    auto [rt, rv] = make(depth - 1);
    static const char* ops[] = {"+", "-", "*", "/", "%", "min", "max", "cdiv", "round_up", "<", "=="};
    const std::string op = ops[pick(11)];
    std::optional<i128> v;
    auto in64 = [](i128 x) { return x <= INT64_MAX && x >= INT64_MIN; };
    if (lv && rv) {
      const i128 a = *lv, b = *rv;
      if (op == "+") v = a + b;
      if (op == "-") v = a - b;
      if (op == "*") v = a * b;
      if (op == "/" && b > 0 && a >= 0) v = a / b;
      if (op == "%" && b > 0 && a >= 0) v = a % b;
      if (op == "min") v = a < b ? a : b;
      if (op == "max") v = a > b ? a : b;
      if ((op == "cdiv" || op == "round_up") && b > 0 && a >= 0) v = op == "cdiv" ? (a + b - 1) / b : (a + b - 1) / b * b;
      if (op == "<") v = a < b;
      if (op == "==") v = a == b;
      if (v && !in64(*v)) v.reset();
    }
    const bool fn = op == "min" || op == "max" || op == "cdiv" || op == "round_up";
    return {fn ? op + "(" + lt + ", " + rt + ")" : "(" + lt + " " + op + " " + rt + ")", v};
  }
};

TEST(IntExpr, RandomTreesMatchIndependentEvaluation) {
  Gen g{Rng(20261203)};
  int checked = 0, throwing = 0;
  for (int i = 0; i < 4000; ++i) {
    auto [text, want] = g.make(4);
    const Expr e = Expr::parse(text, "test");
    if (want) {
      ASSERT_EQ(e.eval(g.vars), static_cast<std::int64_t>(*want)) << text;
      ++checked;
    } else {
      EXPECT_THROW(e.eval(g.vars), InputError) << text;
      ++throwing;
    }
  }
  EXPECT_GT(checked, 2000);
  EXPECT_GT(throwing, 50);
}

TEST(IntExpr, PrecedenceAndFunctions) {
  const Vars v{{"T", 52430}, {"K", 10}, {"H", 4096}, {"E", 256}};
  EXPECT_EQ(Expr::parse("1 + 2 * 3", "t").eval(v), 7);
  EXPECT_EQ(Expr::parse("(T - 1) * (K * H)", "t").eval(v), 52429LL * 40960);
  EXPECT_EQ(Expr::parse("round_up(T * K + 64 * 127, 128)", "t").eval(v), 532480);
  EXPECT_EQ(Expr::parse("cdiv(7, 2) + next_pow2(300) + log2_ceil(300)", "t").eval(v), 4 + 512 + 9);
  EXPECT_EQ(Expr::parse("max(E, 32) < 1024 && !(T < 10) ? 5 : 6", "t").eval(v), 5);
  EXPECT_EQ(Expr::parse("-3 + 10 % 4", "t").eval(v), -1);
  EXPECT_EQ(Expr::parse("1 < 2 == 1", "t").eval(v), 1);  // C: (1 < 2) == 1
  EXPECT_EQ(Expr::parse("8 - 2 - 1", "t").eval(v), 5);   // left associative
  EXPECT_EQ(Expr::parse("64 / 4 / 2", "t").eval(v), 8);
}

TEST(IntExpr, SubstitutedShowsValues) {
  const Vars v{{"T", 131072}, {"H", 4096}};
  const Expr e = Expr::parse("(T - 1) * H", "t");
  EXPECT_EQ(e.substituted(v), "(131,072 - 1) * 4,096");
  EXPECT_EQ(Expr::parse("round_up(T, 128)", "t").substituted(v), "round_up(131,072, 128)");
  EXPECT_EQ(e.variables(), (std::vector<std::string>{"H", "T"}));
}

TEST(IntExpr, HostileInputIsAnErrorNamingThePlace) {
  const Vars v{{"x", INT64_MAX}};
  for (const char* bad : {"", "1 +", "(1", "1 2", "foo(1)", "cdiv(1)", "1 $ 2", "99999999999999999999"}) {
    try {
      Expr::parse(bad, "models/launch/x.json:/let/0");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("models/launch/x.json:/let/0"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(Expr::parse("x + 1", "t").eval(v), InputError);
  EXPECT_THROW(Expr::parse("x * x", "t").eval(v), InputError);
  EXPECT_THROW(Expr::parse("y", "t").eval(v), InputError);
  EXPECT_THROW(Expr::parse("1 / 0", "t").eval(v), InputError);
  EXPECT_THROW(Expr::parse("(0 - 7) / 2", "t").eval(v), InputError);
  EXPECT_THROW(Expr::parse("round_up(5, 0)", "t").eval(v), InputError);
  EXPECT_THROW(Expr().eval(v), InputError);
}

}  // namespace
}  // namespace moesim::expr
