// The host tier: one shared-memory arena (memfd, tiers/shm_arena.h) per
// node, carved into slots by size class (tiers/slot_allocator.h).
//
// Writes are reserve-then-commit: Reserve() hands out a private writable
// slot; nothing can see it until Commit() validates it (header, size, key,
// and with verify_on_commit the payload checksum, since the writer may be
// another process) and links it under its key in one step under the mutex.
// A Reservation destroyed without Commit() releases its slot, so a
// half-written block is never visible.
//
// Reads are refcounted: Get()/Map() pin the slot, and the slot's memory is
// freed only when it has been erased or replaced AND its last reader has
// released it, so eviction never frees a slot being read. Map() also returns
// the fd/offset/length another process needs to map the block itself.
//
// Ownership: the tier owns the arena. Every BlockRef, MappedBlock and
// Reservation refers back to the tier. REQUIRES: all of them are destroyed
// before the tier.
// Threading model: thread-safe (see tier.h); one mutex guards the index and
// the allocator; copies and checksums run outside it.
#ifndef KVSTASH_TIERS_HOST_TIER_H_
#define KVSTASH_TIERS_HOST_TIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "tiers/shm_arena.h"
#include "tiers/slot_table.h"
#include "tiers/tier.h"

namespace kvstash::tiers {

struct HostTierOptions {
  std::string name = "host";
  uint64_t capacity_bytes = uint64_t{4} << 30;
  // Serialised block sizes to give exact-fit slot classes (e.g. the
  // SerializedBytes() of each served geometry); others use geometric classes.
  std::vector<uint64_t> slot_sizes;
  // A block is verified when it enters the tier: its writer may be another
  // process. After the commit only this process can write the arena (clients
  // map it read-only), so re-hashing on every read is optional: it costs
  // ~40% of host get bandwidth (kvstash bench tiers, host_get_verified).
  bool verify_on_commit = true;  // re-hash the payload in Reservation::Commit()
  bool verify_reads = false;     // re-hash the payload on every Get()/Map()/ReadInto()
  bool prefault = false;         // populate the arena's pages at creation
};

class HostTier final : public Tier {
 public:
  using Slot = ArenaSlot;

  // Where a block lives in the arena, for another process to map.
  struct Location {
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  // A slot reserved for one block. Move-only RAII handle.
  class Reservation {
   public:
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&&) = delete;
    ~Reservation();

    absl::Span<char> data() const;
    // Validates and publishes the block. On failure the slot is released.
    [[nodiscard]] absl::Status Commit() &&;

   private:
    friend class HostTier;
    Reservation(HostTier* tier, std::unique_ptr<Slot> slot);

    HostTier* tier_;
    std::unique_ptr<Slot> slot_;
  };

  // A pinned, verified block plus its location in the arena.
  struct MappedBlock {
    BlockRef ref;
    Location location;
  };

  static absl::StatusOr<std::unique_ptr<HostTier>> Create(const HostTierOptions& options);
  ~HostTier() override;

  // Reserves a slot of exactly `bytes` serialised bytes for `key`.
  // ResourceExhausted when no slot of that class is free.
  absl::StatusOr<Reservation> Reserve(const BlockKey& key, uint64_t bytes);
  absl::StatusOr<MappedBlock> Map(const BlockKey& key);
  // Read-write (this process and tests); size sealed.
  int fd() const { return arena_->fd(); }
  // What other processes get: the arena through a read-only file description.
  int reader_fd() const { return arena_->read_only_fd(); }
  uint64_t arena_bytes() const { return arena_->size(); }
  // The whole arena in this process, for registering it with a transport so
  // that peers read committed blocks by RMA at the offsets Map() reports
  // (pinning each while it is read). Read-only: only the tier writes it.
  absl::Span<const char> arena() const { return {arena_->base(), arena_->size()}; }

  // Tier.
  absl::string_view name() const override { return options_.name; }
  uint64_t capacity_bytes() const override { return capacity_; }
  uint64_t Charge(uint64_t block_bytes) const override;
  absl::Status Put(absl::string_view block) override;
  absl::StatusOr<BlockRef> Get(const BlockKey& key) override;
  // Verifies while it copies, chunk by chunk, so the block is read from
  // memory once.
  absl::StatusOr<size_t> ReadInto(const BlockKey& key, absl::Span<char> dst) override;
  absl::Status Erase(const BlockKey& key) override;
  bool Contains(const BlockKey& key) const override;
  std::vector<StoredBlock> List() const override;
  TierStats Stats() const override;

 private:
  class SlotLease;

  HostTier(const HostTierOptions& options, std::unique_ptr<ShmArena> arena);
  absl::Status Commit(std::unique_ptr<Slot> slot, bool verify_payload);
  // Pins the slot under `key`; with `verify`, checks it and counts the hit.
  absl::StatusOr<MappedBlock> Pin(const BlockKey& key, bool verify, Slot** pinned = nullptr);
  void CountHit(uint64_t bytes);
  absl::Status VerifyFailed(Slot* slot, absl::Status why);
  void Release(Slot* slot);
  // Returns an uncommitted reservation's bytes.
  void Abandon(std::unique_ptr<Slot> slot);
  absl::string_view Bytes(const Slot& slot) const;

  // Const after construction.
  const HostTierOptions options_;
  const std::unique_ptr<ShmArena> arena_;
  const uint64_t capacity_;

  mutable Mutex mu_;
  SlotTable slots_ ABSL_GUARDED_BY(mu_);
  TierStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_HOST_TIER_H_
