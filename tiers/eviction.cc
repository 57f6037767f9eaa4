#include "tiers/eviction.h"

#include "common/check.h"

namespace kvstash::tiers {
namespace {

template <typename Rank>
Rank WithKey(Rank r, const BlockKey& key) {
  std::get<4>(r) = key;
  return r;
}

}  // namespace

void EvictionOrder::Update(const BlockKey& key, Node& node, Node next) {
  if (node.evictable) evictable_.erase(WithKey(node.rank(), key));
  node = next;
  if (node.evictable) evictable_.insert(WithKey(node.rank(), key));
}

void EvictionOrder::Add(const BlockKey& key, uint8_t priority, int64_t now) {
  auto [it, inserted] = nodes_.try_emplace(key);
  KVSTASH_CHECK(inserted);
  it->second = Node{priority, false, true, now, next_seq_++};
  evictable_.insert(WithKey(it->second.rank(), key));
}

void EvictionOrder::Remove(const BlockKey& key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return;
  if (it->second.evictable) evictable_.erase(WithKey(it->second.rank(), key));
  nodes_.erase(it);
}

void EvictionOrder::Touch(const BlockKey& key, int64_t now) {
  auto it = nodes_.find(key);
  KVSTASH_CHECK(it != nodes_.end());
  Node next = it->second;
  next.last_use = std::max(next.last_use, now);
  next.seq = next_seq_++;
  Update(key, it->second, next);
}

void EvictionOrder::SetInterior(const BlockKey& key, bool interior) {
  auto it = nodes_.find(key);
  KVSTASH_CHECK(it != nodes_.end());
  Node next = it->second;
  next.interior = interior;
  Update(key, it->second, next);
}

void EvictionOrder::SetEvictable(const BlockKey& key, bool evictable) {
  auto it = nodes_.find(key);
  KVSTASH_CHECK(it != nodes_.end());
  Node next = it->second;
  next.evictable = evictable;
  Update(key, it->second, next);
}

std::optional<BlockKey> EvictionOrder::Victim() const {
  if (evictable_.empty()) return std::nullopt;
  return std::get<4>(*evictable_.begin());
}

}  // namespace kvstash::tiers
