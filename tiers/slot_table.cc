#include "tiers/slot_table.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::tiers {

SlotTable::SlotTable(uint64_t capacity, std::vector<uint64_t> slot_sizes)
    : allocator_(capacity, std::move(slot_sizes)) {}

SlotTable::~SlotTable() {
  KVSTASH_CHECK(retired_.empty());
  for (const auto& [key, slot] : index_) KVSTASH_CHECK(slot->refs == 0);
}

absl::StatusOr<std::unique_ptr<ArenaSlot>> SlotTable::Allocate(const BlockKey& key, uint64_t bytes,
                                                               absl::string_view tier) {
  std::optional<uint64_t> offset = allocator_.Allocate(bytes);
  if (!offset) {
    return absl::ResourceExhaustedError(absl::StrCat(
        tier, " tier: no free slot for ", bytes, " bytes (", allocator_.allocated_bytes(), " of ",
        allocator_.capacity(), " bytes in use)"));
  }
  auto slot = std::make_unique<ArenaSlot>();
  slot->key = key;
  slot->offset = *offset;
  slot->bytes = bytes;
  return slot;
}

void SlotTable::Abandon(std::unique_ptr<ArenaSlot> slot) {
  allocator_.Free(slot->offset, slot->bytes);
}

void SlotTable::Link(std::unique_ptr<ArenaSlot> slot) {
  if (auto it = index_.find(slot->key); it != index_.end()) Unlink(it->second.get());
  slot->live = true;
  const BlockKey key = slot->key;
  index_.emplace(key, std::move(slot));
}

ArenaSlot* SlotTable::Pin(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  it->second->refs++;
  return it->second.get();
}

void SlotTable::Unpin(ArenaSlot* slot) {
  KVSTASH_CHECK(slot->refs > 0);
  if (--slot->refs > 0 || slot->live) return;
  allocator_.Free(slot->offset, slot->bytes);
  retired_.erase(slot);
}

void SlotTable::Unlink(ArenaSlot* slot) {
  KVSTASH_CHECK(slot->live);
  slot->live = false;
  auto it = index_.find(slot->key);
  KVSTASH_CHECK(it != index_.end() && it->second.get() == slot);
  std::unique_ptr<ArenaSlot> owned = std::move(it->second);
  index_.erase(it);
  if (owned->refs > 0) {
    retired_.emplace(slot, std::move(owned));
  } else {
    allocator_.Free(slot->offset, slot->bytes);
  }
}

bool SlotTable::Erase(const BlockKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  Unlink(it->second.get());
  return true;
}

std::vector<StoredBlock> SlotTable::List() const {
  std::vector<StoredBlock> out;
  out.reserve(index_.size());
  for (const auto& [key, slot] : index_) {
    out.push_back(StoredBlock{key, slot->parent, slot->priority, slot->bytes});
  }
  return out;
}

}  // namespace kvstash::tiers
