#pragma once
// Emulated device memory for kernel replays.
//
// A kernel's output buffer is poisoned before the kernel runs and carries a written-mask, so
// elements no kernel wrote are found afterwards (OUTPUT_NOT_WRITTEN: the CuteDSL `out`
// rebinding class of bug). Every access goes through a bounds check; an out-of-bounds read or
// write is recorded as an EMULATED_OOB_ACCESS event (buffer, stage, index, size) and then
// ignored (reads return the poison value), so an emulated kernel never crashes the tool.
//
// Thread safety: distinct elements may be written from different OpenMP threads (the mask is
// one byte per element, never a shared bit word). Events are collected under a mutex and
// sorted on retrieval, so the reported list does not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <tuple>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace moesim::kernels {

enum class ElemType : std::uint8_t { BF16, F32, F64, I32 };

const char* elem_type_name(ElemType t);
std::size_t elem_size(ElemType t);

// One emulated memory fault. Kept small; converted to a Finding by the replay layer.
struct MemoryEvent {
  enum class Kind : std::uint8_t { OobRead, OobWrite };
  Kind kind;
  std::string buffer;
  std::string stage;
  std::int64_t index;  // element index that was accessed
  std::int64_t size;   // number of elements in the buffer (the limit)
  bool operator<(const MemoryEvent& o) const {
    if (stage != o.stage) return stage < o.stage;
    if (buffer != o.buffer) return buffer < o.buffer;
    if (kind != o.kind) return kind < o.kind;
    return index < o.index;
  }
  bool operator==(const MemoryEvent& o) const {
    return kind == o.kind && buffer == o.buffer && stage == o.stage && index == o.index;
  }
};

// Collects memory events of one replay. Keeps at most `cap` distinct events per (stage,
// buffer, kind) in full and counts the rest, so a kernel that faults on every element costs
// bounded memory.
class MemoryLog {
 public:
  explicit MemoryLog(std::size_t cap = 64) : cap_(cap) {}
  void record(MemoryEvent ev);
  // Sorted, deduplicated, independent of thread interleaving (the kept set is the `cap`
  // smallest indices per key, which is deterministic).
  std::vector<MemoryEvent> events() const;
  std::int64_t total() const { return total_.load(); }

 private:
  using Key = std::tuple<std::string, std::string, int>;  // stage, buffer, kind
  std::size_t cap_;
  mutable std::mutex mu_;
  std::map<Key, std::pair<std::set<std::int64_t>, std::int64_t>> kept_;  // indices, limit
  std::atomic<std::int64_t> total_{0};
};

// Poison patterns: a NaN whose payload no IEEE operation produces by itself on the CPU.
inline constexpr std::uint16_t kPoisonBF16 = 0xFFFF;
inline constexpr std::uint32_t kPoisonF32 = 0xFFFFFFFFu;
inline constexpr std::uint64_t kPoisonF64 = 0xFFFFFFFFFFFFFFFFull;
inline constexpr std::int32_t kPoisonI32 = static_cast<std::int32_t>(0xDEADBEEF);

// A named, typed, bounds-checked buffer with a written-mask. Storage is raw bytes; typed
// access goes through get/set (one element) or checked_span (a row checked once).
class EmuBuffer {
 public:
  EmuBuffer() = default;
  EmuBuffer(std::string name, ElemType type, std::vector<std::int64_t> shape);

  const std::string& name() const { return name_; }
  ElemType type() const { return type_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t size() const { return size_; }
  std::int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
  std::int64_t rows() const { return cols() == 0 ? 0 : size_ / cols(); }

  // Fill with the poison pattern and clear the written mask (before a kernel runs).
  void poison();
  // Mark every element written (inputs loaded from a trace).
  void mark_all_written();

  bool written(std::int64_t i) const { return written_[static_cast<std::size_t>(i)] != 0; }
  std::int64_t count_unwritten() const;
  // Indices of unwritten elements (at most `cap`, ascending).
  std::vector<std::int64_t> unwritten(std::size_t cap) const;

  // Bounds-checked element access. Out of range: the event goes to `log` (stage named by
  // `stage`), a read returns poison, a write is dropped. Returns false when out of range.
  template <class T>
  T get(std::int64_t i, MemoryLog& log, const std::string& stage) const {
    if (i < 0 || i >= size_) {
      log.record({MemoryEvent::Kind::OobRead, name_, stage, i, size_});
      return poison_value<T>();
    }
    T v;
    std::memcpy(&v, bytes_.data() + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
    return v;
  }
  template <class T>
  bool set(std::int64_t i, T v, MemoryLog& log, const std::string& stage) {
    if (i < 0 || i >= size_) {
      log.record({MemoryEvent::Kind::OobWrite, name_, stage, i, size_});
      return false;
    }
    std::memcpy(bytes_.data() + static_cast<std::size_t>(i) * sizeof(T), &v, sizeof(T));
    written_[static_cast<std::size_t>(i)] = 1;
    return true;
  }

  // Pointer to elements [first, first+n) after one bounds check; nullptr (and an event at
  // the first out-of-range index) when any of them is out of range. For writes, the caller
  // must call mark_written(first, n).
  template <class T>
  const T* read_span(std::int64_t first, std::int64_t n, MemoryLog& log,
                     const std::string& stage) const {
    if (first < 0 || n < 0 || first > size_ - n) {
      log.record({MemoryEvent::Kind::OobRead, name_, stage, first < 0 ? first : std::max(first, size_), size_});
      return nullptr;
    }
    return reinterpret_cast<const T*>(bytes_.data()) + first;
  }
  template <class T>
  T* write_span(std::int64_t first, std::int64_t n, MemoryLog& log, const std::string& stage) {
    if (first < 0 || n < 0 || first > size_ - n) {
      log.record({MemoryEvent::Kind::OobWrite, name_, stage, first < 0 ? first : std::max(first, size_), size_});
      return nullptr;
    }
    std::memset(written_.data() + first, 1, static_cast<std::size_t>(n));
    return reinterpret_cast<T*>(bytes_.data()) + first;
  }

  // Unchecked views for whole-buffer consumers (diffs, writers).
  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(bytes_.data()); }
  template <class T>
  T* mutable_data() { return reinterpret_cast<T*>(bytes_.data()); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

  // Element i widened to double (bf16/f32/f64 exact; i32 exact).
  double as_double(std::int64_t i) const;
  // Raw bit pattern of element i (zero-extended).
  std::uint64_t raw_bits(std::int64_t i) const;

 private:
  template <class T>
  static T poison_value() {
    if constexpr (sizeof(T) == 2) return static_cast<T>(kPoisonBF16);
    else if constexpr (sizeof(T) == 8) { T v; std::uint64_t p = kPoisonF64; std::memcpy(&v, &p, 8); return v; }
    else { T v; std::uint32_t p = kPoisonF32; std::memcpy(&v, &p, 4); return v; }
  }

  std::string name_;
  ElemType type_ = ElemType::F32;
  std::vector<std::int64_t> shape_;
  std::int64_t size_ = 0;
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint8_t> written_;
};

}  // namespace moesim::kernels
