// The workload shared by the crash writer (a child process) and the crash
// test (its parent): which block goes under which index, deterministically.
#ifndef KVSTASH_TESTS_TIERS_CRASH_WORKLOAD_H_
#define KVSTASH_TESTS_TIERS_CRASH_WORKLOAD_H_

#include <cstdint>
#include <string>

#include "tiers/testutil.h"

namespace kvstash::tiers::testing {

// Block sizes vary from 1.5 KiB to 36 KiB so that some stay inline in the
// SSTs' neighbourhood and most go to blob files.
inline kernels::KvGeometry CrashGeometry(uint64_t i) {
  return kernels::KvGeometry{static_cast<uint32_t>(1 + i % 8), 2, 64, 8, 2};
}

inline std::string CrashBlock(uint64_t i) {
  return MakeBlock(Key(i), i, CrashGeometry(i),
                   i > 0 ? std::optional<BlockKey>(Key(i - 1)) : std::nullopt);
}

// Every kEraseEvery-th put is followed by an erase of the block put
// kEraseLag indices earlier.
inline constexpr uint64_t kEraseEvery = 7;
inline constexpr uint64_t kEraseLag = 3;
// Every kSyncEvery-th put is followed by a Sync().
inline constexpr uint64_t kSyncEvery = 16;

}  // namespace kvstash::tiers::testing

#endif  // KVSTASH_TESTS_TIERS_CRASH_WORKLOAD_H_
