#include "tiers/host_tier.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {

// One slot of the arena. `refs` and `live` are guarded by the tier's mu_;
// the other fields are fixed once the slot is committed.
class HostTier::SlotLease final : public BlockRef::Lease {
 public:
  SlotLease(HostTier* tier, Slot* slot) : tier_(tier), slot_(slot) {}
  ~SlotLease() override { tier_->Release(slot_); }

 private:
  HostTier* const tier_;
  Slot* const slot_;
};

HostTier::Reservation::Reservation(HostTier* tier, std::unique_ptr<Slot> slot)
    : tier_(tier), slot_(std::move(slot)) {}

HostTier::Reservation::Reservation(Reservation&& other) noexcept
    : tier_(other.tier_), slot_(std::move(other.slot_)) {}

HostTier::Reservation::~Reservation() {
  if (slot_ != nullptr) tier_->Abandon(std::move(slot_));
}

absl::Span<char> HostTier::Reservation::data() const {
  KVSTASH_CHECK(slot_ != nullptr);
  return absl::MakeSpan(tier_->arena_->base() + slot_->offset, slot_->bytes);
}

absl::Status HostTier::Reservation::Commit() && {
  KVSTASH_CHECK(slot_ != nullptr);
  return tier_->Commit(std::move(slot_), tier_->options_.verify_on_commit);
}

absl::StatusOr<std::unique_ptr<HostTier>> HostTier::Create(const HostTierOptions& options) {
  if (options.capacity_bytes < SlotAllocator::kGranule) {
    return absl::InvalidArgumentError(absl::StrCat("host tier '", options.name, "': capacity ",
                                                   options.capacity_bytes, " is below ",
                                                   SlotAllocator::kGranule, " bytes"));
  }
  const uint64_t bytes = options.capacity_bytes / SlotAllocator::kGranule * SlotAllocator::kGranule;
  absl::StatusOr<std::unique_ptr<ShmArena>> arena =
      ShmArena::Create(absl::StrCat("kvstash-", options.name), bytes, options.prefault);
  if (!arena.ok()) return arena.status();
  return std::unique_ptr<HostTier>(new HostTier(options, std::move(*arena)));
}

HostTier::HostTier(const HostTierOptions& options, std::unique_ptr<ShmArena> arena)
    : options_(options),
      arena_(std::move(arena)),
      capacity_(arena_->size()),
      slots_(capacity_, options.slot_sizes) {
  stats_.name = options.name;
}

HostTier::~HostTier() = default;

uint64_t HostTier::Charge(uint64_t block_bytes) const {
  MutexLock lock(&mu_);
  return slots_.ClassSize(block_bytes);
}

absl::StatusOr<HostTier::Reservation> HostTier::Reserve(const BlockKey& key, uint64_t bytes) {
  if (bytes == 0) return absl::InvalidArgumentError("cannot reserve an empty block");
  MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<Slot>> slot = slots_.Allocate(key, bytes, options_.name);
  if (!slot.ok()) return slot.status();
  return Reservation(this, *std::move(slot));
}

absl::Status HostTier::Commit(std::unique_ptr<Slot> slot, bool verify_payload) {
  absl::StatusOr<ParsedBlock> parsed =
      ParseBlock(Bytes(*slot), verify_payload ? Verify::kPayload : Verify::kHeaderOnly);
  absl::Status status = parsed.status();
  if (status.ok() && SerializedBytes(parsed->header) != slot->bytes) {
    status = absl::InvalidArgumentError(absl::StrCat("block has ", SerializedBytes(parsed->header),
                                                     " bytes, reserved ", slot->bytes));
  } else if (status.ok() && parsed->header.key != slot->key) {
    status = absl::InvalidArgumentError(absl::StrCat("block key ", parsed->header.key.ToString(),
                                                     " != reserved ", slot->key.ToString()));
  }
  MutexLock lock(&mu_);
  if (!status.ok()) {
    slots_.Abandon(std::move(slot));
    return status;
  }
  slot->parent = parsed->header.parent;
  slot->priority = parsed->header.priority;
  stats_.puts++;
  stats_.bytes_in += slot->bytes;
  slots_.Link(std::move(slot));
  return absl::OkStatus();
}

void HostTier::Abandon(std::unique_ptr<Slot> slot) {
  MutexLock lock(&mu_);
  slots_.Abandon(std::move(slot));
}

void HostTier::Release(Slot* slot) {
  MutexLock lock(&mu_);
  slots_.Unpin(slot);
}

absl::string_view HostTier::Bytes(const Slot& slot) const {
  return absl::string_view(arena_->base() + slot.offset, slot.bytes);
}

absl::Status HostTier::Put(absl::string_view block) {
  absl::StatusOr<BlockHeader> header = ParseHeader(block);
  if (!header.ok()) return header.status();
  if (SerializedBytes(*header) != block.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block has ", block.size(), " bytes, its header says ", SerializedBytes(*header)));
  }
  absl::StatusOr<Reservation> r = Reserve(header->key, block.size());
  if (!r.ok()) return r.status();
  std::memcpy(r->data().data(), block.data(), block.size());
  return Commit(std::move(r->slot_), /*verify_payload=*/false);
}

absl::StatusOr<HostTier::MappedBlock> HostTier::Pin(const BlockKey& key, bool verify,
                                                    Slot** pinned) {
  Slot* slot = nullptr;
  {
    MutexLock lock(&mu_);
    slot = slots_.Pin(key);
    if (slot == nullptr) {
      stats_.misses++;
      return absl::NotFoundError(absl::StrCat("host tier: no block ", key.ToString()));
    }
  }
  MappedBlock out{BlockRef(Bytes(*slot), std::make_unique<SlotLease>(this, slot)),
                  Location{arena_->read_only_fd(), slot->offset, slot->bytes}};
  if (pinned != nullptr) *pinned = slot;
  if (!verify) return out;
  if (absl::StatusOr<ParsedBlock> p = ParseBlock(out.ref.bytes()); !p.ok()) {
    return VerifyFailed(slot, p.status());
  }
  CountHit(slot->bytes);
  return out;
}

void HostTier::CountHit(uint64_t bytes) {
  MutexLock lock(&mu_);
  stats_.hits++;
  stats_.bytes_out += bytes;
}

absl::Status HostTier::VerifyFailed(Slot* slot, absl::Status why) {
  MutexLock lock(&mu_);
  stats_.checksum_failures++;
  if (slot->live) slots_.Unlink(slot);
  return why;
}

absl::StatusOr<HostTier::MappedBlock> HostTier::Map(const BlockKey& key) {
  absl::StatusOr<MappedBlock> m = Pin(key, options_.verify_reads);
  if (m.ok() && !options_.verify_reads) CountHit(m->location.length);
  return m;
}

absl::StatusOr<BlockRef> HostTier::Get(const BlockKey& key) {
  absl::StatusOr<MappedBlock> m = Pin(key, options_.verify_reads);
  if (!m.ok()) return m.status();
  if (!options_.verify_reads) CountHit(m->ref.bytes().size());
  return std::move(m->ref);
}

absl::StatusOr<size_t> HostTier::ReadInto(const BlockKey& key, absl::Span<char> dst) {
  Slot* slot = nullptr;
  absl::StatusOr<MappedBlock> m = Pin(key, /*verify=*/false, &slot);
  if (!m.ok()) return m.status();
  const absl::string_view src = m->ref.bytes();
  if (dst.size() < src.size()) return TooSmall(dst.size(), src.size());
  absl::StatusOr<BlockHeader> h = ParseHeader(src);
  if (h.ok() && SerializedBytes(*h) != src.size()) h = absl::DataLossError("block size mismatch");
  if (!h.ok()) return VerifyFailed(slot, h.status());
  if (!options_.verify_reads) {
    std::memcpy(dst.data(), src.data(), src.size());
    CountHit(src.size());
    return src.size();
  }
  const size_t header_bytes = EncodedHeaderBytes(*h);
  std::memcpy(dst.data(), src.data(), header_bytes);
  // Copy a cache-sized chunk, then hash the copy while it is hot, so what is
  // verified is what the caller got.
  constexpr size_t kChunk = 32 << 10;
  PayloadHasher hasher;
  for (size_t at = header_bytes; at < src.size(); at += kChunk) {
    const size_t n = std::min(kChunk, src.size() - at);
    std::memcpy(dst.data() + at, src.data() + at, n);
    hasher.Update(dst.data() + at, n);
  }
  if (hasher.Digest() != h->payload_checksum) {
    return VerifyFailed(slot, absl::DataLossError(absl::StrCat(
                                  "host tier: payload checksum mismatch for ", key.ToString())));
  }
  CountHit(src.size());
  return src.size();
}

absl::Status HostTier::Erase(const BlockKey& key) {
  MutexLock lock(&mu_);
  if (!slots_.Erase(key)) {
    return absl::NotFoundError(absl::StrCat("host tier: no block ", key.ToString()));
  }
  stats_.erases++;
  return absl::OkStatus();
}

bool HostTier::Contains(const BlockKey& key) const {
  MutexLock lock(&mu_);
  return slots_.Contains(key);
}

std::vector<StoredBlock> HostTier::List() const {
  MutexLock lock(&mu_);
  return slots_.List();
}

TierStats HostTier::Stats() const {
  MutexLock lock(&mu_);
  TierStats s = stats_;
  s.capacity_bytes = capacity_;
  s.used_bytes = slots_.allocated_bytes();
  s.blocks = slots_.size();
  return s;
}

}  // namespace kvstash::tiers
