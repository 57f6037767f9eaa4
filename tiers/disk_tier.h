// The disk tier: RocksDB with integrated BlobDB in a data directory.
//
// Layout (format 2): one default column family, two key spaces written
// together in one WriteBatch per block, so a block and its metadata appear
// and disappear atomically:
//   'd' + big-endian seq  -> the serialised block (header + payload); values
//                            of min_blob_size or more live in blob files
//   'k' + EncodeKey(key)  -> seq (8 bytes, big-endian) + a copy of the
//                            block's header (small, inline in the SSTs),
//                            scanned at open to rebuild the index
// seq is a per-tier counter, so a memtable flush (which writes in key order)
// lays blocks out in the blob files in the order they were put. A prefix is
// written together and read together, so its blocks are read sequentially
// and kernel readahead covers them; keyed by their hash, as in format 1
// ('b'/'m'), they landed in hash order and every read was a random one
// (64 KiB blocks read at half the speed; kvstash bench tiers). Format-1
// entries found at open are deleted: the tier is a cache, they are misses.
// The in-memory index (key -> size, parent, priority, seq) is rebuilt on
// Open() from the 'k' key space; capacity counts serialised bytes, and a Put
// that does not fit is refused with ResourceExhausted (TierManager evicts).
//
// Sync policy (SyncPolicy). What survives a crash, by policy:
//
//   kBarrier (default)  Puts skip RocksDB's write-ahead log: a Put returns
//       once the block is in the memtable, and blocks become durable when a
//       memtable is flushed, which writes each block once, to a blob file,
//       and fsyncs it before the SST that points at it is installed. Sync()
//       is the barrier: it flushes, so every block put before it survives a
//       process crash and a power loss once it returns. Blocks put after the
//       last Sync() may be lost by a crash (flushed or not, each is whole or
//       absent, never partial); a clean close (the destructor) flushes.
//       Erases still go through the WAL (written, not fsynced per erase), so
//       an acknowledged erase survives a process crash and an erased block
//       never comes back. Erases are tiny; puts are what the WAL doubled.
//   kProcessCrash  A Put is acknowledged once its batch is in the WAL,
//       written (write(2)) but not fsynced: an acknowledged block survives
//       the death of the process, not a power loss, whose torn WAL tail is
//       dropped at recovery (kPointInTimeRecovery). Every block is written
//       twice (WAL, then blob file at flush). Sync() fsyncs the WAL.
//   kPowerLoss  As kProcessCrash with the WAL fsynced on every write batch:
//       an acknowledged block survives power loss. Sync() fsyncs the WAL.
//
// kBarrier is the default because the tier is a cache: a block lost to a
// crash is a miss and is recomputed, while the WAL writes every block a
// second time, checksums it again and puts a file append on every Put.
// (In kvstash bench tiers the page cache absorbs most of that second write:
// the WAL is deleted after the flush before writeback reaches it, so on the
// 2-core virtio test machine writes measured 0.86-1.07 of the plain file
// under kProcessCrash and 0.84-1.28 under kBarrier; under sustained load the WAL's pages do reach
// the device and halve the write bandwidth left for blocks.) Callers that want a bound on what a
// crash can lose call Sync() periodically. Under every policy a reopened tier serves only whole,
// verified blocks.
//
// Write path: 16 MiB memtables, up to 16 of them (256 MiB, as 4 x 64 MiB
// before) so puts do not stall while earlier ones flush, flushed by up to 4
// threads in parallel, and blob and SST files written with O_DIRECT
// (use_direct_io_for_flush_and_compaction) where the filesystem supports it:
// the flush then neither copies each block into the page cache nor leaves
// it dirty for the fsync. Measured (1 MiB blocks, kvstash bench tiers,
// three runs each): 0.43-0.84 of the plain file buffered, 0.75-0.98 with
// O_DIRECT; with 4 x 64 MiB memtables and one flush thread, 0.17-0.43. A
// Put's WriteBatch is sized up front so the block is copied into it once.
// Reads stay buffered. Open question: cold reads of blob files written
// with O_DIRECT sometimes get no kernel readahead (strace: each 1 MiB pread
// a synchronous ~2.3 ms device read, where the plain file's are page-cache
// hits), which is what keeps disk_read below target in some runs.
// RocksDB checksums each blob record it writes; rocksdb_crc32c.h makes that
// cheap.
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
// Damage: a database RocksDB refuses to open as corrupt is moved aside to
// <dir>.corrupt and the tier starts empty (counted once); damage found while
// scanning the metadata or reading a block makes those blocks misses,
// counted and deleted. Nothing unverified is ever returned.
//
// Failure: a failed write (ours or RocksDB's background flush/compaction)
// sets a sticky error (leveldb's bg_error_): the tier turns read-only, keeps
// serving reads, refuses Put/Erase with FailedPrecondition, and reports the
// error in TierStats. Under kBarrier a failed flush fails the next Sync() or
// Put (RocksDB stops accepting writes after a background error).
//
// Threading model: thread-safe (tier.h). The mutex guards the index and the
// counters only; RocksDB calls run outside it. Puts, erases and drops of the
// same key are serialised (busy_: the next waits for the one in flight), so
// the index's seq for a key always names the 'd' entry the database holds.
// RocksDB runs its own flush and compaction threads.
#ifndef KVSTASH_TIERS_DISK_TIER_H_
#define KVSTASH_TIERS_DISK_TIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

// See the header comment.
enum class SyncPolicy : uint8_t {
  kProcessCrash = 0,  // WAL written per put, not fsynced
  kPowerLoss = 1,     // WAL fsynced per put
  kBarrier = 2,       // no WAL for puts; durable once Sync() (a flush) returns
};

struct DiskTierOptions {
  std::string name = "disk";
  std::string dir;  // created if missing
  uint64_t capacity_bytes = uint64_t{64} << 30;
  SyncPolicy sync = SyncPolicy::kBarrier;
  uint64_t min_blob_bytes = 1024;                    // values at least this long go to blob files
  uint64_t write_buffer_bytes = uint64_t{16} << 20;  // one memtable
  int write_buffers = 16;                            // memtables before puts stall
  int flush_threads = 4;
  uint64_t blob_file_bytes = uint64_t{256} << 20;
  // O_DIRECT for flush and compaction output where the filesystem takes it
  // (probed at Open(); tmpfs, for one, may not).
  bool direct_writes = true;
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

  // Durability barrier: every put and erase acknowledged before the call
  // survives power loss once it returns. kBarrier: flushes the memtables
  // (blob files, SSTs, fsynced) and fsyncs the WAL (erases); the WAL
  // policies: fsyncs the WAL.
  absl::Status Sync();
  // Writes the memtables to blob and SST files and fsyncs them.
  absl::Status Flush();
  // Whether RocksDB's CRC32C runs on kvstash's SSE4.2 code (rocksdb_crc32c.h).
  bool fast_rocksdb_crc32c() const { return fast_crc32c_; }
  // Whether flushes and compactions write with O_DIRECT.
  bool direct_writes() const { return direct_writes_; }

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
    uint64_t seq = 0;  // its data lives under 'd' + seq
  };
  // A 'k' entry that failed verification; seq when it could be read.
  struct BadMeta {
    BlockKey key;
    std::optional<uint64_t> seq;
  };

  DiskTier(const DiskTierOptions& options, std::unique_ptr<rocksdb::Env> env, bool direct_writes);
  absl::Status OpenDb();
  absl::Status Rebuild();
  // Rebuilds the index from the 'k' key space; false if the scan stopped on
  // an error. Entries whose header fails verification go to `bad`.
  bool ScanMeta(bool verify_rocksdb, std::vector<BadMeta>* bad);
  // Deletes format-1 key spaces ('b', 'm') if any are left.
  void DropLegacy();
  absl::StatusOr<BlockRef> Read(const BlockKey& key, uint64_t seq);
  // Drops a block that failed verification: from the index, and from the
  // database unless the tier is read-only. `seq` is the copy that failed;
  // if a put replaced it meanwhile, the new copy stays.
  void DropCorrupt(const BlockKey& key, uint64_t seq);
  // Deletes 'k' + key and, if known, 'd' + seq.
  absl::Status DeleteFromDb(const BlockKey& key, std::optional<uint64_t> seq);
  // Waits until no put, erase or drop of `key` is in flight and claims it.
  void ClaimKeyLocked(const BlockKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseKeyLocked(const BlockKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::Status Write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch);
  absl::Status WriteError(absl::string_view op, const absl::Status& s);
  absl::Status CheckWritableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Const after Open().
  const DiskTierOptions options_;
  const bool fast_crc32c_;
  const bool direct_writes_;
  const std::unique_ptr<rocksdb::Env> env_;  // null: rocksdb::Env::Default(); outlives db_
  std::unique_ptr<rocksdb::DB> db_;

  Mutex write_mu_;  // with serialize_writes; guards no data
  mutable Mutex mu_;
  absl::flat_hash_map<BlockKey, Entry> index_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<BlockKey> busy_ ABSL_GUARDED_BY(mu_);  // keys with a write in flight
  CondVar key_released_;                                     // a key left busy_
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of puts in flight
  absl::Status error_ ABSL_GUARDED_BY(mu_);     // sticky
  mutable TierStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_DISK_TIER_H_
