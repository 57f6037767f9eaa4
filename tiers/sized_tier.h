// A size-only tier: stands in for a host, device or disk tier of any
// capacity (hundreds of GiB to TiBs) without holding payloads, so that
// `kvstash replay` can drive TierManager's real placement, eviction, spill
// and promotion logic over a whole trace on a small machine.
//
// It stores header-only blocks (TierManager::PutSized): each header declares
// the payload size the block has in its format, and the tier charges and
// counts that full serialised size (SerializedBytes), exactly as the tier it
// stands in for would: an arena tier (host, device) allocates a slot of the
// size class from a real SlotAllocator over its capacity, so slot rounding
// and fragmentation are the real ones; a disk tier charges bytes.
// Every counter in TierStats (bytes_in, bytes_out, ...) is in those declared
// bytes. A block with a payload is refused (InvalidArgument): a size-only
// tier cannot serve bytes it never held.
//
// Threading model: thread-safe (tier.h); one mutex guards everything, and
// nothing here does I/O.
#ifndef KVSTASH_TIERS_SIZED_TIER_H_
#define KVSTASH_TIERS_SIZED_TIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "common/mutex.h"
#include "tiers/slot_allocator.h"
#include "tiers/tier.h"

namespace kvstash::tiers {

struct SizedTierOptions {
  std::string name = "host";
  uint64_t capacity_bytes = 0;
  // Arena tiers (host, device) allocate slots by size class; the disk tier
  // charges bytes as they are.
  bool arena = true;
  // As HostTierOptions::slot_sizes: exact-fit classes for these sizes.
  std::vector<uint64_t> slot_sizes;
};

class SizedTier final : public Tier {
 public:
  explicit SizedTier(SizedTierOptions options);

  absl::string_view name() const override { return options_.name; }
  uint64_t capacity_bytes() const override { return options_.capacity_bytes; }
  uint64_t Charge(uint64_t block_bytes) const override;
  absl::Status Put(absl::string_view block) override;
  // The header-only block.
  absl::StatusOr<BlockRef> Get(const BlockKey& key) override;
  absl::Status Erase(const BlockKey& key) override;
  bool Contains(const BlockKey& key) const override;
  std::vector<StoredBlock> List() const override;
  TierStats Stats() const override;

 private:
  struct Entry {
    std::string header;   // the header-only block as put
    StoredBlock info;     // info.bytes: declared serialised size
    uint64_t offset = 0;  // slot offset (arena tiers)
  };
  void ReleaseLocked(const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SizedTierOptions options_;
  mutable Mutex mu_;
  SlotAllocator slots_ ABSL_GUARDED_BY(mu_);
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;  // charged bytes
  absl::flat_hash_map<BlockKey, Entry> blocks_ ABSL_GUARDED_BY(mu_);
  TierStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_SIZED_TIER_H_
