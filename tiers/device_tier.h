// The device tier: an HBM arena per GPU (tiers/device_arena.h, cudaMalloc'd
// once) carved into slots by size class (tiers/slot_allocator.h), shared
// with engines on the same GPU through CUDA IPC (Export()).
//
// Put copies the serialised block host -> device into a fresh slot and links
// it; Get copies it back and verifies it on the host. Slots are refcounted
// like the host tier's: a slot being copied out or exported is freed only
// after it has been erased or replaced and released by its last user.
//
// Without a usable GPU, or in a build without CUDA, Create() returns
// Unavailable naming the reason; TierManager simply runs without this tier.
//
// Ownership: the tier owns the arena. REQUIRES: every Export lease is
// destroyed before the tier.
// Threading model: thread-safe (tier.h); copies run outside the mutex.
#ifndef KVSTASH_TIERS_DEVICE_TIER_H_
#define KVSTASH_TIERS_DEVICE_TIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "tiers/device_arena.h"
#include "tiers/slot_table.h"
#include "tiers/tier.h"

namespace kvstash::tiers {

struct DeviceTierOptions {
  std::string name = "device";
  int device = 0;
  uint64_t capacity_bytes = 0;
  std::vector<uint64_t> slot_sizes;  // as HostTierOptions::slot_sizes
};

class DeviceTier final : public Tier {
 public:
  // What another process on the same GPU needs to read one block:
  // cudaIpcOpenMemHandle(ipc_handle), then [offset, offset + length); in
  // this process, `device_ptr` points at the block.
  struct Export {
    std::unique_ptr<BlockRef::Lease> pin;  // keeps the slot alive
    const void* device_ptr = nullptr;
    std::string ipc_handle;
    int device = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string header;  // the block's encoded header, copied to the host
  };

  static absl::StatusOr<std::unique_ptr<DeviceTier>> Create(const DeviceTierOptions& options);
  ~DeviceTier() override;

  // Pins the block and copies its header out (a few hundred bytes).
  absl::StatusOr<Export> ExportBlock(const BlockKey& key);
  int device() const { return arena_->device(); }

  // Tier.
  absl::string_view name() const override { return options_.name; }
  uint64_t capacity_bytes() const override { return capacity_; }
  uint64_t Charge(uint64_t block_bytes) const override;
  absl::Status Put(absl::string_view block) override;
  absl::StatusOr<BlockRef> Get(const BlockKey& key) override;
  absl::Status Erase(const BlockKey& key) override;
  bool Contains(const BlockKey& key) const override;
  std::vector<StoredBlock> List() const override;
  TierStats Stats() const override;

 private:
  using Slot = ArenaSlot;
  class SlotLease;

  DeviceTier(const DeviceTierOptions& options, std::unique_ptr<DeviceArena> arena);
  void Release(Slot* slot);

  // Const after construction.
  const DeviceTierOptions options_;
  const std::unique_ptr<DeviceArena> arena_;
  const uint64_t capacity_;

  mutable Mutex mu_;
  SlotTable slots_ ABSL_GUARDED_BY(mu_);
  TierStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_DEVICE_TIER_H_
