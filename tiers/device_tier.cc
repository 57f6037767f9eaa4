#include "tiers/device_tier.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {
namespace {

// Bytes copied first to find a block's header (the scales of ~500 layers).
constexpr uint64_t kMaxHeaderPrefix = 4096;

}  // namespace

// `refs` and `live` are guarded by the tier's mu_.
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
      slots_(capacity_, options.slot_sizes) {
  stats_.name = options.name;
}

DeviceTier::~DeviceTier() = default;

uint64_t DeviceTier::Charge(uint64_t block_bytes) const {
  MutexLock lock(&mu_);
  return slots_.ClassSize(block_bytes);
}

absl::Status DeviceTier::Put(absl::string_view block) {
  absl::StatusOr<BlockHeader> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  if (SerializedBytes(*h) != block.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block has ", block.size(), " bytes, its header says ", SerializedBytes(*h)));
  }
  std::unique_ptr<Slot> slot;
  {
    MutexLock lock(&mu_);
    absl::StatusOr<std::unique_ptr<Slot>> s = slots_.Allocate(h->key, block.size(), options_.name);
    if (!s.ok()) return s.status();
    slot = *std::move(s);
  }
  slot->parent = h->parent;
  slot->priority = h->priority;
  // The slot is private until linked below, so the copy runs unlocked.
  absl::Status s = arena_->CopyIn(slot->offset, block.data(), block.size());
  MutexLock lock(&mu_);
  if (!s.ok()) {
    slots_.Abandon(std::move(slot));
    stats_.write_errors++;
    return s;
  }
  stats_.puts++;
  stats_.bytes_in += slot->bytes;
  slots_.Link(std::move(slot));
  return absl::OkStatus();
}

absl::StatusOr<BlockRef> DeviceTier::Get(const BlockKey& key) {
  Slot* slot = nullptr;
  {
    MutexLock lock(&mu_);
    slot = slots_.Pin(key);
    if (slot == nullptr) stats_.misses++;
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
    if (slot->live) slots_.Unlink(slot);
    return p.ok() ? absl::DataLossError("device tier: block under the wrong key") : p.status();
  }
  stats_.hits++;
  stats_.bytes_out += bytes.size();
  return BlockRef(std::move(bytes));
}

absl::StatusOr<DeviceTier::Export> DeviceTier::ExportBlock(const BlockKey& key) {
  Export e;
  {
    MutexLock lock(&mu_);
    Slot* slot = slots_.Pin(key);
    if (slot == nullptr) {
      stats_.misses++;
      return absl::NotFoundError(absl::StrCat("device tier: no block ", key.ToString()));
    }
    e = Export{std::make_unique<SlotLease>(this, slot),
               static_cast<const char*>(arena_->device_base()) + slot->offset,
               arena_->ipc_handle(),
               arena_->device(),
               slot->offset,
               slot->bytes,
               {}};
  }
  // The header is small and bounded by the geometry; read a prefix that
  // holds any header this node accepts, then cut it to size. The pin keeps
  // the slot from being reused meanwhile.
  std::string prefix(std::min<uint64_t>(e.length, kMaxHeaderPrefix), '\0');
  if (absl::Status s = arena_->CopyOut(e.offset, prefix.data(), prefix.size()); !s.ok()) return s;
  uint32_t header_bytes = 0;  // the header's own length field (BLOCK_FORMAT.md, offset 8)
  if (prefix.size() >= 12) std::memcpy(&header_bytes, prefix.data() + 8, 4);
  if (header_bytes > prefix.size() && header_bytes <= e.length) {  // a very deep model
    prefix.resize(header_bytes);
    if (absl::Status s = arena_->CopyOut(e.offset, prefix.data(), prefix.size()); !s.ok()) return s;
  }
  absl::StatusOr<BlockHeader> h = ParseHeader(prefix);
  if (!h.ok()) return h.status();
  prefix.resize(EncodedHeaderBytes(*h));
  e.header = std::move(prefix);
  return e;
}

void DeviceTier::Release(Slot* slot) {
  MutexLock lock(&mu_);
  slots_.Unpin(slot);
}

absl::Status DeviceTier::Erase(const BlockKey& key) {
  MutexLock lock(&mu_);
  if (!slots_.Erase(key)) {
    return absl::NotFoundError(absl::StrCat("device tier: no block ", key.ToString()));
  }
  stats_.erases++;
  return absl::OkStatus();
}

bool DeviceTier::Contains(const BlockKey& key) const {
  MutexLock lock(&mu_);
  return slots_.Contains(key);
}

std::vector<StoredBlock> DeviceTier::List() const {
  MutexLock lock(&mu_);
  return slots_.List();
}

TierStats DeviceTier::Stats() const {
  MutexLock lock(&mu_);
  TierStats s = stats_;
  s.capacity_bytes = capacity_;
  s.used_bytes = slots_.allocated_bytes();
  s.blocks = slots_.size();
  return s;
}

}  // namespace kvstash::tiers
