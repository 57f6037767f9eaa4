#include "kvstash/block_hash.h"

#include <openssl/sha.h>
#include <xxhash.h>

#include <cstring>

#include "client/cbor_writer.h"

namespace kvstash {
namespace {

void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t HashBlockTokens(const uint32_t* tokens, size_t n, uint64_t seed) {
  // Token ids as little-endian u32: copy explicitly so big-endian hosts agree.
  std::vector<uint8_t> le(n * 4);
  for (size_t i = 0; i < n; ++i) {
    for (int b = 0; b < 4; ++b) le[i * 4 + b] = static_cast<uint8_t>(tokens[i] >> (8 * b));
  }
  return XXH3_64bits_withSeed(le.data(), le.size(), seed);
}

Sha256Digest Sha256(const std::vector<uint8_t>& bytes) {
  Sha256Digest d;
  SHA256(bytes.data(), bytes.size(), d.data());
  return d;
}

void WriteExtraKeys(client_internal::CborWriter& w, const std::vector<std::string>& keys) {
  if (keys.empty()) {
    w.Null();
    return;
  }
  w.Array(keys.size());
  for (const std::string& k : keys) w.Text(k);
}

}  // namespace

uint64_t Xxh3LocalSeed(const Xxh3HashOptions& opts) {
  uint64_t seed = opts.seed;
  if (opts.lora_name)
    seed += XXH3_64bits_withSeed(opts.lora_name->data(), opts.lora_name->size(), 0);
  if (opts.cache_namespace) {
    seed += XXH3_64bits_withSeed(opts.cache_namespace->data(), opts.cache_namespace->size(), 1);
  }
  return seed;
}

std::vector<uint64_t> Xxh3LocalHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                      const Xxh3HashOptions& opts) {
  const uint64_t seed = Xxh3LocalSeed(opts);
  std::vector<uint64_t> out;
  if (block_tokens == 0) return out;
  out.reserve(tokens.size() / block_tokens);
  for (size_t b = 0; b + block_tokens <= tokens.size(); b += block_tokens) {
    out.push_back(HashBlockTokens(tokens.data() + b, block_tokens, seed));
  }
  return out;
}

std::vector<uint64_t> Xxh3SequenceHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                         const Xxh3HashOptions& opts) {
  std::vector<uint64_t> seq = Xxh3LocalHashes(tokens, block_tokens, opts);
  uint8_t buf[16];
  for (size_t i = 1; i < seq.size(); ++i) {
    PutLe64(buf, seq[i - 1]);
    PutLe64(buf + 8, seq[i]);
    seq[i] = XXH3_64bits_withSeed(buf, sizeof(buf), opts.chain_seed);
  }
  return seq;
}

Sha256Digest NoneHash(const std::string& seed) {
  client_internal::CborWriter w;
  w.Text(seed);
  return Sha256(w.bytes());
}

std::vector<Sha256Digest> Sha256CborHashes(std::span<const uint32_t> tokens, size_t block_tokens,
                                           const Sha256CborOptions& opts) {
  std::vector<Sha256Digest> out;
  if (block_tokens == 0) return out;
  Sha256Digest parent = NoneHash(opts.none_hash_seed);
  client_internal::CborWriter w;
  for (size_t b = 0; b + block_tokens <= tokens.size(); b += block_tokens) {
    w.Clear();
    w.Array(3);
    w.Bytes(parent.data(), parent.size());
    w.Array(block_tokens);
    for (size_t i = 0; i < block_tokens; ++i) w.Uint(tokens[b + i]);
    std::vector<std::string> extra = opts.extra_keys;
    if (b == 0) {
      extra.insert(extra.end(), opts.first_block_extra_keys.begin(),
                   opts.first_block_extra_keys.end());
    }
    WriteExtraKeys(w, extra);
    parent = Sha256(w.bytes());
    out.push_back(parent);
  }
  return out;
}

uint64_t DigestToU64(const Sha256Digest& d) {
  uint64_t v = 0;
  for (int i = 24; i < 32; ++i) v = (v << 8) | d[i];
  return v;
}

std::string DigestHex(const Sha256Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

}  // namespace kvstash
