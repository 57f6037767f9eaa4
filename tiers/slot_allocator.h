// Slot allocation by size class over a fixed arena of bytes [0, capacity),
// shared by the host (memfd) and device (HBM) arenas.
//
// A request is rounded up to its size class: the smallest configured
// `slot_sizes` entry that fits (the serialised block sizes of the model
// geometries a node serves, so those blocks waste nothing), else a geometric
// class with 8 steps per power of two (at most 12.5% waste). Every class is
// a multiple of 4 KiB. Slots are carved best-fit from free extents and
// coalesced with their neighbours when freed, so an arena full of one class
// has no fragmentation and a freed slot is exactly reusable by its class.
//
// Thread safety: none; the owning tier serialises calls under its mutex.
#ifndef KVSTASH_TIERS_SLOT_ALLOCATOR_H_
#define KVSTASH_TIERS_SLOT_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace kvstash::tiers {

class SlotAllocator {
 public:
  static constexpr uint64_t kGranule = 4096;

  // `slot_sizes` are rounded up to the granule; capacity is rounded down.
  SlotAllocator(uint64_t capacity, std::vector<uint64_t> slot_sizes);
  SlotAllocator(const SlotAllocator&) = delete;
  SlotAllocator& operator=(const SlotAllocator&) = delete;

  uint64_t capacity() const { return capacity_; }
  uint64_t allocated_bytes() const { return allocated_; }
  uint64_t ClassSize(uint64_t n) const;

  // Offset of a slot of ClassSize(n) bytes, or nullopt when no free extent
  // is large enough.
  std::optional<uint64_t> Allocate(uint64_t n);
  // REQUIRES: `offset` came from Allocate(n) with the same n and is not freed.
  void Free(uint64_t offset, uint64_t n);

  // Largest free extent (for tests and diagnostics).
  uint64_t LargestFree() const;

 private:
  void InsertFree(uint64_t offset, uint64_t len);
  void EraseFree(std::map<uint64_t, uint64_t>::iterator it);

  const uint64_t capacity_;
  const std::vector<uint64_t> slot_sizes_;  // sorted, granule multiples
  uint64_t allocated_ = 0;
  std::map<uint64_t, uint64_t> free_by_offset_;           // offset -> length
  std::set<std::pair<uint64_t, uint64_t>> free_by_size_;  // (length, offset)
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_SLOT_ALLOCATOR_H_
