// The disk tier: RocksDB with integrated BlobDB in a data directory.
//
// Layout: one default column family, two key spaces written together in one
// WriteBatch per block, so a block and its metadata appear and disappear
// atomically:
//   'b' + EncodeKey(key) -> the serialised block (header + payload); values
//                           of min_blob_size or more live in blob files
//   'm' + EncodeKey(key) -> a copy of the block's header (small, inline in
//                           the SSTs), scanned at open to rebuild the index
// The in-memory index (key -> size, parent, priority) is rebuilt on Open()
// from the 'm' key space; capacity counts serialised bytes, and a Put that
// does not fit is refused with ResourceExhausted (TierManager evicts).
//
// Sync policy (SyncPolicy, default kProcessCrash): a Put is acknowledged
// once its batch is in RocksDB's write-ahead log. With kProcessCrash the WAL
// is written (write(2)) but not fsynced per put: an acknowledged block
// survives the death of the process (SIGKILL, a crash; the page cache holds
// the WAL), not a power loss, whose torn WAL tail is dropped at recovery
// (kPointInTimeRecovery). This is the default because the tier is a cache:
// a block lost to power failure is recomputed, while an fsync per block
// would cost ~1 ms each. kPowerLoss fsyncs the WAL on every write batch, so
// acknowledged blocks also survive power loss. Sync() is an explicit barrier.
//
// Verification: every read is checked by the block's own header and payload
// XXH3-64 and against the requested key (a flipped blob index could point at
// another valid block). RocksDB's own per-read checksums (CRC32C over SST
// blocks and each blob record) are off on the block read path
// (verify_rocksdb_checksums = false): they add no protection the block
// checksum lacks and, measured here on 1 MiB blocks from a warm page cache,
// halve read throughput (8.9 -> 4.9 GB/s) even with kvstash's SSE4.2 CRC32C
// (rocksdb_crc32c.h); with Debian's software CRC32C (1.57 GB/s) they would
// cap reads below the disk's bandwidth. The scan at Open() keeps them on
// (metadata only, small). A block that fails verification is a miss,
// counted in checksum_failures and deleted.
//
// Write cost: RocksDB writes each value twice (WAL, then blob file at flush)
// and checksums it both times; rocksdb_crc32c.h makes those checksums cheap.
//
// Damage: a database RocksDB refuses to open as corrupt is moved aside to
// <dir>.corrupt and the tier starts empty (counted once); damage found while
// scanning the metadata or reading a block makes those blocks misses,
// counted and deleted. Nothing unverified is ever returned.
//
// Failure: a failed write (ours or RocksDB's background flush/compaction)
// sets a sticky error (leveldb's bg_error_): the tier turns read-only, keeps
// serving reads, refuses Put/Erase with FailedPrecondition, and reports the
// error in TierStats.
//
// Threading model: thread-safe (tier.h). The mutex guards the index and the
// counters only; RocksDB calls run outside it. RocksDB runs its own flush and
// compaction threads.
#ifndef KVSTASH_TIERS_DISK_TIER_H_
#define KVSTASH_TIERS_DISK_TIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/env.h"
#include "common/mutex.h"
#include "tiers/tier.h"

namespace rocksdb {
class DB;
class Env;
class Status;
class WriteBatch;
struct WriteOptions;
}  // namespace rocksdb

namespace kvstash::tiers {

enum class SyncPolicy : uint8_t {
  kProcessCrash = 0,  // WAL written per put, not fsynced
  kPowerLoss = 1,     // WAL fsynced per put
};

struct DiskTierOptions {
  std::string name = "disk";
  std::string dir;  // created if missing
  uint64_t capacity_bytes = uint64_t{64} << 30;
  SyncPolicy sync = SyncPolicy::kProcessCrash;
  uint64_t min_blob_bytes = 1024;  // values at least this long go to blob files
  uint64_t write_buffer_bytes = uint64_t{64} << 20;
  uint64_t blob_file_bytes = uint64_t{256} << 20;
  bool verify_rocksdb_checksums = false;  // see the header comment
  // Kernel readahead on RocksDB's files (else POSIX_FADV_RANDOM). A prefix
  // is read as a run of blocks that were mostly written together, so
  // readahead roughly doubles such reads (kvstash bench tiers, disk_read);
  // turn it off for scattered single-block reads.
  bool readahead = true;
  // One RocksDB write at a time instead of RocksDB's group commit. Costs
  // concurrency (and, with kPowerLoss, shared fsyncs); tests set it under
  // ThreadSanitizer, which cannot see how Debian's uninstrumented RocksDB
  // hands batches between the threads of a write group.
  bool serialize_writes = false;
};

class DiskTier final : public Tier {
 public:
  // Opens (creating if needed) the database and rebuilds the index. Blocks
  // whose metadata fails its checksum are dropped and counted. `env.faults`
  // (may be null) injects filesystem failures under RocksDB.
  static absl::StatusOr<std::unique_ptr<DiskTier>> Open(const DiskTierOptions& options,
                                                        const Env& env);
  ~DiskTier() override;

  // Durability barrier: fsyncs the WAL, so every acknowledged put survives
  // power loss.
  absl::Status Sync();
  // Writes the memtables to blob and SST files and fsyncs them.
  absl::Status Flush();
  // Whether RocksDB's CRC32C runs on kvstash's SSE4.2 code (rocksdb_crc32c.h).
  bool fast_rocksdb_crc32c() const { return fast_crc32c_; }

  // Tier.
  absl::string_view name() const override { return options_.name; }
  uint64_t capacity_bytes() const override { return options_.capacity_bytes; }
  uint64_t Charge(uint64_t block_bytes) const override { return block_bytes; }
  absl::Status Put(absl::string_view block) override;
  absl::StatusOr<BlockRef> Get(const BlockKey& key) override;
  absl::Status Erase(const BlockKey& key) override;
  bool Contains(const BlockKey& key) const override;
  std::vector<StoredBlock> List() const override;
  TierStats Stats() const override;

 private:
  struct Entry {
    uint64_t bytes = 0;
    std::optional<BlockKey> parent;
    uint8_t priority = 0;
    bool erasing = false;  // an Erase is deleting it from the database
  };

  DiskTier(const DiskTierOptions& options, std::unique_ptr<rocksdb::Env> env);
  absl::Status OpenDb();
  absl::Status Rebuild();
  // Rebuilds the index from the 'm' key space; false if the scan stopped on
  // an error. Entries whose header fails verification go to `bad`.
  bool ScanMeta(bool verify_rocksdb, std::vector<BlockKey>* bad);
  // Drops a block that failed verification: from the index, and from the
  // database unless the tier is read-only.
  void DropCorrupt(const BlockKey& key, absl::string_view why);
  absl::Status DeleteFromDb(const BlockKey& key);
  rocksdb::Status Write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch);
  absl::Status WriteError(absl::string_view op, const absl::Status& s);
  absl::Status CheckWritableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Const after Open().
  const DiskTierOptions options_;
  const bool fast_crc32c_;
  const std::unique_ptr<rocksdb::Env> env_;  // null: rocksdb::Env::Default(); outlives db_
  std::unique_ptr<rocksdb::DB> db_;

  Mutex write_mu_;  // with serialize_writes; guards no data
  mutable Mutex mu_;
  absl::flat_hash_map<BlockKey, Entry> index_ ABSL_GUARDED_BY(mu_);
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of puts in flight
  absl::Status error_ ABSL_GUARDED_BY(mu_);     // sticky
  mutable TierStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_DISK_TIER_H_
