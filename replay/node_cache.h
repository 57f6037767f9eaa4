// One node's block cache as `kvstash replay` drives it. Three kinds:
//   - SizedCache: the node's real tier stack and TierManager policies over
//     size-only tiers (service::BuildSizedTierManager): placement, eviction,
//     spill, admission and promotion as kvstashd runs them, without payloads.
//   - MaterializedCache (--materialize): the node's real tiers
//     (service::BuildTierManager: memfd host arena, RocksDB disk in a scratch
//     directory, GPU device tier) storing real bytes; reads are timed.
//   - ClientCache (--connect): a running kvstashd through libkvstash.
// The replayer (replayer.h) calls them one request at a time, one thread.
#ifndef KVSTASH_REPLAY_NODE_CACHE_H_
#define KVSTASH_REPLAY_NODE_CACHE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/env.h"
#include "replay/cost_model.h"
#include "service/profile.h"
#include "tiers/block.h"

namespace kvstash::replay {

// A tier's figures as the report shows them (summed over nodes by name).
struct TierFigures {
  std::string name;
  uint64_t capacity_bytes = 0, used_bytes = 0, blocks = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // written into / read out of the tier
  uint64_t evictions = 0, spills = 0, promotions = 0, admissions_refused = 0;
  uint64_t capacity_blocks = 0;  // blocks of this profile and format that fit
};

class NodeCache {
 public:
  virtual ~NodeCache() = default;

  // Source of each hit of the longest held prefix of `keys`, as this node
  // sees it (a node in a cluster may answer kRemote itself).
  virtual absl::StatusOr<std::vector<Source>> Lookup(absl::Span<const tiers::BlockKey> keys) = 0;
  // Reads held blocks as an engine fetching them would (LRU refresh,
  // promotion). nullopt for a block that left meanwhile.
  virtual absl::StatusOr<std::vector<std::optional<Source>>> Read(
      absl::Span<const tiers::BlockKey> keys) = 0;
  // Stores computed blocks (or pulled ones): keys[i]'s parent is keys[i-1],
  // keys[0]'s is `parent`; ids[i] seeds block i's synthetic contents.
  virtual absl::Status Store(absl::Span<const tiers::BlockKey> keys,
                             std::optional<tiers::BlockKey> parent,
                             absl::Span<const uint64_t> ids) = 0;
  virtual std::vector<TierFigures> Tiers() = 0;
  // Measured read seconds and bytes per source (materialized and client
  // caches; zero for size-only ones).
  virtual std::array<double, kSources> read_seconds() const { return {}; }
  // Serialised bytes of one stored block, as tiers hold and transfers move it.
  virtual uint64_t block_bytes() const = 0;
};

struct CacheOptions {
  service::ModelProfile profile;  // geometry.block_tokens set to the trace's
  kernels::Format format = kernels::Format::kNvfp4;
  uint64_t device_bytes = 0, host_bytes = 0, disk_bytes = 0;
  uint32_t disk_admit_after_hits = 1;  // as kvstashd --disk-admit-after-hits
  std::string scratch_dir;             // materialized: where the disk tier lives
};

// `clock` drives LRU order (the replayer sets it to the trace's timestamps);
// it must outlive the cache.
absl::StatusOr<std::unique_ptr<NodeCache>> CreateSizedCache(const CacheOptions& options,
                                                            Clock* clock);
absl::StatusOr<std::unique_ptr<NodeCache>> CreateMaterializedCache(const CacheOptions& options,
                                                                   Clock* clock);
// `format` is what blocks are read back in; the daemon stores its own.
absl::StatusOr<std::unique_ptr<NodeCache>> CreateClientCache(const std::string& address,
                                                             const CacheOptions& options);

// Serialised bytes of a block of `profile` stored in `format` (with a parent
// key: what every block but a chain's first carries).
absl::StatusOr<uint64_t> StoredBlockBytes(const service::ModelProfile& profile,
                                          kernels::Format format);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_NODE_CACHE_H_
