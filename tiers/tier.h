// The Tier contract (DESIGN.md "Tiers"): one storage medium holding
// serialised blocks (tiers/block.h, tiers/BLOCK_FORMAT.md) under their keys,
// with a capacity in bytes. Implementations: host_tier.h (shared-memory
// arena), disk_tier.h (RocksDB + BlobDB), device_tier.h (GPU HBM arena).
// tier_conformance.h holds the one test suite every implementation passes.
//
// A tier is mechanism, not policy: it stores, returns, verifies and erases
// blocks and refuses a put that does not fit (ResourceExhausted). Choosing
// what to evict, spilling and promoting belong to TierManager
// (tier_manager.h), which drives several tiers.
//
// A tier verifies blocks against their checksums wherever it cannot trust
// its medium: the disk tier on every read, the device tier on every read (it
// copies back to the host anyway), the host tier when a block is committed
// (its writer may be another process) and, with verify_reads, on every read.
// A block that fails is erased, counted in TierStats::checksum_failures and
// reported as DataLoss; it is never returned.
//
// Threading model: every method is safe to call from any thread at any time.
// A tier guards its own index with its own mutex and never holds it across
// I/O (disk reads and writes, device copies, payload hashing); readers pin
// what they read through the BlockRef lease instead.
#ifndef KVSTASH_TIERS_TIER_H_
#define KVSTASH_TIERS_TIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tiers/block.h"

namespace kvstash::tiers {

// A read handle on one stored block's serialised bytes. It keeps whatever
// backs the bytes alive (a host slot's refcount, a RocksDB pinned value, an
// owned buffer) until it is destroyed, so eviction never frees memory being
// read. Move-only.
class BlockRef {
 public:
  class Lease {
   public:
    virtual ~Lease() = default;
  };

  BlockRef() = default;
  explicit BlockRef(std::string owned);
  BlockRef(absl::string_view bytes, std::unique_ptr<Lease> lease)
      : bytes_(bytes), lease_(std::move(lease)) {}
  BlockRef(BlockRef&&) = default;
  BlockRef& operator=(BlockRef&&) = default;
  BlockRef(const BlockRef&) = delete;
  BlockRef& operator=(const BlockRef&) = delete;

  absl::string_view bytes() const { return bytes_; }

 private:
  absl::string_view bytes_;
  std::unique_ptr<Lease> lease_;
};

// What a tier holds, as its index knows it (TierManager rebuilds its own
// index from this when it opens a persistent tier).
struct StoredBlock {
  BlockKey key;
  std::optional<BlockKey> parent;
  uint8_t priority = 0;
  uint64_t bytes = 0;  // serialised size
};

struct TierStats {
  std::string name;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;  // charged bytes (Charge()) of stored and reserved blocks
  uint64_t blocks = 0;
  uint64_t puts = 0;
  uint64_t bytes_in = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t bytes_out = 0;
  uint64_t erases = 0;
  uint64_t checksum_failures = 0;
  uint64_t write_errors = 0;
  bool read_only = false;
  std::string error;  // sticky error that made the tier read-only; empty when healthy
};

// OutOfRange naming both sizes, for ReadInto implementations.
absl::Status TooSmall(size_t have, size_t need);

class Tier {
 public:
  virtual ~Tier() = default;

  virtual absl::string_view name() const = 0;
  virtual uint64_t capacity_bytes() const = 0;
  // Bytes a block of `block_bytes` serialised bytes counts against capacity
  // (slot rounding included).
  virtual uint64_t Charge(uint64_t block_bytes) const = 0;

  // Stores a serialised block under the key in its header, replacing any
  // block with that key (readers of the old one keep their view). The header
  // is validated; the payload checksum is trusted here and verified on read.
  // InvalidArgument/DataLoss for a malformed block, ResourceExhausted when it
  // does not fit, FailedPrecondition when the tier is read-only.
  [[nodiscard]] virtual absl::Status Put(absl::string_view block) = 0;
  // NotFound on a miss; DataLoss (counted, block erased) on a checksum failure.
  [[nodiscard]] virtual absl::StatusOr<BlockRef> Get(const BlockKey& key) = 0;
  // Copies the verified block into `dst` and returns its size: what a
  // caller that wants the bytes in its own buffer uses, and cheaper than Get
  // plus a copy where a tier can verify while it copies (the host tier).
  // Errors as Get, plus OutOfRange when `dst` is too small; after an error
  // the contents of `dst` are unspecified.
  [[nodiscard]] virtual absl::StatusOr<size_t> ReadInto(const BlockKey& key, absl::Span<char> dst);
  // NotFound when absent.
  [[nodiscard]] virtual absl::Status Erase(const BlockKey& key) = 0;
  virtual bool Contains(const BlockKey& key) const = 0;
  virtual std::vector<StoredBlock> List() const = 0;
  virtual TierStats Stats() const = 0;
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_TIER_H_
