#include "tiers/slot_allocator.h"

#include <algorithm>
#include <bit>

#include "common/check.h"

namespace kvstash::tiers {
namespace {

uint64_t RoundUp(uint64_t n, uint64_t m) { return (n + m - 1) / m * m; }

std::vector<uint64_t> NormaliseSizes(std::vector<uint64_t> sizes) {
  for (uint64_t& s : sizes) s = RoundUp(std::max<uint64_t>(s, 1), SlotAllocator::kGranule);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

// 8 classes per power of two: n in (2^k, 2^(k+1)] rounds up to a multiple of
// 2^k / 8, and to the granule.
uint64_t GeometricClass(uint64_t n) {
  if (n <= SlotAllocator::kGranule) return SlotAllocator::kGranule;
  const int k = std::bit_width(n - 1) - 1;
  const uint64_t step = std::max<uint64_t>(uint64_t{1} << k >> 3, SlotAllocator::kGranule);
  return RoundUp(n, step);
}

}  // namespace

SlotAllocator::SlotAllocator(uint64_t capacity, std::vector<uint64_t> slot_sizes)
    : capacity_(capacity / kGranule * kGranule),
      slot_sizes_(NormaliseSizes(std::move(slot_sizes))) {
  if (capacity_ > 0) InsertFree(0, capacity_);
}

uint64_t SlotAllocator::ClassSize(uint64_t n) const {
  const uint64_t geometric = GeometricClass(n);
  auto it = std::lower_bound(slot_sizes_.begin(), slot_sizes_.end(), n);
  return it != slot_sizes_.end() && *it < geometric ? *it : geometric;
}

std::optional<uint64_t> SlotAllocator::Allocate(uint64_t n) {
  const uint64_t size = ClassSize(n);
  auto it = free_by_size_.lower_bound({size, 0});
  if (it == free_by_size_.end()) return std::nullopt;
  const auto [len, offset] = *it;
  EraseFree(free_by_offset_.find(offset));
  if (len > size) InsertFree(offset + size, len - size);
  allocated_ += size;
  return offset;
}

void SlotAllocator::Free(uint64_t offset, uint64_t n) {
  const uint64_t size = ClassSize(n);
  KVSTASH_CHECK(offset + size <= capacity_ && allocated_ >= size);
  allocated_ -= size;
  // Coalesce with the free neighbours on either side.
  uint64_t start = offset, end = offset + size;
  auto next = free_by_offset_.lower_bound(offset);
  KVSTASH_CHECK(next == free_by_offset_.end() || next->first >= end);
  if (next != free_by_offset_.end() && next->first == end) {
    end += next->second;
    auto after = std::next(next);
    EraseFree(next);
    next = after;
  }
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    KVSTASH_CHECK(prev->first + prev->second <= start);
    if (prev->first + prev->second == start) {
      start = prev->first;
      EraseFree(prev);
    }
  }
  InsertFree(start, end - start);
}

uint64_t SlotAllocator::LargestFree() const {
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}

void SlotAllocator::InsertFree(uint64_t offset, uint64_t len) {
  free_by_offset_.emplace(offset, len);
  free_by_size_.emplace(len, offset);
}

void SlotAllocator::EraseFree(std::map<uint64_t, uint64_t>::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_offset_.erase(it);
}

}  // namespace kvstash::tiers
