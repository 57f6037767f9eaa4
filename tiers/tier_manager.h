// TierManager: the block store over an ordered list of tiers, fastest first
// (device, host, disk), DESIGN.md "Tiers".
//
// - Put converts the block to the storage format (nvfp4 unless configured
//   otherwise; tiers/convert.h) and stores it in the first enabled tier
//   (capacity > 0) that can make room, evicting there as needed. A put fails
//   for lack of space only when every tier is full of pinned or moving
//   blocks.
// - Eviction picks victims per tier by EvictionOrder (LRU within priority
//   class, leaves before parents, never pinned). An evicted block spills to
//   the next tier (kSpillOnEvict), unless that tier already holds a copy;
//   with kWriteThrough every put also writes all lower tiers, so eviction
//   only drops the faster copy. A tier with `admission` set (the disk)
//   accepts a block only once it has been hit `admit_after_hits` times.
// - Lookup returns the longest prefix of the keys held in any tier and the
//   fastest tier of each. Get reads from the fastest tier holding the block,
//   converts to the format asked for, and promotes the block into the
//   fastest tier (kIfFree: only into free space; kEvict: evicting unpinned
//   blocks there, which spill down). A block that fails verification is a
//   miss, counted by its tier, and dropped; another tier's copy may serve it.
// - Pin/Unpin (counted) keep a block in every tier it is in.
//
// Ownership: the manager owns its tiers. Env (clock) must outlive it.
// Threading model: thread-safe. One mutex guards the index; it is never held
// across tier I/O: a block being moved is marked busy in the tiers involved
// (neither evictable nor erasable until the move ends), the lock is
// dropped, the data moves, and the index is updated under the lock again.
// A Get racing an eviction retries from the index. Erase waits for moves of
// that block to finish.
#ifndef KVSTASH_TIERS_TIER_MANAGER_H_
#define KVSTASH_TIERS_TIER_MANAGER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/env.h"
#include "common/mutex.h"
#include "kernels/codec.h"
#include "tiers/block_index.h"
#include "tiers/tier.h"

namespace kvstash::tiers {

enum class WritePolicy : uint8_t { kSpillOnEvict = 0, kWriteThrough = 1 };
enum class PromotePolicy : uint8_t { kNever = 0, kIfFree = 1, kEvict = 2 };

struct TierConfig {
  std::unique_ptr<Tier> tier;
  bool admission = false;  // apply admit_after_hits (set for the disk tier)
};

struct TierManagerOptions {
  kernels::Format storage_format = kernels::Format::kNvfp4;
  WritePolicy write = WritePolicy::kSpillOnEvict;
  PromotePolicy promote = PromotePolicy::kEvict;
  uint32_t admit_after_hits = 1;  // 0 admits every block
  // Told of every copy that lands in or leaves a tier, including the copies
  // found at start (the node's KV events). Runs with the manager's lock
  // held: it must be quick (queue the change) and must not call back in.
  CopyObserver on_copy_change;
};

struct PutRequest {
  BlockKey key;
  std::optional<BlockKey> parent;
  uint8_t priority = 0;
  kernels::KvGeometry geometry;
  kernels::Format format = kernels::Format::kBf16;  // of `payload`
  absl::string_view payload;
  absl::Span<const float> scales;  // `payload`'s global scales (nvfp4 g_dec, fp8 s)
  // Calibrated scales for the storage format; empty: computed per block.
  absl::Span<const float> storage_scales;
};

struct LookupResult {
  size_t prefix = 0;       // keys[0, prefix) are held
  std::vector<int> tiers;  // fastest tier index of each of them
};

struct GetResult {
  BlockHeader header;  // describes `payload` (format, scales, size, checksum)
  std::string payload;
  int tier = -1;  // where it was found
};

// A stored block as its tier holds it (serialised, in the storage format).
struct ReadResult {
  BlockRef block;  // keeps the bytes alive while held
  int tier = -1;   // where it was found
};

// A block known only by its size (PutSized): what `kvstash replay` drives
// through the manager's real placement, eviction, spill and promotion logic
// without writing payloads. Its copies are header-only blocks (the header
// declares the payload size the block would have in the storage format) and
// are charged at that full size, so only tiers that store headers alone
// (tiers/sized_tier.h) accept them.
struct SizedPutRequest {
  BlockKey key;
  std::optional<BlockKey> parent;
  uint8_t priority = 0;
  kernels::KvGeometry geometry;
};

struct TierManagerStats {
  struct PerTier {
    TierStats tier;           // the tier's own counters
    uint64_t evictions = 0;   // blocks evicted from this tier
    uint64_t spills = 0;      // of which written into a lower tier
    uint64_t promotions = 0;  // blocks promoted into this tier
    uint64_t admissions_refused = 0;
  };
  std::vector<PerTier> tiers;
  uint64_t blocks = 0;  // distinct blocks held
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class TierManager {
 public:
  // Rebuilds the index from what persistent tiers already hold. REQUIRES:
  // 1 to kMaxTiers tiers.
  static absl::StatusOr<std::unique_ptr<TierManager>> Create(const TierManagerOptions& options,
                                                             std::vector<TierConfig> tiers,
                                                             const Env& env);
  TierManager(const TierManager&) = delete;
  TierManager& operator=(const TierManager&) = delete;

  // Idempotent: a key already held is only touched (keys name contents).
  [[nodiscard]] absl::Status Put(const PutRequest& request);
  // Stores a size-only block (SizedPutRequest); idempotent like Put.
  [[nodiscard]] absl::Status PutSized(const SizedPutRequest& request);
  LookupResult Lookup(absl::Span<const BlockKey> keys) const;
  // `format`: what to return; nullopt returns the stored format as is.
  [[nodiscard]] absl::StatusOr<GetResult> Get(const BlockKey& key,
                                              std::optional<kernels::Format> format);
  // Get without the conversion: the stored bytes from the fastest tier
  // holding the block (counted as a hit, LRU refreshed, promoted per policy).
  // NotFound on a miss (counted). Get is Read plus parse and convert.
  [[nodiscard]] absl::StatusOr<ReadResult> Read(const BlockKey& key);
  // A read that bypassed Get (a zero-copy view of a tier's memory): refreshes
  // the block's LRU position and counts the hit. No-op for an unknown key.
  void NoteRead(const BlockKey& key);
  [[nodiscard]] absl::Status Erase(const BlockKey& key);
  [[nodiscard]] absl::Status Pin(const BlockKey& key);
  [[nodiscard]] absl::Status Unpin(const BlockKey& key);
  TierManagerStats Stats() const;

  int tier_count() const { return static_cast<int>(tiers_.size()); }
  kernels::Format storage_format() const { return options_.storage_format; }
  Tier* tier(int i) const { return tiers_[i].tier.get(); }

 private:
  struct Counters {
    uint64_t evictions = 0, spills = 0, promotions = 0, admissions_refused = 0;
  };
  enum class Room : uint8_t { kIfFree, kEvict };

  TierManager(const TierManagerOptions& options, std::vector<TierConfig> tiers, const Env& env);
  absl::Status Load();
  // `bytes`: the block's serialised size (block.size() unless size-only).
  absl::Status Insert(const BlockHeader& header, absl::string_view block, uint64_t bytes);
  // Writes `block` into tier t, making room there per `room` (evicting and
  // spilling victims). OK when tier t already holds or is receiving it.
  absl::Status PlaceIn(int t, const BlockKey& key, absl::string_view block, Room room);
  absl::Status PlaceFrom(int first, const BlockKey& key, absl::string_view block);
  // Picks victims in tier t until `charge` fits (at least `min_victims`).
  bool ReserveLocked(int t, uint64_t charge, int min_victims, Room room,
                     std::vector<BlockKey>* victims) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves one victim out of tier t (spilling it if needed), then drops it there.
  void Evict(int t, const BlockKey& key);
  void DropCopy(int t, const BlockKey& key);
  void WriteDown(int from, const BlockKey& key, absl::string_view block);
  bool AdmitsLocked(int t, const IndexEntry& e) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int NextEnabled(int t) const;
  void AfterHit(int t, const BlockKey& key, absl::string_view block);

  // Const after construction.
  const TierManagerOptions options_;
  const std::vector<TierConfig> tiers_;
  const Env env_;

  mutable Mutex mu_;
  CondVar moved_;  // signalled whenever a busy bit clears
  BlockIndex index_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> charged_ ABSL_GUARDED_BY(mu_);  // per tier: held + reserved
  std::vector<Counters> counters_ ABSL_GUARDED_BY(mu_);
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_TIER_MANAGER_H_
