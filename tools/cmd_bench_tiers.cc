// kvstash bench tiers: flags in, tiers/tier_bench.h does the work, the table
// or JSON of bench/report.h comes out.
#include <iostream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/report.h"
#include "tiers/tier_bench.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kvstash::tools {
namespace {

absl::StatusOr<tiers::TierBenchOptions> ParseOptions(const FlagSet& flags) {
  tiers::TierBenchOptions o;
  o.dir = flags.Get("dir");
  absl::StatusOr<uint64_t> bytes = flags.GetU64("bytes");
  if (!bytes.ok()) return bytes.status();
  if (*bytes == 0) return absl::InvalidArgumentError("flag --bytes: must be positive");
  o.disk_bytes = *bytes;
  o.host_bytes = std::min<uint64_t>(*bytes, o.host_bytes);
  absl::StatusOr<double> seconds = flags.GetDouble("seconds");
  if (!seconds.ok()) return seconds.status();
  if (!(*seconds >= 0)) return absl::InvalidArgumentError("flag --seconds: must be >= 0");
  o.host_seconds = *seconds;
  o.block_bytes.clear();
  for (absl::string_view s : absl::StrSplit(flags.Get("sizes"), ',')) {
    uint64_t size = 0;
    if (!absl::SimpleAtoi(s, &size) || size == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --sizes: '", s, "' is not a positive byte count"));
    }
    o.block_bytes.push_back(size);
  }
  const std::string sync = flags.Get("sync");
  if (sync != "process" && sync != "power" && sync != "barrier") {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --sync: expected barrier, process or power, got '", sync, "'"));
  }
  o.sync = sync == "power"     ? tiers::SyncPolicy::kPowerLoss
           : sync == "process" ? tiers::SyncPolicy::kProcessCrash
                               : tiers::SyncPolicy::kBarrier;
  return o;
}

}  // namespace

int RunBenchTiers(const Args& args) {
  FlagSet flags("kvstash bench tiers [flags]",
                "Host tier put/get GB/s next to memcpy, disk tier write/read GB/s next to a plain\n"
                "file of the same bytes (same sync policy, cold page cache for both reads).");
  flags.Bool("json", "print one JSON object instead of a table");
  flags.String("dir", "parent of the scratch directory (default: $TMPDIR, else /tmp)", std::nullopt,
               /*optional=*/true);
  flags.String("bytes", "bytes written and read per disk case (host: at most 256 MiB)",
               "536870912");
  flags.String("seconds", "minimum seconds per host measurement", "0.5");
  flags.String("sizes", "block payload sizes in bytes, comma-separated", "1048576,65536");
  flags.String("sync",
               "disk sync policy: barrier (no WAL for puts, durable at Sync), process (WAL, no "
               "fsync per put; what kvstashd --sync wal uses) or power (WAL fsynced per put)",
               "process");
  if (const int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  absl::StatusOr<tiers::TierBenchOptions> options = ParseOptions(flags);
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::vector<bench::Result>> results = tiers::RunTierBench(*options, &std::cerr);
  if (!results.ok()) {
    std::cerr << "error: " << results.status().message() << "\n";
    return 1;
  }
  bench::PrintReport(*results, {}, flags.GetBool("json"));
  return 0;
}

}  // namespace kvstash::tools
