#include "tiers/rocksdb_crc32c.h"

#include <dlfcn.h>
#include <nmmintrin.h>

#include <array>
#include <cstring>

namespace kvstash::tiers {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // CRC32C (Castagnoli), reflected

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t SoftwareRaw(uint32_t l, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) l = kTable[(l ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (l >> 8);
  return l;
}

__attribute__((target("sse4.2"))) uint32_t HardwareRaw(uint32_t l32, const char* p, size_t n) {
  uint64_t l = l32;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    l = _mm_crc32_u64(l, v);
  }
  l32 = static_cast<uint32_t>(l);
  for (; n > 0; ++p, --n) l32 = _mm_crc32_u8(l32, static_cast<uint8_t>(*p));
  return l32;
}

bool DetectHardware() {
  __builtin_cpu_init();  // may run before libgcc's own constructor
  return __builtin_cpu_supports("sse4.2");
}

// Zero (software) until initialised, which is still correct.
const bool kHardware = DetectHardware();

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n) {
  const uint32_t l = crc ^ 0xffffffffu;
  return (kHardware ? HardwareRaw(l, data, n) : SoftwareRaw(l, data, n)) ^ 0xffffffffu;
}

bool Crc32cIsHardware() { return kHardware; }

}  // namespace kvstash::tiers

// The interposer: librocksdb.so declares this function in its uninstalled
// util/crc32c.h with exactly this signature and calls it through its PLT.
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  return kvstash::tiers::Crc32cExtend(init_crc, data, n);
}
}  // namespace rocksdb::crc32c

namespace kvstash::tiers {

bool RocksDbUsesKvstashCrc32c() {
  void* bound = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
  return bound == reinterpret_cast<void*>(&rocksdb::crc32c::Extend);
}

}  // namespace kvstash::tiers
