#include "workflows/result_codec.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace moesim::workflows {
namespace {

struct Writer {
  std::string b;
  template <class T>
  Writer& operator&(const T& v);
};
struct Reader {
  const std::string& b;
  std::size_t i = 0;
  void raw(void* p, std::size_t n) {
    if (n > b.size() - i) throw std::runtime_error("truncated rank result buffer");
    if (n) std::memcpy(p, b.data() + i, n);
    i += n;
  }
  std::size_t len(std::size_t min_elem) {
    std::uint64_t n = 0;
    raw(&n, sizeof n);
    if (n > (b.size() - i) / (min_elem ? min_elem : 1)) throw std::runtime_error("malformed rank result buffer");
    return static_cast<std::size_t>(n);
  }
  template <class T>
  Reader& operator&(T& v);
};

template <class T>
  requires(std::is_arithmetic_v<T> || std::is_enum_v<T>)
void put(Writer& w, const T& v) {
  w.b.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
  requires(std::is_arithmetic_v<T> || std::is_enum_v<T>)
void get(Reader& r, T& v) {
  r.raw(&v, sizeof v);
}
void put(Writer& w, const std::string& s) {
  put(w, static_cast<std::uint64_t>(s.size()));
  w.b.append(s);
}
void get(Reader& r, std::string& s) {
  s.resize(r.len(1));
  r.raw(s.data(), s.size());
}
template <class T>
void put(Writer& w, const std::vector<T>& v) {
  put(w, static_cast<std::uint64_t>(v.size()));
  for (const auto& x : v) put(w, x);
}
template <class T>
void get(Reader& r, std::vector<T>& v) {
  v.resize(r.len(1));
  for (auto& x : v) get(r, x);
}
template <class T, std::size_t N>
void put(Writer& w, const std::array<T, N>& v) {
  for (const auto& x : v) put(w, x);
}
template <class T, std::size_t N>
void get(Reader& r, std::array<T, N>& v) {
  for (auto& x : v) get(r, x);
}
template <class T>
void put(Writer& w, const std::optional<T>& v) {
  put(w, static_cast<std::uint8_t>(v.has_value()));
  if (v) put(w, *v);
}
template <class T>
void get(Reader& r, std::optional<T>& v) {
  std::uint8_t has = 0;
  get(r, has);
  if (!has) return v.reset();
  v.emplace();
  get(r, *v);
}
template <class A, class B>
void put(Writer& w, const std::pair<A, B>& p) {
  put(w, p.first), put(w, p.second);
}
template <class A, class B>
void get(Reader& r, std::pair<A, B>& p) {
  get(r, p.first), get(r, p.second);
}
template <class K, class V>
void put(Writer& w, const std::map<K, V>& m) {
  put(w, static_cast<std::uint64_t>(m.size()));
  for (const auto& kv : m) put(w, kv.first), put(w, kv.second);
}
template <class K, class V>
void get(Reader& r, std::map<K, V>& m) {
  const std::size_t n = r.len(1);
  m.clear();
  for (std::size_t j = 0; j < n; ++j) {
    K k{};
    get(r, k);
    get(r, m[k]);
  }
}

// Every field of each struct, once, for both directions. A field added to one of these structs
// must be added here: the static_asserts below catch a size change.
template <class A, class F>
void fields_finding(A& a, F& f) {
  a & f.id & f.severity & f.kernel & f.stage & f.message & f.formula & f.limit & f.upstream & f.gpu_error & f.basis & f.value &
      f.limit_value & f.tokens & f.first_failing_tokens & f.buffer & f.index & f.count & f.device & f.library_version &
      f.framework & f.details;
}
template <class A, class G>
void fields_group(A& a, G& g) {
  a & g.group & g.count & g.identical & g.max_abs & g.rel_l2;
}
template <class A, class D>
void fields_buffer_diff(A& a, D& d) {
  a & d.a_type & d.b_type & d.rows & d.cols & d.count & d.identical & d.nan_a & d.nan_b & d.inf_a & d.inf_b & d.max_abs &
      d.max_abs_index & d.max_abs_a & d.max_abs_b & d.first_mismatch & d.rel_l2 & d.ulp_hist & d.per_expert & d.worst_tokens;
}
template <class A, class S>
void fields_stage_diff(A& a, S& s) {
  a & s.stage & s.compared & s.note & s.diff;
}
template <class A, class D>
void fields_replay_diff(A& a, D& d) {
  a & d.a_name & d.b_name & d.stages & d.first_divergence & d.output_compared & d.output;
}
template <class A, class T>
void fields_timing(A& a, T& t) {
  a & t.stage & t.seconds;
}
template <class A, class R>
void fields_result(A& a, R& r) {
  a & r.variant & r.stage_order & r.stage_output & r.findings & r.timings & r.seconds;
}
template <class A, class C>
void fields_call(A& a, C& c) {
  a & c.call & c.layer & c.num_tokens & c.result & c.diff;
}
template <class A, class R>
void fields_recorded(A& a, R& r) {
  a & r.output_sha256 & r.has_metrics & r.rel_l2 & r.bit_identical_pct & r.max_ulp & r.nan & r.inf & r.findings & r.backend;
}
template <class A, class C>
void fields_case(A& a, C& c) {
  a & c.id & c.case_name & c.trace & c.variant & c.flashinfer & c.status & c.failures & c.first_divergence & c.notes & c.recorded &
      c.baseline_compared & c.seconds;
}
template <class A, class S>
void fields_share(A& a, S& s) {
  a & s.failed & s.error & s.input_error & s.items;
}

#define MOESIM_CODEC(Type, fn)                        \
  void put(Writer& w, const Type& x) { fn(w, x); } \
  void get(Reader& r, Type& x) { fn(r, x); }
MOESIM_CODEC(kernels::Finding, fields_finding)
MOESIM_CODEC(replay::GroupDiff, fields_group)
MOESIM_CODEC(replay::BufferDiff, fields_buffer_diff)
MOESIM_CODEC(replay::StageDiff, fields_stage_diff)
MOESIM_CODEC(replay::ReplayDiff, fields_replay_diff)
MOESIM_CODEC(replay::StageTiming, fields_timing)
MOESIM_CODEC(replay::ReplayResult, fields_result)
MOESIM_CODEC(CallReport, fields_call)
MOESIM_CODEC(Recorded, fields_recorded)
MOESIM_CODEC(CaseResult, fields_case)
MOESIM_CODEC(RankShare, fields_share)
#undef MOESIM_CODEC

template <class T>
Writer& Writer::operator&(const T& v) {
  put(*this, v);
  return *this;
}
template <class T>
Reader& Reader::operator&(T& v) {
  get(*this, v);
  return *this;
}

template <class T>
std::string enc(const T& x) {
  Writer w;
  put(w, x);
  return std::move(w.b);
}
template <class T>
T dec(const std::string& b) {
  Reader r{b};
  T x{};
  get(r, x);
  if (r.i != b.size()) throw std::runtime_error("rank result buffer has trailing bytes");
  return x;
}

}  // namespace

std::string encode_call_report(const CallReport& c) {
  if (!c.result.buffers.empty()) throw std::logic_error("encode_call_report: stage buffers are not sent between ranks");
  return enc(c);
}
CallReport decode_call_report(const std::string& b) { return dec<CallReport>(b); }
std::string encode_case_result(const CaseResult& c) { return enc(c); }
CaseResult decode_case_result(const std::string& b) { return dec<CaseResult>(b); }
std::string encode_share(const RankShare& s) { return enc(s); }
RankShare decode_share(const std::string& b) { return dec<RankShare>(b); }

}  // namespace moesim::workflows
