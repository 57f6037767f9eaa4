#include "tiers/device_tier.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {

// `refs` and `live` are guarded by the tier's mu_.
struct DeviceTier::Slot {
  BlockKey key;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::optional<BlockKey> parent;
  uint8_t priority = 0;
  int refs = 0;
  bool live = false;
};

class DeviceTier::SlotLease final : public BlockRef::Lease {
 public:
  SlotLease(DeviceTier* tier, Slot* slot) : tier_(tier), slot_(slot) {}
  ~SlotLease() override { tier_->Release(slot_); }

 private:
  DeviceTier* const tier_;
  Slot* const slot_;
};

absl::StatusOr<std::unique_ptr<DeviceTier>> DeviceTier::Create(const DeviceTierOptions& options) {
  if (options.capacity_bytes < SlotAllocator::kGranule) {
    return absl::InvalidArgumentError(absl::StrCat("device tier '", options.name, "': capacity ",
                                                   options.capacity_bytes, " is below ",
                                                   SlotAllocator::kGranule));
  }
  absl::StatusOr<std::unique_ptr<DeviceArena>> arena =
      CreateDeviceArena(options.device, options.capacity_bytes);
  if (!arena.ok()) return arena.status();
  return std::unique_ptr<DeviceTier>(new DeviceTier(options, std::move(*arena)));
}

DeviceTier::DeviceTier(const DeviceTierOptions& options, std::unique_ptr<DeviceArena> arena)
    : options_(options),
      arena_(std::move(arena)),
      capacity_(arena_->size() / SlotAllocator::kGranule * SlotAllocator::kGranule),
      allocator_(capacity_, options.slot_sizes) {
  stats_.name = options.name;
}

DeviceTier::~DeviceTier() {
  MutexLock lock(&mu_);
  KVSTASH_CHECK(retired_.empty());
}

uint64_t DeviceTier::Charge(uint64_t block_bytes) const {
  MutexLock lock(&mu_);
  return allocator_.ClassSize(block_bytes);
}

absl::Status DeviceTier::Put(absl::string_view block) {
  absl::StatusOr<BlockHeader> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  if (SerializedBytes(*h) != block.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block has ", block.size(), " bytes, its header says ", SerializedBytes(*h)));
  }
  auto slot = std::make_unique<Slot>();
  *slot = Slot{h->key, 0, block.size(), h->parent, h->priority, 0, false};
  {
    MutexLock lock(&mu_);
    std::optional<uint64_t> offset = allocator_.Allocate(block.size());
    if (!offset) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "device tier '", options_.name, "': no free slot for ", block.size(), " bytes (",
          allocator_.allocated_bytes(), " of ", capacity_, " bytes in use)"));
    }
    slot->offset = *offset;
  }
  // The slot is private until linked below, so the copy runs unlocked.
  absl::Status s = arena_->CopyIn(slot->offset, block.data(), block.size());
  MutexLock lock(&mu_);
  if (!s.ok()) {
    allocator_.Free(slot->offset, slot->bytes);
    stats_.write_errors++;
    return s;
  }
  slot->live = true;
  if (auto it = index_.find(slot->key); it != index_.end()) UnlinkLocked(it->second.get());
  stats_.puts++;
  stats_.bytes_in += slot->bytes;
  const BlockKey key = slot->key;
  index_.emplace(key, std::move(slot));
  return absl::OkStatus();
}

DeviceTier::Slot* DeviceTier::PinLocked(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    stats_.misses++;
    return nullptr;
  }
  it->second->refs++;
  return it->second.get();
}

absl::StatusOr<BlockRef> DeviceTier::Get(const BlockKey& key) {
  Slot* slot = nullptr;
  {
    MutexLock lock(&mu_);
    slot = PinLocked(key);
  }
  if (slot == nullptr)
    return absl::NotFoundError(absl::StrCat("device tier: no block ", key.ToString()));
  SlotLease pin(this, slot);
  std::string bytes(slot->bytes, '\0');
  if (absl::Status s = arena_->CopyOut(slot->offset, bytes.data(), bytes.size()); !s.ok()) return s;
  absl::StatusOr<ParsedBlock> p = ParseBlock(bytes);
  MutexLock lock(&mu_);
  if (!p.ok() || p->header.key != key) {
    stats_.checksum_failures++;
    if (slot->live) UnlinkLocked(slot);
    return p.ok() ? absl::DataLossError("device tier: block under the wrong key") : p.status();
  }
  stats_.hits++;
  stats_.bytes_out += bytes.size();
  return BlockRef(std::move(bytes));
}

absl::StatusOr<DeviceTier::Export> DeviceTier::ExportBlock(const BlockKey& key) {
  MutexLock lock(&mu_);
  Slot* slot = PinLocked(key);
  if (slot == nullptr)
    return absl::NotFoundError(absl::StrCat("device tier: no block ", key.ToString()));
  return Export{std::make_unique<SlotLease>(this, slot),
                static_cast<const char*>(arena_->device_base()) + slot->offset,
                arena_->ipc_handle(),
                arena_->device(),
                slot->offset,
                slot->bytes};
}

void DeviceTier::Release(Slot* slot) {
  MutexLock lock(&mu_);
  KVSTASH_CHECK(slot->refs > 0);
  if (--slot->refs > 0 || slot->live) return;
  allocator_.Free(slot->offset, slot->bytes);
  retired_.erase(slot);
}

void DeviceTier::UnlinkLocked(Slot* slot) {
  slot->live = false;
  auto it = index_.find(slot->key);
  KVSTASH_CHECK(it != index_.end() && it->second.get() == slot);
  std::unique_ptr<Slot> owned = std::move(it->second);
  index_.erase(it);
  if (owned->refs > 0) {
    retired_.emplace(slot, std::move(owned));
  } else {
    allocator_.Free(slot->offset, slot->bytes);
  }
}

absl::Status DeviceTier::Erase(const BlockKey& key) {
  MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("device tier: no block ", key.ToString()));
  }
  UnlinkLocked(it->second.get());
  stats_.erases++;
  return absl::OkStatus();
}

bool DeviceTier::Contains(const BlockKey& key) const {
  MutexLock lock(&mu_);
  return index_.contains(key);
}

std::vector<StoredBlock> DeviceTier::List() const {
  MutexLock lock(&mu_);
  std::vector<StoredBlock> out;
  for (const auto& [key, s] : index_)
    out.push_back(StoredBlock{key, s->parent, s->priority, s->bytes});
  return out;
}

TierStats DeviceTier::Stats() const {
  MutexLock lock(&mu_);
  TierStats s = stats_;
  s.capacity_bytes = capacity_;
  s.used_bytes = allocator_.allocated_bytes();
  s.blocks = index_.size();
  return s;
}

}  // namespace kvstash::tiers
