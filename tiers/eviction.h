// Victim order for one tier (DESIGN.md "Eviction"): LRU within a priority
// class, leaves before their parents, pinned and in-flight blocks never.
//
// The next victim is the smallest (priority, interior, last_use, seq): the
// lowest priority class first; within it a leaf (no child of its prefix
// chain held in this tier) before an interior block, since a child is useless
// without its parent and a parent shared by many children is worth more;
// then least recently used; `seq` (insertion and touch order) breaks ties,
// so the order is exact under a FakeClock that never moves.
//
// Thread safety: none; TierManager serialises calls under its mutex.
#ifndef KVSTASH_TIERS_EVICTION_H_
#define KVSTASH_TIERS_EVICTION_H_

#include <cstdint>
#include <optional>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "tiers/block.h"

namespace kvstash::tiers {

class EvictionOrder {
 public:
  // Adds an evictable leaf. REQUIRES: !Contains(key).
  void Add(const BlockKey& key, uint8_t priority, int64_t now);
  // No-op when absent.
  void Remove(const BlockKey& key);
  // Marks a use. REQUIRES: Contains(key).
  void Touch(const BlockKey& key, int64_t now);
  // Interior: some child is held in this tier. REQUIRES: Contains(key).
  void SetInterior(const BlockKey& key, bool interior);
  // Pinned or busy blocks are not evictable. REQUIRES: Contains(key).
  void SetEvictable(const BlockKey& key, bool evictable);

  bool Contains(const BlockKey& key) const { return nodes_.contains(key); }
  size_t size() const { return nodes_.size(); }
  // The next victim, or nullopt when nothing is evictable.
  std::optional<BlockKey> Victim() const;

 private:
  using Rank = std::tuple<uint8_t, bool, int64_t, uint64_t, BlockKey>;
  struct Node {
    uint8_t priority = 0;
    bool interior = false;
    bool evictable = true;
    int64_t last_use = 0;
    uint64_t seq = 0;
    Rank rank() const { return Rank{priority, interior, last_use, seq, BlockKey{}}; }
  };
  void Update(const BlockKey& key, Node& node, Node next);

  uint64_t next_seq_ = 0;
  absl::flat_hash_map<BlockKey, Node> nodes_;
  std::set<Rank> evictable_;  // ranks of evictable nodes, key in the last field
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_EVICTION_H_
