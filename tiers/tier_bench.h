// `kvstash bench tiers`: host and disk tier throughput, each next to a
// baseline measured in the same run on the same bytes (DESIGN.md
// "Performance targets"; targets are printed, never asserted).
//
//   host_put   HostTier::Put of serialised blocks   vs memcpy into a plain buffer
//   host_get   HostTier::ReadInto: verified copy    vs memcpy out of a plain buffer
//              into the caller's buffer
//   disk_write DiskTier::Put of every block, then   vs write(2) of the same bytes to
//              Flush+Sync (every block durable)        one file, then fdatasync
//                                                      ("file_write_fdatasync")
//   disk_read  DiskTier::Get (verified) of every    vs sequential pread(2) of the
//              block, in write order                   file, block by block ("file_read")
//
// Both disk sides give the same guarantee when their clock stops: every
// block is on the device (fsynced) and survives power loss. Under the
// default sync policy, kBarrier, and under kProcessCrash that takes one
// barrier at the end on both sides (the tier's Flush+Sync: memtables
// flushed to fsynced blob files; the file's fdatasync); under kPowerLoss
// both sides fsync after every block ("file_write_fdatasync_each"). The
// tier also writes its keys, metadata and RocksDB's own files; the file
// writes only the block bytes. Both read phases start cold: every file of
// the database and the plain file is fsynced and dropped from the page
// cache (posix_fadvise DONTNEED) first, and both read with the kernel's
// default readahead. The tier's timed read includes nothing of Open() (the
// index rebuild). Arenas and buffers are prefaulted so that page faults are
// not measured. host_get_verified is host_get with
// HostTierOptions::verify_reads, shown for what read verification costs.
// Disk cases alternate with their baselines `repeats` times and keep the
// best of each, since a shared or virtual disk's speed drifts.
#ifndef KVSTASH_TIERS_TIER_BENCH_H_
#define KVSTASH_TIERS_TIER_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/report.h"
#include "tiers/disk_tier.h"

namespace kvstash::tiers {

struct TierBenchOptions {
  std::string dir;  // scratch space for the disk cases; a temp dir is made under it
  std::vector<uint64_t> block_bytes = {uint64_t{1} << 20, uint64_t{64} << 10};
  uint64_t host_bytes = uint64_t{256} << 20;  // host working set per block size
  double host_seconds = 0.5;                  // minimum time per host measurement
  uint64_t disk_bytes = uint64_t{512} << 20;  // bytes written and read per disk case
  int repeats = 3;  // disk cases run this often, alternating with their baseline; best kept
  SyncPolicy sync = SyncPolicy::kBarrier;
};

// Runs every case; progress lines go to `progress` (may be null).
absl::StatusOr<std::vector<bench::Result>> RunTierBench(const TierBenchOptions& options,
                                                        std::ostream* progress);

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_TIER_BENCH_H_
