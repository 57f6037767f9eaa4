// TierManager's bookkeeping: for every block, which tiers hold a copy, which
// copies are moving, pins, hits and its place in its prefix chain; and per
// tier, the eviction order (tiers/eviction.h) kept in step with all of that.
// Pure data structure: no I/O, no locking.
//
// A copy of a block in tier t is evictable when it is present, not busy in t
// (being written, spilled or erased) and the block is not pinned. A block is
// interior in tier t while some child of it is present in t.
//
// Thread safety: none; TierManager serialises calls under its mutex.
#ifndef KVSTASH_TIERS_BLOCK_INDEX_H_
#define KVSTASH_TIERS_BLOCK_INDEX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "tiers/block.h"
#include "tiers/eviction.h"

namespace kvstash::tiers {

inline constexpr int kMaxTiers = 8;

struct IndexEntry {
  uint64_t bytes = 0;  // serialised size
  uint8_t priority = 0;
  std::optional<BlockKey> parent;
  uint32_t present = 0;  // bit t: tier t holds a committed copy
  uint32_t busy = 0;     // bit t: a copy is being written to or removed from tier t
  uint32_t pins = 0;
  uint32_t hits = 0;
  bool inserting = false;  // a Put is placing its first copy; keeps the entry alive
  std::array<uint32_t, kMaxTiers> children_in{};  // children present in tier t

  bool In(int t) const { return present & (1u << t); }
  bool BusyIn(int t) const { return busy & (1u << t); }
  // Fastest tier holding a copy, or -1.
  int Fastest() const { return present == 0 ? -1 : __builtin_ctz(present); }
};

// A copy of a block appeared in (`stored`) or left a tier: what a node
// publishes as KV events (proto/events.capnp).
struct CopyChange {
  const BlockKey& key;
  const std::optional<BlockKey>& parent;
  int tier;
  bool stored;
};
using CopyObserver = std::function<void(const CopyChange&)>;

class BlockIndex {
 public:
  explicit BlockIndex(int tiers, CopyObserver observer = nullptr);

  // Pointers stay valid until the entry is removed.
  IndexEntry* Find(const BlockKey& key);
  const IndexEntry* Find(const BlockKey& key) const;
  // A new entry held nowhere yet; nullptr when the key exists.
  IndexEntry* Create(const BlockKey& key, uint64_t bytes, uint8_t priority,
                     std::optional<BlockKey> parent);
  // Drops the entry if no tier holds or is moving a copy and no Put is
  // placing it. True if dropped.
  bool RemoveIfUnused(const BlockKey& key);

  void SetBusy(const BlockKey& key, int tier, bool busy);
  // REQUIRES: the entry exists and is not present in `tier`.
  void AddCopy(const BlockKey& key, int tier, int64_t now);
  // No-op when not present in `tier`.
  void RemoveCopy(const BlockKey& key, int tier);
  // Marks a use of the copy in `tier`. REQUIRES: present there.
  void Touch(const BlockKey& key, int tier, int64_t now);
  // NotFound when the block is held nowhere; FailedPrecondition on an
  // unpinned Unpin.
  absl::Status Pin(const BlockKey& key);
  absl::Status Unpin(const BlockKey& key);

  std::optional<BlockKey> Victim(int tier) const { return orders_[tier].Victim(); }
  size_t size() const { return entries_.size(); }

 private:
  void Refresh(const BlockKey& key, const IndexEntry& e, int tier);
  void AdjustParent(const IndexEntry& e, int tier, int delta);

  const CopyObserver observer_;
  absl::node_hash_map<BlockKey, IndexEntry> entries_;
  // parent -> children that have entries
  absl::flat_hash_map<BlockKey, absl::flat_hash_set<BlockKey>> children_;
  std::vector<EvictionOrder> orders_;
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_BLOCK_INDEX_H_
