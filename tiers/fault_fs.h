// A rocksdb::FileSystem wrapper that fails writes and syncs on command, the
// RocksDB side of the Env seam (common/env.h FileFaults; leveldb's
// FaultInjectionTestEnv). Every file RocksDB creates or appends to goes
// through it; with the switches off it only forwards.
//
// Ownership: the returned FileSystem/Env do not own `faults`, which must
// outlive them. The Env returned by NewFaultInjectionEnv must outlive every
// DB opened with it.
#ifndef KVSTASH_TIERS_FAULT_FS_H_
#define KVSTASH_TIERS_FAULT_FS_H_

#include <memory>

#include "common/env.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace kvstash::tiers {

// Wraps rocksdb::FileSystem::Default().
std::shared_ptr<rocksdb::FileSystem> NewFaultInjectionFileSystem(FileFaults* faults);
// A rocksdb::Env over that filesystem (the default Env's threads and clock).
std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(FileFaults* faults);

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_FAULT_FS_H_
