// The slot bookkeeping both arena tiers (host memfd, device HBM) share: an
// allocator over the arena's bytes, the index of live slots by key, and slots
// retired (erased or replaced) while readers still pin them. A retired slot's
// bytes return to the allocator with its last reader, so eviction never frees
// memory being read.
//
// Thread safety: none; the owning tier guards it with its mutex.
#ifndef KVSTASH_TIERS_SLOT_TABLE_H_
#define KVSTASH_TIERS_SLOT_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tiers/block.h"
#include "tiers/slot_allocator.h"
#include "tiers/tier.h"

namespace kvstash::tiers {

struct ArenaSlot {
  BlockKey key;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::optional<BlockKey> parent;
  uint8_t priority = 0;
  int refs = 0;       // readers pinning it
  bool live = false;  // linked in the index
};

class SlotTable {
 public:
  SlotTable(uint64_t capacity, std::vector<uint64_t> slot_sizes);
  // REQUIRES: no slot is pinned.
  ~SlotTable();
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  uint64_t ClassSize(uint64_t n) const { return allocator_.ClassSize(n); }
  uint64_t allocated_bytes() const { return allocator_.allocated_bytes(); }
  size_t size() const { return index_.size(); }

  // A private (unlinked) slot of `bytes` for `key`; ResourceExhausted, naming
  // `tier`, when no free extent fits.
  absl::StatusOr<std::unique_ptr<ArenaSlot>> Allocate(const BlockKey& key, uint64_t bytes,
                                                      absl::string_view tier);
  // Returns a private slot's bytes.
  void Abandon(std::unique_ptr<ArenaSlot> slot);
  // Publishes a private slot, retiring any slot under its key.
  void Link(std::unique_ptr<ArenaSlot> slot);
  // The live slot under `key` with one more reader, or nullptr.
  ArenaSlot* Pin(const BlockKey& key);
  // Drops a reader; a retired slot's bytes are freed with its last reader.
  void Unpin(ArenaSlot* slot);
  // Retires a live slot.
  void Unlink(ArenaSlot* slot);
  // Unlinks the slot under `key`; false when absent.
  bool Erase(const BlockKey& key);
  bool Contains(const BlockKey& key) const { return index_.contains(key); }
  std::vector<StoredBlock> List() const;

 private:
  SlotAllocator allocator_;
  absl::flat_hash_map<BlockKey, std::unique_ptr<ArenaSlot>> index_;
  absl::flat_hash_map<ArenaSlot*, std::unique_ptr<ArenaSlot>> retired_;
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_SLOT_TABLE_H_
