#include "sim/kernels/emulated_memory.hpp"

#include <bit>

namespace moesim::kernels {

const char* elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::BF16: return "bf16";
    case ElemType::F32: return "f32";
    case ElemType::F64: return "f64";
    case ElemType::I32: return "i32";
  }
  return "?";
}

std::size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::BF16: return 2;
    case ElemType::F32: return 4;
    case ElemType::F64: return 8;
    case ElemType::I32: return 4;
  }
  return 1;
}

void MemoryLog::record(MemoryEvent ev) {
  total_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = kept_[Key{ev.stage, ev.buffer, static_cast<int>(ev.kind)}];
  slot.second = ev.size;
  slot.first.insert(ev.index);
  if (slot.first.size() > cap_) slot.first.erase(std::prev(slot.first.end()));
}

std::vector<MemoryEvent> MemoryLog::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MemoryEvent> out;
  for (const auto& [key, slot] : kept_)
    for (std::int64_t i : slot.first)
      out.push_back({static_cast<MemoryEvent::Kind>(std::get<2>(key)), std::get<1>(key),
                     std::get<0>(key), i, slot.second});
  std::sort(out.begin(), out.end());
  return out;
}

EmuBuffer::EmuBuffer(std::string name, ElemType type, std::vector<std::int64_t> shape)
    : name_(std::move(name)), type_(type), shape_(std::move(shape)) {
  size_ = 1;
  for (auto d : shape_) size_ *= d;
  bytes_.assign(static_cast<std::size_t>(size_) * elem_size(type_), 0);
  written_.assign(static_cast<std::size_t>(size_), 0);
}

void EmuBuffer::poison() {
  const std::size_t n = static_cast<std::size_t>(size_);
  switch (type_) {
    case ElemType::BF16: {
      auto* p = mutable_data<std::uint16_t>();
      std::fill(p, p + n, kPoisonBF16);
      break;
    }
    case ElemType::F32: {
      auto* p = mutable_data<std::uint32_t>();
      std::fill(p, p + n, kPoisonF32);
      break;
    }
    case ElemType::F64: {
      auto* p = mutable_data<std::uint64_t>();
      std::fill(p, p + n, kPoisonF64);
      break;
    }
    case ElemType::I32: {
      auto* p = mutable_data<std::int32_t>();
      std::fill(p, p + n, kPoisonI32);
      break;
    }
  }
  std::fill(written_.begin(), written_.end(), 0);
}

void EmuBuffer::mark_all_written() { std::fill(written_.begin(), written_.end(), 1); }

std::int64_t EmuBuffer::count_unwritten() const {
  std::int64_t n = 0;
  for (auto w : written_) n += (w == 0);
  return n;
}

std::vector<std::int64_t> EmuBuffer::unwritten(std::size_t cap) const {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < written_.size() && out.size() < cap; ++i)
    if (!written_[i]) out.push_back(static_cast<std::int64_t>(i));
  return out;
}

double EmuBuffer::as_double(std::int64_t i) const {
  const std::size_t k = static_cast<std::size_t>(i);
  switch (type_) {
    case ElemType::BF16:
      return std::bit_cast<float>(std::uint32_t(data<std::uint16_t>()[k]) << 16);
    case ElemType::F32: return data<float>()[k];
    case ElemType::F64: return data<double>()[k];
    case ElemType::I32: return data<std::int32_t>()[k];
  }
  return 0.0;
}

std::uint64_t EmuBuffer::raw_bits(std::int64_t i) const {
  const std::size_t k = static_cast<std::size_t>(i);
  switch (type_) {
    case ElemType::BF16: return data<std::uint16_t>()[k];
    case ElemType::F32: return data<std::uint32_t>()[k];
    case ElemType::F64: return data<std::uint64_t>()[k];
    case ElemType::I32: return static_cast<std::uint32_t>(data<std::int32_t>()[k]);
  }
  return 0;
}

}  // namespace moesim::kernels
