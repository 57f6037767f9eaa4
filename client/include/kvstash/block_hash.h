// Block keys from token ids, bit-exact with the engines and routers kvstash
// sits beside (INTEROP.md "Block hashes"). Only full blocks are hashed: a
// partial tail block has no key.
//
// Two schemes:
//  - xxh3: Dynamo's chain. local[i] = XXH3-64(token ids as LE u32, seed);
//    seq[0] = local[0]; seq[i] = XXH3-64(LE(seq[i-1]) ++ LE(local[i]), chain_seed).
//  - sha256_cbor: vLLM's. digest[i] = SHA-256(canonical CBOR of
//    [parent digest (32-byte bstr), [token ids], extra keys or null]); the first
//    parent is NONE_HASH = SHA-256(CBOR(text seed)). On the KV-event wire a
//    hash is the last 8 bytes of the digest read as a big-endian u64.
//
// Public header: no third-party types. Thread safety: pure functions.
#ifndef KVSTASH_CLIENT_BLOCK_HASH_H_
#define KVSTASH_CLIENT_BLOCK_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kvstash {

struct Xxh3HashOptions {
  // Seed of the per-block hash; 1337 without LoRA and namespace. With them,
  // Dynamo adds xxh3(lora_name, 0) and xxh3(cache_namespace, 1) to it
  // (wrapping u64 addition); LocalSeed() does that.
  uint64_t seed = 1337;
  // Seed of the chaining hash: 1337 in some Dynamo versions, 0 in the newest.
  uint64_t chain_seed = 1337;
  std::optional<std::string> lora_name;
  std::optional<std::string> cache_namespace;
};

// The effective per-block seed for `opts`.
uint64_t Xxh3LocalSeed(const Xxh3HashOptions& opts);

// Per-block (unchained) hashes of the full blocks of `tokens`.
std::vector<uint64_t> Xxh3LocalHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                      const Xxh3HashOptions& opts = {});
// Sequence (chained) hashes of the full blocks of `tokens`: each names its
// whole prefix. REQUIRES: block_tokens > 0.
std::vector<uint64_t> Xxh3SequenceHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                         const Xxh3HashOptions& opts = {});

using Sha256Digest = std::array<uint8_t, 32>;

struct Sha256CborOptions {
  // NONE_HASH seed: the value of PYTHONHASHSEED when the engine sets it (e.g.
  // "0"), else vLLM's fixed "vllm-none-hash".
  std::string none_hash_seed = "vllm-none-hash";
  // Extra keys of the first block only (e.g. a cache salt) and of every block
  // (e.g. a LoRA name), as text strings; empty means CBOR null.
  std::vector<std::string> first_block_extra_keys;
  std::vector<std::string> extra_keys;
};

// SHA-256 of the canonical CBOR of the text string `seed`.
Sha256Digest NoneHash(const std::string& seed);

// Chained digests of the full blocks of `tokens`. REQUIRES: block_tokens > 0.
std::vector<Sha256Digest> Sha256CborHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                           const Sha256CborOptions& opts = {});

// The u64 form used on the KV-event wire: last 8 bytes, big-endian.
uint64_t DigestToU64(const Sha256Digest& d);
std::string DigestHex(const Sha256Digest& d);

}  // namespace kvstash

#endif  // KVSTASH_CLIENT_BLOCK_HASH_H_
