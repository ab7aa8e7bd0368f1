#include "models/lib/framework_version.hpp"

#include <cctype>

#include "sim/core/error.hpp"

namespace moesim::models {

namespace {
bool read_int(const std::string& s, std::size_t& i, std::int64_t& out) {
  std::size_t start = i;
  out = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (i - start > 12) return false;  // absurdly long component
    out = out * 10 + (s[i] - '0');
    ++i;
  }
  return i > start;
}
bool eat(const std::string& s, std::size_t& i, const char* word) {
  std::size_t n = std::char_traits<char>::length(word);
  if (s.compare(i, n, word) == 0) {
    i += n;
    return true;
  }
  return false;
}
}  // namespace

PyVersion PyVersion::parse(const std::string& s, const std::string& where) {
  auto bad = [&](const std::string& why) -> PyVersion {
    throw InputError(where, "'" + s + "' is not a version like 0.6.8 or 0.6.8.post1 (" + why + ")");
  };
  PyVersion v;
  v.text = s;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == 'v' || s[i] == 'V')) ++i;
  std::int64_t n = 0;
  if (!read_int(s, i, n)) return bad("expected a number at the start");
  v.release.push_back(n);
  while (i < s.size() && s[i] == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
    ++i;
    if (!read_int(s, i, n)) return bad("empty release component");
    v.release.push_back(n);
  }
  // optional pre-release: a/b/rc, possibly preceded by '.' or '-'
  {
    std::size_t j = i;
    if (j < s.size() && (s[j] == '.' || s[j] == '-')) ++j;
    int kind = -1;
    if (eat(s, j, "rc")) kind = 2;
    else if (eat(s, j, "a")) kind = 0;
    else if (eat(s, j, "b")) kind = 1;
    if (kind >= 0) {
      if (!read_int(s, j, n)) return bad("pre-release needs a number");
      v.pre_kind = kind;
      v.pre_num = n;
      i = j;
    }
  }
  if (i < s.size()) {
    std::size_t j = i;
    if (s[j] == '.' || s[j] == '-') ++j;
    if (eat(s, j, "post")) {
      if (!read_int(s, j, n)) return bad(".post needs a number");
      v.post = n;
      i = j;
    }
  }
  if (i < s.size()) {
    std::size_t j = i;
    if (s[j] == '.' || s[j] == '-') ++j;
    if (eat(s, j, "dev")) {
      if (!read_int(s, j, n)) return bad(".dev needs a number");
      v.dev = n;
      i = j;
    }
  }
  if (i != s.size()) return bad("unexpected text '" + s.substr(i) + "'");
  return v;
}

std::strong_ordering PyVersion::operator<=>(const PyVersion& o) const {
  std::size_t n = std::max(release.size(), o.release.size());
  for (std::size_t k = 0; k < n; ++k) {
    std::int64_t a = k < release.size() ? release[k] : 0;
    std::int64_t b = k < o.release.size() ? o.release[k] : 0;
    if (a != b) return a <=> b;
  }
  // A dev release of a final version sorts before its pre-releases (PEP 440).
  auto pre_key = [](const PyVersion& v) -> std::pair<int, std::int64_t> {
    if (v.pre_kind == 3 && v.post < 0 && v.dev >= 0) return {-1, 0};
    return {v.pre_kind, v.pre_num};
  };
  if (auto c = pre_key(*this) <=> pre_key(o); c != 0) return c;
  if (auto c = post <=> o.post; c != 0) return c;
  // no .dev sorts after any .dev of the same release
  std::int64_t da = dev < 0 ? INT64_MAX : dev, db = o.dev < 0 ? INT64_MAX : o.dev;
  return da <=> db;
}

}  // namespace moesim::models
