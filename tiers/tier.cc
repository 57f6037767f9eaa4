#include "tiers/tier.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kvstash::tiers {
namespace {

class OwnedLease final : public BlockRef::Lease {
 public:
  explicit OwnedLease(std::string bytes) : bytes_(std::move(bytes)) {}
  absl::string_view bytes() const { return bytes_; }

 private:
  const std::string bytes_;
};

}  // namespace

BlockRef::BlockRef(std::string owned) {
  auto lease = std::make_unique<OwnedLease>(std::move(owned));
  bytes_ = lease->bytes();
  lease_ = std::move(lease);
}

absl::Status TooSmall(size_t have, size_t need) {
  return absl::OutOfRangeError(
      absl::StrCat("destination holds ", have, " bytes, the block has ", need));
}

absl::StatusOr<size_t> Tier::ReadInto(const BlockKey& key, absl::Span<char> dst) {
  absl::StatusOr<BlockRef> ref = Get(key);
  if (!ref.ok()) return ref.status();
  const absl::string_view bytes = ref->bytes();
  if (dst.size() < bytes.size()) return TooSmall(dst.size(), bytes.size());
  std::memcpy(dst.data(), bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace kvstash::tiers
