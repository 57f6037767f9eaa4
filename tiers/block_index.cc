#include "tiers/block_index.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {

BlockIndex::BlockIndex(int tiers, CopyObserver observer)
    : observer_(std::move(observer)), orders_(tiers) {
  KVSTASH_CHECK(tiers <= kMaxTiers);
}

IndexEntry* BlockIndex::Find(const BlockKey& key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

const IndexEntry* BlockIndex::Find(const BlockKey& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

IndexEntry* BlockIndex::Create(const BlockKey& key, uint64_t bytes, uint8_t priority,
                               std::optional<BlockKey> parent) {
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) return nullptr;
  IndexEntry& e = it->second;
  e.bytes = bytes;
  e.priority = priority;
  e.parent = parent;
  if (parent) children_[*parent].insert(key);
  return &e;
}

bool BlockIndex::RemoveIfUnused(const BlockKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.present != 0 || it->second.busy != 0 ||
      it->second.inserting) {
    return false;
  }
  if (const std::optional<BlockKey>& parent = it->second.parent) {
    auto c = children_.find(*parent);
    if (c != children_.end()) {
      c->second.erase(key);
      if (c->second.empty()) children_.erase(c);
    }
  }
  entries_.erase(it);
  return true;
}

void BlockIndex::Refresh(const BlockKey& key, const IndexEntry& e, int tier) {
  if (!e.In(tier)) return;
  orders_[tier].SetEvictable(key, !e.BusyIn(tier) && e.pins == 0);
}

void BlockIndex::SetBusy(const BlockKey& key, int tier, bool busy) {
  IndexEntry* e = Find(key);
  KVSTASH_CHECK(e != nullptr);
  if (busy) {
    e->busy |= 1u << tier;
  } else {
    e->busy &= ~(1u << tier);
  }
  Refresh(key, *e, tier);
}

void BlockIndex::AdjustParent(const IndexEntry& e, int tier, int delta) {
  if (!e.parent) return;
  IndexEntry* p = Find(*e.parent);
  if (p == nullptr || !p->In(tier)) return;
  uint32_t& n = p->children_in[tier];
  KVSTASH_CHECK(delta > 0 || n > 0);
  n += delta;
  if (n == 0 || (n == 1 && delta > 0)) orders_[tier].SetInterior(*e.parent, n > 0);
}

void BlockIndex::AddCopy(const BlockKey& key, int tier, int64_t now) {
  IndexEntry* e = Find(key);
  KVSTASH_CHECK(e != nullptr && !e->In(tier));
  e->present |= 1u << tier;
  orders_[tier].Add(key, e->priority, now);
  uint32_t n = 0;
  if (auto c = children_.find(key); c != children_.end()) {
    for (const BlockKey& child : c->second) n += Find(child)->In(tier) ? 1 : 0;
  }
  e->children_in[tier] = n;
  if (n > 0) orders_[tier].SetInterior(key, true);
  AdjustParent(*e, tier, +1);
  Refresh(key, *e, tier);
  if (observer_) observer_(CopyChange{key, e->parent, tier, /*stored=*/true});
}

void BlockIndex::RemoveCopy(const BlockKey& key, int tier) {
  IndexEntry* e = Find(key);
  if (e == nullptr || !e->In(tier)) return;
  AdjustParent(*e, tier, -1);
  e->present &= ~(1u << tier);
  e->children_in[tier] = 0;
  orders_[tier].Remove(key);
  if (observer_) observer_(CopyChange{key, e->parent, tier, /*stored=*/false});
}

void BlockIndex::Touch(const BlockKey& key, int tier, int64_t now) {
  orders_[tier].Touch(key, now);
}

absl::Status BlockIndex::Pin(const BlockKey& key) {
  IndexEntry* e = Find(key);
  if (e == nullptr || e->present == 0) {
    return absl::NotFoundError(absl::StrCat("pin: no block ", key.ToString()));
  }
  e->pins++;
  for (int t = 0; t < static_cast<int>(orders_.size()); ++t) Refresh(key, *e, t);
  return absl::OkStatus();
}

absl::Status BlockIndex::Unpin(const BlockKey& key) {
  IndexEntry* e = Find(key);
  if (e == nullptr || e->pins == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("unpin: block ", key.ToString(), " is not pinned"));
  }
  e->pins--;
  for (int t = 0; t < static_cast<int>(orders_.size()); ++t) Refresh(key, *e, t);
  return absl::OkStatus();
}

}  // namespace kvstash::tiers
