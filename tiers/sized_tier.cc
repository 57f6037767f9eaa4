#include "tiers/sized_tier.h"

#include "absl/strings/str_cat.h"

namespace kvstash::tiers {

SizedTier::SizedTier(SizedTierOptions options)
    : options_(std::move(options)), slots_(options_.capacity_bytes, options_.slot_sizes) {
  stats_.name = options_.name;
  stats_.capacity_bytes = options_.capacity_bytes;
}

uint64_t SizedTier::Charge(uint64_t block_bytes) const {
  if (!options_.arena) return block_bytes;
  MutexLock lock(&mu_);
  return slots_.ClassSize(block_bytes);
}

absl::Status SizedTier::Put(absl::string_view block) {
  absl::StatusOr<BlockHeader> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  if (block.size() != EncodedHeaderBytes(*h)) {
    return absl::InvalidArgumentError(
        absl::StrCat("size-only tier '", options_.name, "' stores header-only blocks; got ",
                     block.size(), " bytes for a ", EncodedHeaderBytes(*h), "-byte header"));
  }
  const uint64_t bytes = SerializedBytes(*h);
  MutexLock lock(&mu_);
  if (auto it = blocks_.find(h->key); it != blocks_.end()) {
    ReleaseLocked(it->second);
    blocks_.erase(it);
  }
  Entry e;
  if (options_.arena) {
    std::optional<uint64_t> offset = slots_.Allocate(bytes);
    if (!offset) {
      return absl::ResourceExhaustedError(
          absl::StrCat("tier '", options_.name, "': no free slot for ", bytes, " bytes"));
    }
    e.offset = *offset;
    used_ += slots_.ClassSize(bytes);
  } else {
    if (used_ + bytes > options_.capacity_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("tier '", options_.name, "': ", bytes,
                                                       " bytes do not fit in ",
                                                       options_.capacity_bytes - used_));
    }
    used_ += bytes;
  }
  e.header = std::string(block);
  e.info = StoredBlock{h->key, h->parent, h->priority, bytes};
  blocks_.emplace(h->key, std::move(e));
  stats_.puts++;
  stats_.bytes_in += bytes;
  return absl::OkStatus();
}

absl::StatusOr<BlockRef> SizedTier::Get(const BlockKey& key) {
  MutexLock lock(&mu_);
  auto it = blocks_.find(key);
  if (it == blocks_.end()) {
    stats_.misses++;
    return absl::NotFoundError(
        absl::StrCat("tier '", options_.name, "': no block ", key.ToString()));
  }
  stats_.hits++;
  stats_.bytes_out += it->second.info.bytes;
  return BlockRef(it->second.header);
}

void SizedTier::ReleaseLocked(const Entry& e) {
  if (options_.arena) {
    slots_.Free(e.offset, e.info.bytes);
    used_ -= slots_.ClassSize(e.info.bytes);
  } else {
    used_ -= e.info.bytes;
  }
}

absl::Status SizedTier::Erase(const BlockKey& key) {
  MutexLock lock(&mu_);
  auto it = blocks_.find(key);
  if (it == blocks_.end()) {
    return absl::NotFoundError(
        absl::StrCat("tier '", options_.name, "': no block ", key.ToString()));
  }
  ReleaseLocked(it->second);
  blocks_.erase(it);
  stats_.erases++;
  return absl::OkStatus();
}

bool SizedTier::Contains(const BlockKey& key) const {
  MutexLock lock(&mu_);
  return blocks_.contains(key);
}

std::vector<StoredBlock> SizedTier::List() const {
  MutexLock lock(&mu_);
  std::vector<StoredBlock> out;
  out.reserve(blocks_.size());
  for (const auto& [key, e] : blocks_) out.push_back(e.info);
  return out;
}

TierStats SizedTier::Stats() const {
  MutexLock lock(&mu_);
  TierStats s = stats_;
  s.used_bytes = used_;
  s.blocks = blocks_.size();
  return s;
}

}  // namespace kvstash::tiers
