// A hardware CRC32C for RocksDB in Debian's build.
//
// RocksDB checksums every WAL record, blob record and SST block with CRC32C.
// Debian builds librocksdb with PORTABLE=1, which leaves out the SSE4.2 code
// (rocksdb::crc32c::IsFastCrc32Supported() says "Not supported on x86"), so
// the checksum runs in software at 1.57 GB/s on this machine, and a 1 MiB
// block put pays for it twice (WAL, then blob file): measured 0.45 GB/s for
// DiskTier writes against 1.28 GB/s for a plain file.
//
// rocksdb_crc32c.cc defines rocksdb::crc32c::Extend(), the one function all
// of librocksdb.so's 37 call sites reach through its PLT, with the SSE4.2
// crc32 instruction (the same CRC32C, bit for bit; table-driven where the
// CPU lacks SSE4.2). An executable that links kvstash_tiers exports that
// definition and the dynamic linker binds librocksdb's calls to it: DiskTier
// writes went from 0.45 to 0.93 GB/s. It only works against the shared
// library (RocksDB::rocksdb-shared), which is what tiers/ links.
//
// Thread safety: pure functions.
#ifndef KVSTASH_TIERS_ROCKSDB_CRC32C_H_
#define KVSTASH_TIERS_ROCKSDB_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace kvstash::tiers {

// CRC32C of data[0, n) continuing from `crc` (RocksDB's Extend convention).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);
// True when librocksdb's calls resolve to kvstash's Extend (checked with
// dlsym), false if the dynamic linker bound them elsewhere.
bool RocksDbUsesKvstashCrc32c();
// True when the SSE4.2 instruction is used.
bool Crc32cIsHardware();

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_ROCKSDB_CRC32C_H_
