// TierManager's data movement: placing a block in a tier (making room by
// evicting), spilling victims down, promoting on hits, writing through.
// Protocol: under mu_, mark the copies involved busy (so nobody else evicts
// or erases them) and reserve the bytes; drop mu_ for the tier I/O; retake
// mu_ to record the outcome and clear the busy bits (signalling moved_).
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "tiers/tier_manager.h"

namespace kvstash::tiers {
namespace {

// Retries when a tier refuses a put the accounting said fits (slot-class
// fragmentation in an arena): each retry evicts one more victim.
constexpr int kPlaceAttempts = 16;

bool MovesOn(const absl::Status& s) {
  // A full, read-only or unreachable tier: try the next one.
  return absl::IsResourceExhausted(s) || absl::IsFailedPrecondition(s) || absl::IsUnavailable(s);
}

}  // namespace

int TierManager::NextEnabled(int t) const {
  for (int u = t + 1; u < tier_count(); ++u) {
    if (tier(u)->capacity_bytes() > 0) return u;
  }
  return -1;
}

bool TierManager::AdmitsLocked(int t, const IndexEntry& e) const {
  return !tiers_[t].admission || e.hits >= options_.admit_after_hits;
}

bool TierManager::ReserveLocked(int t, uint64_t charge, int min_victims, Room room,
                                std::vector<BlockKey>* victims) {
  const uint64_t capacity = tier(t)->capacity_bytes();
  if (charge > capacity) return false;
  while (charged_[t] + charge > capacity || static_cast<int>(victims->size()) < min_victims) {
    std::optional<BlockKey> v = room == Room::kEvict ? index_.Victim(t) : std::nullopt;
    if (!v) {  // everything left is pinned or moving: give the victims back
      for (const BlockKey& k : *victims) {
        index_.SetBusy(k, t, false);
        charged_[t] += tier(t)->Charge(index_.Find(k)->bytes);
      }
      victims->clear();
      moved_.SignalAll();
      return false;
    }
    index_.SetBusy(*v, t, true);
    charged_[t] -= tier(t)->Charge(index_.Find(*v)->bytes);
    victims->push_back(*v);
  }
  charged_[t] += charge;
  return true;
}

absl::Status TierManager::PlaceIn(int t, const BlockKey& key, absl::string_view block, Room room) {
  for (int attempt = 0;; ++attempt) {
    std::vector<BlockKey> victims;
    uint64_t charge = 0;
    {
      MutexLock lock(&mu_);
      const IndexEntry* e = index_.Find(key);
      if (e == nullptr) return absl::NotFoundError(absl::StrCat("erased: ", key.ToString()));
      if (e->In(t) || e->BusyIn(t)) return absl::OkStatus();
      charge = tier(t)->Charge(e->bytes);  // block.size() unless size-only
      if (!ReserveLocked(t, charge, attempt, room, &victims)) {
        return absl::ResourceExhaustedError(absl::StrCat("tier '", tier(t)->name(),
                                                         "': no room for ", e->bytes,
                                                         " bytes; the rest is pinned or moving"));
      }
      index_.SetBusy(key, t, true);
    }
    for (const BlockKey& v : victims) Evict(t, v);
    const absl::Status s = tier(t)->Put(block);
    MutexLock lock(&mu_);
    index_.SetBusy(key, t, false);
    moved_.SignalAll();
    if (s.ok()) {
      index_.AddCopy(key, t, env_.clock->NowNanos());
      return s;
    }
    charged_[t] -= charge;
    if (!absl::IsResourceExhausted(s) || attempt + 1 >= kPlaceAttempts) return s;
  }
}

absl::Status TierManager::PlaceFrom(int first, const BlockKey& key, absl::string_view block) {
  absl::Status s;
  for (int t = first; t >= 0; t = NextEnabled(t)) {
    s = PlaceIn(t, key, block, Room::kEvict);
    if (s.ok()) {
      if (options_.write == WritePolicy::kWriteThrough) WriteDown(t, key, block);
      return s;
    }
    if (!MovesOn(s)) return s;
  }
  return s;
}

void TierManager::Evict(int t, const BlockKey& key) {
  int next = NextEnabled(t);
  {
    MutexLock lock(&mu_);
    const IndexEntry* e = index_.Find(key);
    KVSTASH_CHECK(e != nullptr && e->BusyIn(t));
    const uint32_t lower = ~((2u << t) - 1);  // tiers after t
    if ((e->present | e->busy) & lower) {
      next = -1;  // a slower tier holds (or is receiving) a copy: just drop this one
    } else if (next >= 0 && !AdmitsLocked(next, *e)) {
      counters_[t].admissions_refused++;
      next = -1;
    }
  }
  bool spilled = false;
  if (next >= 0) {
    absl::StatusOr<BlockRef> ref = tier(t)->Get(key);  // DataLoss: corrupt, nothing to keep
    if (ref.ok()) spilled = PlaceIn(next, key, ref->bytes(), Room::kEvict).ok();
  }
  // No pin can have arrived meanwhile: Pin() waits until no copy is busy.
  DropCopy(t, key);
  MutexLock lock(&mu_);
  counters_[t].evictions++;
  if (spilled) counters_[t].spills++;
}

void TierManager::DropCopy(int t, const BlockKey& key) {
  const absl::Status s = tier(t)->Erase(key);
  MutexLock lock(&mu_);
  index_.SetBusy(key, t, false);
  moved_.SignalAll();
  const IndexEntry* e = index_.Find(key);
  if (s.ok() || absl::IsNotFound(s)) {
    index_.RemoveCopy(key, t);
    index_.RemoveIfUnused(key);
  } else {
    charged_[t] += tier(t)->Charge(e->bytes);  // still there (read-only tier)
  }
}

void TierManager::WriteDown(int from, const BlockKey& key, absl::string_view block) {
  for (int u = NextEnabled(from); u >= 0; u = NextEnabled(u)) {
    {
      MutexLock lock(&mu_);
      const IndexEntry* e = index_.Find(key);
      if (e == nullptr) return;
      if (e->In(u) || e->BusyIn(u)) continue;
      if (!AdmitsLocked(u, *e)) {
        counters_[u].admissions_refused++;
        continue;
      }
    }
    PlaceIn(u, key, block, Room::kEvict).IgnoreError();  // best effort: a faster copy exists
  }
}

void TierManager::AfterHit(int t, const BlockKey& key, absl::string_view block) {
  if (options_.promote != PromotePolicy::kNever) {
    const Room room = options_.promote == PromotePolicy::kEvict ? Room::kEvict : Room::kIfFree;
    for (int u = NextEnabled(-1); u >= 0 && u < t; u = NextEnabled(u)) {
      if (PlaceIn(u, key, block, room).ok()) {
        MutexLock lock(&mu_);
        counters_[u].promotions++;
        break;
      }
    }
  }
  if (options_.write == WritePolicy::kWriteThrough) WriteDown(t, key, block);
}

}  // namespace kvstash::tiers
