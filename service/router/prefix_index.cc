#include "service/router/prefix_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::router {
namespace {

// Spreads hashes over shards even when a test or trace uses small integers.
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// HolderSlot::state: generation << 32 | live << 31 | live entry count.
constexpr uint64_t kLiveBit = uint64_t{1} << 31;
constexpr uint64_t kCountMask = kLiveBit - 1;
constexpr uint64_t NextGeneration(uint64_t state) { return ((state >> 32) + 1) << 32; }

bool HolderLess(const HolderId& a, const HolderId& b) {
  return a.worker != b.worker ? a.worker < b.worker : a.dp_rank < b.dp_rank;
}

PrefixIndexOptions Checked(PrefixIndexOptions o) {
  KVSTASH_CHECK(o.shards > 0);
  return o;
}

absl::Status ValidateHolder(const HolderId& holder) {
  if (holder.worker.empty()) return absl::InvalidArgumentError("holder.worker: empty");
  if (holder.dp_rank < kNodeRank) {
    return absl::InvalidArgumentError(
        absl::StrCat("holder.dp_rank: ", holder.dp_rank,
                     " is neither >= 0 (an engine rank) nor -1 (a kvstash node)"));
  }
  return absl::OkStatus();
}

}  // namespace

Medium FastestMedium(uint8_t media) {
  KVSTASH_CHECK((media & kAllMedia) != 0);
  return static_cast<Medium>(std::countr_zero(static_cast<unsigned>(media & kAllMedia)));
}

PrefixIndex::PrefixIndex(PrefixIndexOptions options)
    : options_(Checked(options)),
      shard_limit_(options_.max_blocks == 0
                       ? 0
                       : (options_.max_blocks + options_.shards - 1) / options_.shards),
      shards_(new Shard[options_.shards]),
      dir_(new DirShard[kDirShards]),
      chunks_(new std::atomic<HolderSlot*>[kMaxChunks]) {
  for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

PrefixIndex::~PrefixIndex() {
  for (size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

int64_t PrefixIndex::HeapBytes(const Block& b) {
  return b.entries.capacity() > 1 ? static_cast<int64_t>(b.entries.capacity() * sizeof(Entry)) : 0;
}

PrefixIndex::HolderSlot& PrefixIndex::Slot(HolderIndex h) const {
  HolderSlot* chunk = chunks_[h / kSlotsPerChunk].load(std::memory_order_acquire);
  return chunk[h % kSlotsPerChunk];
}

PrefixIndex::Shard& PrefixIndex::ShardOf(uint64_t hash) const {
  return shards_[Mix(hash) % static_cast<uint64_t>(options_.shards)];
}

PrefixIndex::DirShard& PrefixIndex::DirOf(const std::string& worker) const {
  return dir_[absl::Hash<std::string>()(worker) % kDirShards];
}

bool PrefixIndex::IsStale(const Entry& e) const {
  return Generation(Slot(e.holder)) != e.generation;
}

// ------------------------------------------------------------------ holders --

std::optional<HolderIndex> PrefixIndex::Lookup(const HolderId& holder) const {
  DirShard& d = DirOf(holder.worker);
  ReaderMutexLock l(&d.mu);
  auto it = d.workers.find(holder.worker);
  if (it == d.workers.end()) return std::nullopt;
  for (const auto& [dp, h] : it->second.holders) {
    if (dp == holder.dp_rank) return h;
  }
  return std::nullopt;
}

absl::StatusOr<HolderIndex> PrefixIndex::Intern(const HolderId& holder) {
  if (std::optional<HolderIndex> h = Lookup(holder)) return *h;
  MutexLock alloc(&alloc_mu_);
  if (std::optional<HolderIndex> h = Lookup(holder)) return *h;  // lost a race
  const uint32_t h = holder_count_.load(std::memory_order_relaxed);
  if (h >= kMaxChunks * kSlotsPerChunk) {
    return absl::ResourceExhaustedError(
        absl::StrCat("holder.worker: cannot index more than ", h, " holders"));
  }
  std::atomic<HolderSlot*>& chunk = chunks_[h / kSlotsPerChunk];
  if (chunk.load(std::memory_order_relaxed) == nullptr) {
    chunk.store(new HolderSlot[kSlotsPerChunk], std::memory_order_release);
  }
  HolderSlot& slot = Slot(h);
  slot.id = holder;
  slot.node = holder.dp_rank == kNodeRank;
  holder_count_.store(h + 1, std::memory_order_release);
  // Publishing through the directory's lock orders the writes above before
  // any reader that finds `h`.
  DirShard& d = DirOf(holder.worker);
  MutexLock l(&d.mu);
  d.workers[holder.worker].holders.push_back({holder.dp_rank, h});
  return h;
}

void PrefixIndex::Revive(HolderSlot& slot) {
  uint64_t s = slot.state.load(std::memory_order_acquire);
  while (!(s & kLiveBit)) {
    if (slot.state.compare_exchange_weak(s, s | kLiveBit, std::memory_order_acq_rel)) {
      slot.last_seen.store(std::numeric_limits<double>::quiet_NaN(), std::memory_order_relaxed);
      holders_version_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
  }
}

bool PrefixIndex::CountEntry(HolderSlot& slot, uint32_t generation) {
  uint64_t s = slot.state.load(std::memory_order_acquire);
  while ((s >> 32) == generation) {
    KVSTASH_CHECK((s & kCountMask) < kCountMask);
    if (slot.state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
      live_entries_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  stale_entries_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool PrefixIndex::UncountEntry(HolderSlot& slot, uint32_t generation) {
  uint64_t s = slot.state.load(std::memory_order_acquire);
  while ((s >> 32) == generation) {
    KVSTASH_CHECK((s & kCountMask) > 0);
    if (slot.state.compare_exchange_weak(s, s - 1, std::memory_order_acq_rel)) {
      live_entries_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
  }
  stale_entries_.fetch_sub(1, std::memory_order_relaxed);  // a Clear counted it as stale
  return false;
}

bool PrefixIndex::DropHolderEntries(HolderSlot& slot, bool remove) {
  uint64_t s = slot.state.load(std::memory_order_acquire);
  while (true) {
    if (remove && !(s & kLiveBit)) return false;
    const uint64_t next = NextGeneration(s) | (remove ? 0 : (s & kLiveBit));
    if (slot.state.compare_exchange_weak(s, next, std::memory_order_acq_rel)) break;
  }
  const int64_t n = static_cast<int64_t>(s & kCountMask);
  live_entries_.fetch_sub(n, std::memory_order_relaxed);
  stale_entries_.fetch_add(n, std::memory_order_relaxed);
  if (remove) holders_version_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

bool PrefixIndex::RemoveHolder(const HolderId& holder) {
  std::optional<HolderIndex> h = Lookup(holder);
  if (!h || !DropHolderEntries(Slot(*h), /*remove=*/true)) return false;
  MaybeSweep();
  return true;
}

absl::Status PrefixIndex::Touch(const HolderId& holder, double now) {
  if (absl::Status s = ValidateHolder(holder); !s.ok()) return s;
  absl::StatusOr<HolderIndex> h = Intern(holder);
  if (!h.ok()) return h.status();
  HolderSlot& slot = Slot(*h);
  Revive(slot);
  slot.last_seen.store(now, std::memory_order_relaxed);
  return absl::OkStatus();
}

std::vector<HolderId> PrefixIndex::ExpireSilent(double now, double ttl) {
  std::vector<HolderId> removed;
  const uint32_t count = holder_count_.load(std::memory_order_acquire);
  for (HolderIndex h = 0; h < count; ++h) {
    HolderSlot& slot = Slot(h);
    if (!IsLive(h)) continue;
    const double seen = slot.last_seen.load(std::memory_order_relaxed);
    if (std::isnan(seen)) {
      slot.last_seen.store(now, std::memory_order_relaxed);  // grace starts now
    } else if (now - seen > ttl && DropHolderEntries(slot, /*remove=*/true)) {
      removed.push_back(slot.id);
    }
  }
  MaybeSweep();
  return removed;
}

std::vector<HolderStatus> PrefixIndex::Holders() const {
  std::vector<HolderStatus> out;
  const uint32_t count = holder_count_.load(std::memory_order_acquire);
  for (HolderIndex h = 0; h < count; ++h) {
    const HolderSlot& slot = Slot(h);
    const uint64_t state = slot.state.load(std::memory_order_acquire);
    if (!(state & kLiveBit)) continue;
    out.push_back({slot.id, static_cast<int64_t>(state & kCountMask),
                   slot.last_seen.load(std::memory_order_relaxed)});
  }
  std::sort(out.begin(), out.end(), [](const HolderStatus& a, const HolderStatus& b) {
    return HolderLess(a.holder, b.holder);
  });
  return out;
}

std::optional<HolderIndex> PrefixIndex::Find(const HolderId& holder) const {
  std::optional<HolderIndex> h = Lookup(holder);
  if (h && !IsLive(*h)) return std::nullopt;
  return h;
}

const HolderId& PrefixIndex::Id(HolderIndex h) const { return Slot(h).id; }

bool PrefixIndex::IsLive(HolderIndex h) const {
  return (Slot(h).state.load(std::memory_order_acquire) & kLiveBit) != 0;
}

std::vector<HolderIndex> PrefixIndex::LiveRanksOfWorker(const std::string& worker) const {
  std::vector<HolderIndex> out;
  DirShard& d = DirOf(worker);
  ReaderMutexLock l(&d.mu);
  auto it = d.workers.find(worker);
  if (it == d.workers.end()) return out;
  for (const auto& [dp, h] : it->second.holders) {
    if (dp >= 0 && IsLive(h)) out.push_back(h);
  }
  return out;
}

std::vector<HolderIndex> PrefixIndex::LiveEngineRanks() const {
  std::vector<HolderIndex> out;
  const uint32_t count = holder_count_.load(std::memory_order_acquire);
  for (HolderIndex h = 0; h < count; ++h) {
    if (!Slot(h).node && IsLive(h)) out.push_back(h);
  }
  return out;
}

// ------------------------------------------------------------------- events --

absl::Status PrefixIndex::Validate(const EventBatch& batch) const {
  if (absl::Status s = ValidateHolder(batch.holder); !s.ok()) return s;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const KvEvent& e = batch.events[i];
    if (static_cast<uint8_t>(e.kind) > static_cast<uint8_t>(KvEvent::Kind::kCleared)) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].kind: ", static_cast<int>(e.kind), " is not an event"));
    }
    if (e.medium && static_cast<int>(*e.medium) >= kMediumCount) {
      return absl::InvalidArgumentError(absl::StrCat(
          "events[", i, "].medium: ", static_cast<int>(*e.medium), " is not a medium"));
    }
  }
  return absl::OkStatus();
}

absl::Status PrefixIndex::Apply(const EventBatch& batch) {
  if (absl::Status s = Validate(batch); !s.ok()) return s;
  absl::StatusOr<HolderIndex> h = Intern(batch.holder);
  if (!h.ok()) return h.status();
  HolderSlot& slot = Slot(*h);
  Revive(slot);
  for (const KvEvent& e : batch.events) ApplyEvent(*h, slot, e);
  MaybeSweep();
  return absl::OkStatus();
}

absl::Status PrefixIndex::Apply(const EventBatch& batch, double now) {
  if (absl::Status s = Apply(batch); !s.ok()) return s;
  return Touch(batch.holder, now);
}

void PrefixIndex::ApplyEvent(HolderIndex h, HolderSlot& slot, const KvEvent& event) {
  switch (event.kind) {
    case KvEvent::Kind::kStored: {
      const uint8_t bits =
          MediumBit(event.medium.value_or(Medium::kDevice)) | (slot.node ? kNodeFlag : 0);
      for (uint64_t hash : event.block_hashes) StoreOne(hash, h, slot, bits);
      break;
    }
    case KvEvent::Kind::kRemoved: {
      const uint8_t bits = event.medium ? MediumBit(*event.medium) : kAllMedia;
      for (uint64_t hash : event.block_hashes) RemoveOne(hash, h, slot, bits);
      break;
    }
    case KvEvent::Kind::kCleared:
      DropHolderEntries(slot, /*remove=*/false);
      break;
  }
}

void PrefixIndex::ForgetEntry(const Entry& e) { UncountEntry(Slot(e.holder), e.generation); }

void PrefixIndex::StoreOne(uint64_t hash, HolderIndex h, HolderSlot& slot, uint8_t bits) {
  Shard& s = ShardOf(hash);
  MutexLock l(&s.mu);
  const uint32_t gen = Generation(slot);
  auto [it, inserted] = s.blocks.try_emplace(hash);
  Block& b = it->second;
  if (inserted) {
    b.tag = s.next_tag++;
    s.clock.push_back({hash, b.tag});
  } else {
    b.referenced = true;
  }
  const int64_t before = HeapBytes(b);
  bool found = false;
  for (size_t i = 0; i < b.entries.size();) {
    Entry& e = b.entries[i];
    if (e.holder == h && e.generation == gen) {
      e.media |= bits;
      found = true;
      ++i;
    } else if (IsStale(e)) {  // purge while we are here (incl. our own old one)
      stale_entries_.fetch_sub(1, std::memory_order_relaxed);
      e = b.entries.back();
      b.entries.pop_back();
    } else {
      ++i;
    }
  }
  if (!found) {
    b.entries.push_back({h, gen, bits});
    CountEntry(slot, gen);
  }
  s.heap_bytes += HeapBytes(b) - before;
  if (inserted) {
    CompactClockLocked(s);
    EvictLocked(s);
  }
}

void PrefixIndex::RemoveOne(uint64_t hash, HolderIndex h, HolderSlot& slot, uint8_t bits) {
  Shard& s = ShardOf(hash);
  MutexLock l(&s.mu);
  auto it = s.blocks.find(hash);
  if (it == s.blocks.end()) return;
  const uint32_t gen = Generation(slot);
  Block& b = it->second;
  const int64_t before = HeapBytes(b);
  for (size_t i = 0; i < b.entries.size();) {
    Entry& e = b.entries[i];
    bool drop = false;
    if (e.holder == h && e.generation == gen) {
      e.media &= static_cast<uint8_t>(~bits);
      drop = (e.media & kAllMedia) == 0;
      if (drop) UncountEntry(slot, gen);
    } else if (IsStale(e)) {
      stale_entries_.fetch_sub(1, std::memory_order_relaxed);
      drop = true;
    }
    if (drop) {
      e = b.entries.back();
      b.entries.pop_back();
    } else {
      ++i;
    }
  }
  s.heap_bytes += HeapBytes(b) - before;
  if (b.entries.empty()) EraseBlockLocked(s, it);
}

void PrefixIndex::EraseBlockLocked(Shard& s, absl::flat_hash_map<uint64_t, Block>::iterator it) {
  for (const Entry& e : it->second.entries) ForgetEntry(e);  // eviction: some are live
  s.heap_bytes -= HeapBytes(it->second);
  s.blocks.erase(it);  // its clock item goes stale (no block or a new tag)
}

// CLOCK over creation order: a block stored again since it was queued gets a
// second pass; one that was not is the least recently stored we know of.
void PrefixIndex::EvictLocked(Shard& s) {
  if (shard_limit_ == 0) return;
  while (s.blocks.size() > shard_limit_ && !s.clock.empty()) {
    const ClockItem item = s.clock.front();
    s.clock.pop_front();
    auto it = s.blocks.find(item.hash);
    if (it == s.blocks.end() || it->second.tag != item.tag) continue;
    if (it->second.referenced) {
      it->second.referenced = false;
      s.clock.push_back(item);
      continue;
    }
    EraseBlockLocked(s, it);
    ++s.evictions;
  }
}

// Items of erased blocks stay queued until popped; keep them from piling up
// under store/remove churn.
void PrefixIndex::CompactClockLocked(Shard& s) {
  if (s.clock.size() <= 2 * s.blocks.size() + 64) return;
  std::deque<ClockItem> kept;
  for (const ClockItem& item : s.clock) {
    auto it = s.blocks.find(item.hash);
    if (it != s.blocks.end() && it->second.tag == item.tag) kept.push_back(item);
  }
  s.clock.swap(kept);
}

// ------------------------------------------------------------------ queries --

void PrefixIndex::ForEachHolder(uint64_t hash, absl::FunctionRef<void(const HolderHit&)> fn) const {
  const Shard& s = ShardOf(hash);
  ReaderMutexLock l(&s.mu);
  auto it = s.blocks.find(hash);
  if (it == s.blocks.end()) return;
  for (const Entry& e : it->second.entries) {
    if (IsStale(e)) continue;
    fn(HolderHit{e.holder, static_cast<uint8_t>(e.media & kAllMedia), (e.media & kNodeFlag) != 0});
  }
}

std::vector<HolderOverlap> PrefixIndex::Overlaps(absl::Span<const uint64_t> hashes) const {
  std::vector<HolderOverlap> out;
  if (hashes.empty()) return out;
  std::vector<HolderIndex> holders;
  absl::flat_hash_map<HolderIndex, size_t> at;  // holder -> position in out
  std::vector<uint8_t> media;
  for (size_t i = 0; i < hashes.size(); ++i) {
    std::fill(media.begin(), media.end(), 0);
    ForEachHolder(hashes[i], [&](const HolderHit& hit) {
      if (i == 0) {
        at[hit.holder] = holders.size();
        holders.push_back(hit.holder);
        media.push_back(hit.media);
      } else if (auto it = at.find(hit.holder); it != at.end()) {
        media[it->second] = hit.media;
      }
    });
    bool any = false;
    for (size_t k = 0; k < holders.size(); ++k) {
      if (i == 0) out.push_back({Id(holders[k])});
      if (media[k] == 0 || (i > 0 && out[k].total() < i)) continue;  // run already ended
      uint32_t* counts[] = {&out[k].device, &out[k].host, &out[k].disk};
      ++*counts[static_cast<int>(FastestMedium(media[k]))];
      any = true;
    }
    if (!any) break;
  }
  std::sort(out.begin(), out.end(), [](const HolderOverlap& a, const HolderOverlap& b) {
    return HolderLess(a.holder, b.holder);
  });
  return out;
}

IndexStats PrefixIndex::Stats() const {
  IndexStats st;
  constexpr size_t kSlotBytes = sizeof(std::pair<const uint64_t, Block>) + 1;  // + control byte
  for (int i = 0; i < options_.shards; ++i) {
    const Shard& s = shards_[i];
    ReaderMutexLock l(&s.mu);
    st.blocks += s.blocks.size();
    st.bytes += s.blocks.capacity() * kSlotBytes + static_cast<uint64_t>(s.heap_bytes) +
                s.clock.size() * sizeof(ClockItem);
    st.evictions += s.evictions;
  }
  const uint32_t count = holder_count_.load(std::memory_order_acquire);
  st.bytes += ((count + kSlotsPerChunk - 1) / kSlotsPerChunk) * kSlotsPerChunk * sizeof(HolderSlot);
  for (HolderIndex h = 0; h < count; ++h) st.holders += IsLive(h) ? 1 : 0;
  st.entries = static_cast<uint64_t>(std::max<int64_t>(0, live_entries_.load()));
  st.stale_entries = static_cast<uint64_t>(std::max<int64_t>(0, stale_entries_.load()));
  return st;
}

void PrefixIndex::SweepShard(Shard& s) {
  MutexLock l(&s.mu);
  for (auto it = s.blocks.begin(); it != s.blocks.end();) {
    Block& b = it->second;
    const int64_t before = HeapBytes(b);
    auto dead = std::remove_if(b.entries.begin(), b.entries.end(),
                               [this](const Entry& e) { return IsStale(e); });
    stale_entries_.fetch_sub(b.entries.end() - dead, std::memory_order_relaxed);
    b.entries.erase(dead, b.entries.end());
    if (b.entries.size() <= 1) b.entries.shrink_to_fit();
    s.heap_bytes += HeapBytes(b) - before;
    if (b.entries.empty()) {
      s.blocks.erase(it++);
    } else {
      ++it;
    }
  }
  CompactClockLocked(s);
}

void PrefixIndex::Sweep() {
  for (int i = 0; i < options_.shards; ++i) SweepShard(shards_[i]);
}

void PrefixIndex::MaybeSweep() {
  const int64_t stale = stale_entries_.load(std::memory_order_relaxed);
  const int64_t floor = std::max<int64_t>(static_cast<int64_t>(options_.sweep_min_stale),
                                          live_entries_.load(std::memory_order_relaxed));
  if (stale <= floor || sweeping_.exchange(true, std::memory_order_acq_rel)) return;
  Sweep();
  sweeping_.store(false, std::memory_order_release);
}

}  // namespace kvstash::router
