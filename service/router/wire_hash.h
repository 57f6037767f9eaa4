// The 64-bit wire form of a block key's digest, as engines publish hashes
// (INTEROP.md "Block hashes"): a digest of up to 8 bytes is a 64-bit hash
// stored little-endian (BlockKey::FromHash64); a longer one (vLLM's 32-byte
// sha256_cbor) is represented by its last 8 bytes read big-endian. A 32-byte
// digest whose bytes 8..31 are zero is taken as a 64-bit hash.
#ifndef KVSTASH_SERVICE_ROUTER_WIRE_HASH_H_
#define KVSTASH_SERVICE_ROUTER_WIRE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvstash::router {

inline uint64_t WireHashOfDigest(const uint8_t* d, size_t n) {
  bool short_key = true;
  for (size_t i = 8; i < n; ++i) short_key = short_key && d[i] == 0;
  uint64_t v = 0;
  if (short_key) {
    std::memcpy(&v, d, n < 8 ? n : 8);  // little-endian hosts only (x86-64, aarch64)
    return v;
  }
  for (size_t i = n - 8; i < n; ++i) v = (v << 8) | d[i];
  return v;
}

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_WIRE_HASH_H_
