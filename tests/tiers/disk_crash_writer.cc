// Child process of disk_crash_test: opens the disk tier in argv[1] and
// writes blocks from index argv[2] on, forever, with sync policy argv[3]
// ("process", "power" or "barrier"). After each acknowledged operation it
// writes one line to stdout: "p <i>" for a put, "e <i>" for an erase, and
// "s <i>" after a Sync() that returned OK once put i was acknowledged
// (every kSyncEvery puts). The parent kills it with SIGKILL at a random
// point and checks what survived.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/tiers/crash_workload.h"
#include "tiers/disk_tier.h"

namespace {

void Ack(char op, uint64_t i) {
  char line[32];
  const int n = snprintf(line, sizeof(line), "%c %llu\n", op, static_cast<unsigned long long>(i));
  if (write(1, line, n) != n) _exit(3);  // the parent is gone
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kvstash::tiers;
  if (argc != 4) {
    fprintf(stderr, "usage: %s DIR FIRST_INDEX process|power|barrier\n", argv[0]);
    return 2;
  }
  DiskTierOptions o;
  o.dir = argv[1];
  o.sync = strcmp(argv[3], "power") == 0     ? SyncPolicy::kPowerLoss
           : strcmp(argv[3], "barrier") == 0 ? SyncPolicy::kBarrier
                                             : SyncPolicy::kProcessCrash;
  o.write_buffer_bytes = 256 << 10;  // flushes and compactions happen while we are killed
  o.blob_file_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<DiskTier>> tier = DiskTier::Open(o, kvstash::Env::Default());
  if (!tier.ok()) {
    fprintf(stderr, "open: %s\n", tier.status().ToString().c_str());
    return 1;
  }
  for (uint64_t i = strtoull(argv[2], nullptr, 10);; ++i) {
    if (absl::Status s = (*tier)->Put(testing::CrashBlock(i)); !s.ok()) {
      fprintf(stderr, "put %llu: %s\n", static_cast<unsigned long long>(i), s.ToString().c_str());
      return 1;
    }
    Ack('p', i);
    if (i % testing::kEraseEvery == 0 && i >= testing::kEraseLag) {
      const uint64_t victim = i - testing::kEraseLag;
      absl::Status s = (*tier)->Erase(testing::Key(victim));
      if (s.ok()) Ack('e', victim);
    }
    if (i % testing::kSyncEvery == 0) {
      if (absl::Status s = (*tier)->Sync(); !s.ok()) {
        fprintf(stderr, "sync: %s\n", s.ToString().c_str());
        return 1;
      }
      Ack('s', i);
    }
  }
}
