// PrefixIndex: which holders (engine ranks, kvstash nodes) hold which KV
// blocks, and in which medium, built from KV events (types.h).
//
// Shape. DESIGN.md asks for a radix tree keyed by chained block hashes. A
// chained hash already names its whole prefix, so the tree's path from the
// root is implied by the key and the tree flattens into a hash map
// hash -> holders: following a request's prefix is one lookup per block, and
// no parent pointers or child lists are stored. Event parent_hash is not
// needed and is ignored.
//
// Per block the index keeps a small list of (holder, generation, media mask);
// a holder may hold one block in several media. Holders are interned to a
// dense HolderIndex. Each holder carries a generation number: AllBlocksCleared
// and RemoveHolder bump it in O(1), which makes every entry stamped with an
// older generation invisible at once. Stale entries are purged lazily when a
// writer touches their block, and by Sweep() (run automatically once stale
// entries outnumber live ones).
//
// Overlap (Overlaps(), and the per-rank walk of placement.h): for one holder,
// walk the request's hashes from the first; each block counts once, toward the
// fastest medium the holder holds it in; the walk stops at the first block the
// holder does not hold. So device + host + disk is that holder's consecutive
// prefix.
//
// Bounded memory: with max_blocks > 0 each shard holds at most
// ceil(max_blocks / shards) blocks. Beyond that the least-recently-stored block
// is evicted, approximately: a per-shard CLOCK over blocks in creation order,
// where storing an existing block again gives it a second chance. An eviction
// drops the block for every holder and is counted in Stats().evictions.
//
// Thread safety: every method is safe to call concurrently. Blocks live in
// `shards` shards, each with its own reader/writer mutex; queries take only
// the reader locks of the shards they visit, one at a time, and holder
// lookups go through a sharded directory. Events and queries never hold two
// locks at once:
// holder state (generation, liveness, block count) is one atomic word, so a
// Clear or RemoveHolder racing with that holder's stores needs no lock and
// keeps the counts exact. Events of one holder should come from one thread
// (one subscription), or their order is whatever the threads make it. A query
// running concurrently with writers sees each block as of some moment, not
// one snapshot of the whole index.
#ifndef KVSTASH_SERVICE_ROUTER_PREFIX_INDEX_H_
#define KVSTASH_SERVICE_ROUTER_PREFIX_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "service/router/types.h"

namespace kvstash::router {

// A holder's interned number. Stable for the index's lifetime: a holder that
// is removed and later publishes again gets the same number back.
using HolderIndex = uint32_t;

// Media masks: bit (1 << Medium).
inline constexpr uint8_t MediumBit(Medium m) { return uint8_t{1} << static_cast<int>(m); }
inline constexpr uint8_t kAllMedia = (1 << kMediumCount) - 1;
// The fastest medium in a non-empty mask.
Medium FastestMedium(uint8_t media);

struct PrefixIndexOptions {
  // Most blocks kept before evicting (0: unbounded). A block costs about
  // 120 bytes (measured by `kvstash bench router`), more when many holders
  // share it.
  size_t max_blocks = size_t{1} << 24;
  int shards = 64;
  // Sweep() runs by itself once stale entries exceed max(this, live entries).
  size_t sweep_min_stale = 4096;
};

struct HolderStatus {
  HolderId holder;
  int64_t blocks = 0;    // blocks it holds in at least one medium
  double last_seen = 0;  // NaN until the first Touch (or expiry check)
  friend bool operator==(const HolderStatus&, const HolderStatus&) = default;
};

struct HolderOverlap {
  HolderId holder;
  uint32_t device = 0;
  uint32_t host = 0;
  uint32_t disk = 0;
  uint32_t total() const { return device + host + disk; }
  friend bool operator==(const HolderOverlap&, const HolderOverlap&) = default;
};

struct IndexStats {
  uint64_t blocks = 0;         // hashes with an entry (incl. not yet swept stale ones)
  uint64_t entries = 0;        // live (block, holder) pairs
  uint64_t stale_entries = 0;  // estimate: invisible entries awaiting a purge
  uint64_t bytes = 0;          // estimate of the memory the index uses
  uint64_t evictions = 0;      // blocks dropped for max_blocks
  uint64_t holders = 0;        // live holders
};

// One live entry, as the placement scorer sees it.
struct HolderHit {
  HolderIndex holder;
  uint8_t media;  // mask of MediumBit()s, never 0
  bool node;      // the holder is a kvstash node (dp_rank == kNodeRank)
};

class PrefixIndex {
 public:
  explicit PrefixIndex(PrefixIndexOptions options = {});
  ~PrefixIndex();
  PrefixIndex(const PrefixIndex&) = delete;
  PrefixIndex& operator=(const PrefixIndex&) = delete;

  // Applies one batch: stored adds (holder, medium) to each hash (medium
  // nullopt = kDevice); removed drops that medium (nullopt: every medium);
  // cleared drops all of the holder's entries. Registers the holder if new.
  // The whole batch is validated first: an InvalidArgument naming the field
  // leaves the index unchanged.
  [[nodiscard]] absl::Status Apply(const EventBatch& batch);
  // Apply, then Touch(batch.holder, now).
  [[nodiscard]] absl::Status Apply(const EventBatch& batch, double now);

  // Drops the holder and all of its entries in O(1). False if it is unknown.
  bool RemoveHolder(const HolderId& holder);
  // Records that the holder was alive at `now` (seconds, any epoch);
  // registers it if new.
  [[nodiscard]] absl::Status Touch(const HolderId& holder, double now);
  // Removes every holder silent for longer than `ttl` and returns them. A
  // holder never touched starts its grace period at the first call.
  std::vector<HolderId> ExpireSilent(double now, double ttl);

  // Live holders, sorted by (worker, dp_rank).
  std::vector<HolderStatus> Holders() const;
  // For each holder that holds hashes[0]: its overlap as defined above, from
  // its own entries only. Sorted by (worker, dp_rank).
  std::vector<HolderOverlap> Overlaps(absl::Span<const uint64_t> hashes) const;
  IndexStats Stats() const;
  // Purges stale entries and empty blocks in every shard (one at a time).
  void Sweep();

  // ---- Read access for the placement scorer (placement.h). ----
  // The live holder's number, or nullopt.
  std::optional<HolderIndex> Find(const HolderId& holder) const;
  // REQUIRES: `h` came from this index.
  const HolderId& Id(HolderIndex h) const;
  bool IsLive(HolderIndex h) const;
  // Live engine ranks (dp_rank >= 0) whose worker is `worker`.
  std::vector<HolderIndex> LiveRanksOfWorker(const std::string& worker) const;
  // All live engine ranks, in no particular order.
  std::vector<HolderIndex> LiveEngineRanks() const;
  // Changes whenever a holder appears, disappears or comes back.
  uint64_t holders_version() const { return holders_version_.load(std::memory_order_acquire); }
  // Calls fn for every live entry of `hash`, under that shard's reader lock.
  // fn must not call back into the index.
  void ForEachHolder(uint64_t hash, absl::FunctionRef<void(const HolderHit&)> fn) const;

 private:
  // One holder's entry on one block. 12 bytes; one is stored inline.
  struct Entry {
    HolderIndex holder;
    uint32_t generation;  // live iff equal to the holder's current generation
    uint8_t media;        // MediumBit()s; kNodeFlag marks a kvstash node
  };
  struct Block {
    absl::InlinedVector<Entry, 1> entries;
    uint32_t tag = 0;         // matches the block's CLOCK queue item
    bool referenced = false;  // CLOCK second-chance bit: stored again
  };
  struct ClockItem {
    uint64_t hash;
    uint32_t tag;
  };
  struct alignas(64) Shard {
    mutable Mutex mu;
    absl::flat_hash_map<uint64_t, Block> blocks ABSL_GUARDED_BY(mu);
    std::deque<ClockItem> clock ABSL_GUARDED_BY(mu);  // creation order
    uint32_t next_tag ABSL_GUARDED_BY(mu) = 0;
    int64_t heap_bytes ABSL_GUARDED_BY(mu) = 0;  // entry lists grown past inline
    uint64_t evictions ABSL_GUARDED_BY(mu) = 0;
  };
  struct HolderSlot {
    // Set before the slot is published, then constant.
    HolderId id;
    bool node = false;
    // Generation, live bit and live block count in one word, so that a
    // Clear (new generation, count to 0) and a store racing with it agree on
    // whether the new entry counts, without a lock. See StateOf().
    std::atomic<uint64_t> state{0};
    std::atomic<double> last_seen{0};
  };
  struct WorkerRecord {
    std::vector<std::pair<int32_t, HolderIndex>> holders;  // by dp_rank
  };
  struct alignas(64) DirShard {
    mutable Mutex mu;
    absl::flat_hash_map<std::string, WorkerRecord> workers ABSL_GUARDED_BY(mu);
  };

  static constexpr uint8_t kNodeFlag = 0x80;
  static constexpr size_t kSlotsPerChunk = 1024;
  static constexpr size_t kMaxChunks = 4096;  // 4M holders
  static constexpr size_t kDirShards = 16;

  static int64_t HeapBytes(const Block& b);
  static uint32_t Generation(const HolderSlot& slot) {
    return static_cast<uint32_t>(slot.state.load(std::memory_order_acquire) >> 32);
  }
  absl::Status Validate(const EventBatch& batch) const;
  absl::StatusOr<HolderIndex> Intern(const HolderId& holder);
  std::optional<HolderIndex> Lookup(const HolderId& holder) const;  // live or not
  DirShard& DirOf(const std::string& worker) const;
  HolderSlot& Slot(HolderIndex h) const;
  Shard& ShardOf(uint64_t hash) const;
  bool IsStale(const Entry& e) const;
  // Holder state transitions (all lock-free):
  void Revive(HolderSlot& slot);  // live again, if it was not
  // Counts a new entry of `generation`; false if that generation is gone
  // (the entry is stale from birth).
  bool CountEntry(HolderSlot& slot, uint32_t generation);
  // Uncounts an entry of `generation`; false if it was already stale.
  bool UncountEntry(HolderSlot& slot, uint32_t generation);
  // Starts a new generation: every entry goes stale at once. With `remove`
  // the holder goes too. False if `remove` and it was not live.
  bool DropHolderEntries(HolderSlot& slot, bool remove);
  void ApplyEvent(HolderIndex h, HolderSlot& slot, const KvEvent& event);
  void StoreOne(uint64_t hash, HolderIndex h, HolderSlot& slot, uint8_t bits);
  void RemoveOne(uint64_t hash, HolderIndex h, HolderSlot& slot, uint8_t bits);
  // Forgets an entry that is being erased (counts, stale estimate).
  void ForgetEntry(const Entry& e);
  void EraseBlockLocked(Shard& shard, absl::flat_hash_map<uint64_t, Block>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void EvictLocked(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void CompactClockLocked(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void MaybeSweep();
  void SweepShard(Shard& shard);

  // Constant after construction.
  const PrefixIndexOptions options_;
  const size_t shard_limit_;  // blocks per shard, 0: unbounded
  std::unique_ptr<Shard[]> shards_;
  std::unique_ptr<DirShard[]> dir_;
  std::unique_ptr<std::atomic<HolderSlot*>[]> chunks_;

  // Holder creation (rare) is serialised; lookups go through dir_.
  Mutex alloc_mu_;
  std::atomic<uint32_t> holder_count_{0};
  std::atomic<uint64_t> holders_version_{0};
  std::atomic<int64_t> live_entries_{0};
  std::atomic<int64_t> stale_entries_{0};
  std::atomic<bool> sweeping_{false};
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_PREFIX_INDEX_H_
