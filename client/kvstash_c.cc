// The C ABI (kvstash/kvstash.h) over kvstash::Client and the block-hash
// helpers. This file validates every argument the C++ API would trust, maps
// absl::Status to int codes with a thread-local message, and keeps every C++
// exception (allocation failures included) from crossing into C.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kvstash/block_hash.h"
#include "kvstash/client.h"
#include "kvstash/kvstash.h"

struct kvstash_client {
  std::unique_ptr<kvstash::Client> impl;
};

namespace {

using kvstash::Block;
using kvstash::Client;
using kvstash::Format;
using kvstash::Geometry;
using kvstash::Key;
using kvstash::PutBlock;
using kvstash::Tier;

#define KVSTASH_SAME_CODE(c, absl_code) \
  static_assert(c == static_cast<int>(absl::StatusCode::absl_code), #c)
KVSTASH_SAME_CODE(KVSTASH_OK, kOk);
KVSTASH_SAME_CODE(KVSTASH_CANCELLED, kCancelled);
KVSTASH_SAME_CODE(KVSTASH_UNKNOWN, kUnknown);
KVSTASH_SAME_CODE(KVSTASH_INVALID_ARGUMENT, kInvalidArgument);
KVSTASH_SAME_CODE(KVSTASH_DEADLINE_EXCEEDED, kDeadlineExceeded);
KVSTASH_SAME_CODE(KVSTASH_NOT_FOUND, kNotFound);
KVSTASH_SAME_CODE(KVSTASH_ALREADY_EXISTS, kAlreadyExists);
KVSTASH_SAME_CODE(KVSTASH_PERMISSION_DENIED, kPermissionDenied);
KVSTASH_SAME_CODE(KVSTASH_RESOURCE_EXHAUSTED, kResourceExhausted);
KVSTASH_SAME_CODE(KVSTASH_FAILED_PRECONDITION, kFailedPrecondition);
KVSTASH_SAME_CODE(KVSTASH_ABORTED, kAborted);
KVSTASH_SAME_CODE(KVSTASH_OUT_OF_RANGE, kOutOfRange);
KVSTASH_SAME_CODE(KVSTASH_UNIMPLEMENTED, kUnimplemented);
KVSTASH_SAME_CODE(KVSTASH_INTERNAL, kInternal);
KVSTASH_SAME_CODE(KVSTASH_UNAVAILABLE, kUnavailable);
KVSTASH_SAME_CODE(KVSTASH_DATA_LOSS, kDataLoss);
KVSTASH_SAME_CODE(KVSTASH_UNAUTHENTICATED, kUnauthenticated);
#undef KVSTASH_SAME_CODE
static_assert(KVSTASH_TIER_REMOTE == static_cast<int>(Tier::kRemote));
static_assert(KVSTASH_FORMAT_MXFP4 == static_cast<int>(Format::kMxfp4));

// The most entries one batch can carry: Cap'n Proto's largest list.
constexpr size_t kMaxBatch = (size_t{1} << 29) - 1;
constexpr uint32_t kOwnsPayload = 1;
constexpr uint32_t kOwnsScales = 2;

thread_local std::string last_error;

int Ok() {
  last_error.clear();
  return KVSTASH_OK;
}

int Fail(const absl::Status& s) {
  last_error = std::string(s.message());
  return static_cast<int>(s.code());
}

int Invalid(absl::string_view message) { return Fail(absl::InvalidArgumentError(message)); }

// Runs `body`, turning any exception into a status: nothing C++ reaches C.
template <typename Body>
int Guard(Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(absl::ResourceExhaustedError("out of memory"));
  } catch (const std::exception& e) {
    return Fail(absl::InternalError(absl::StrCat("unexpected exception: ", e.what())));
  } catch (...) {
    return Fail(absl::InternalError("unexpected exception"));
  }
}

absl::Status CheckArray(const void* p, size_t n, absl::string_view name) {
  if (p == nullptr && n > 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is NULL but its count is ", n));
  }
  if (n > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", n, " entries; at most ", kMaxBatch, " fit in one request"));
  }
  return absl::OkStatus();
}

absl::Status CheckKey(const kvstash_key& k, absl::string_view field) {
  if (k.digest_len == 0 || k.digest_len > KVSTASH_DIGEST_BYTES) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".digest_len is ", k.digest_len,
                                                   "; expected 1 to ", KVSTASH_DIGEST_BYTES));
  }
  return absl::OkStatus();
}

Key ToKey(const kvstash_key& k) {
  Key out;
  out.ns = k.ns;
  std::memcpy(out.digest.data(), k.digest, k.digest_len);
  out.digest_bytes = k.digest_len;
  return out;
}

absl::StatusOr<std::vector<Key>> KeysFromC(const kvstash_key* keys, size_t n) {
  if (absl::Status s = CheckArray(keys, n, "keys"); !s.ok()) return s;
  std::vector<Key> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (absl::Status s = CheckKey(keys[i], absl::StrCat("keys[", i, "]")); !s.ok()) return s;
    out.push_back(ToKey(keys[i]));
  }
  return out;
}

absl::Status CheckClient(const kvstash_client* client) {
  if (client == nullptr || client->impl == nullptr) {
    return absl::InvalidArgumentError("client is NULL");
  }
  return absl::OkStatus();
}

absl::Status CheckFormat(uint8_t format, absl::string_view field) {
  if (format > KVSTASH_FORMAT_MXFP4) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", format, "; expected a KVSTASH_FORMAT_* value (0 to 4)"));
  }
  return absl::OkStatus();
}

// Builds the C++ form of blocks[i]; `scales` and `payload` stay views.
absl::StatusOr<PutBlock> PutFromC(const kvstash_put_block& b, size_t i) {
  const std::string f = absl::StrCat("blocks[", i, "]");
  if (absl::Status s = CheckKey(b.key, f + ".key"); !s.ok()) return s;
  if (b.has_parent) {
    if (absl::Status s = CheckKey(b.parent, f + ".parent"); !s.ok()) return s;
  }
  if (absl::Status s = CheckFormat(b.format, f + ".format"); !s.ok()) return s;
  if (b.scales == nullptr && b.scale_count > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".scales is NULL but scale_count is ", b.scale_count));
  }
  if (b.payload == nullptr && b.payload_len > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".payload is NULL but payload_len is ", b.payload_len));
  }
  PutBlock p;
  p.key = ToKey(b.key);
  if (b.has_parent) p.parent = ToKey(b.parent);
  p.format = static_cast<Format>(b.format);
  p.geometry = Geometry{b.geometry.layers, b.geometry.kv_heads, b.geometry.head_dim,
                        b.geometry.block_tokens, b.geometry.planes};
  if (b.scale_count > 0) p.scales = std::span<const float>(b.scales, b.scale_count);
  if (b.payload_len > 0) p.payload = std::span<const uint8_t>(b.payload, b.payload_len);
  p.priority = b.priority;
  return p;
}

int CountCall(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count,
              absl::StatusOr<size_t> (Client::*method)(std::span<const Key>)) {
  return Guard([&] {
    if (absl::Status s = CheckClient(client); !s.ok()) return Fail(s);
    if (count == nullptr) return Invalid("count is NULL");
    absl::StatusOr<std::vector<Key>> k = KeysFromC(keys, n);
    if (!k.ok()) return Fail(k.status());
    absl::StatusOr<size_t> r = (client->impl.get()->*method)(*k);
    if (!r.ok()) return Fail(r.status());
    *count = *r;
    return Ok();
  });
}

void CopyText(const std::string& s, char* dst, size_t cap) {
  const size_t n = std::min(s.size(), cap - 1);
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

// --------------------------------------------------------------- get --

void ResetBlock(kvstash_block& b, const kvstash_key& key) {
  b.payload_len = 0;
  b.scale_count = 0;
  b.key = key;
  b.found = 0;
  b.tier = KVSTASH_TIER_NONE;
  b.format = 0;
  b.dynamic_scales = 0;
  b.geometry = kvstash_geometry{};
}

// A library-owned buffer that is too small is regrown; a caller-owned one
// that is too small fails the call.
bool FitsCaller(const void* buf, size_t capacity, uint32_t owned, uint32_t bit, size_t need) {
  return buf == nullptr || (owned & bit) != 0 || capacity >= need;
}

// Makes `*buf` hold `need` elements of `elem` bytes: keeps a big enough
// buffer, (re)allocates library-owned or absent ones. False on OOM.
bool Provide(void** buf, size_t* capacity, uint32_t* owned, uint32_t bit, size_t need,
             size_t elem) {
  if (need == 0 || (*buf != nullptr && *capacity >= need)) return true;
  void* p = std::malloc(need * elem);
  if (p == nullptr) return false;
  if ((*owned & bit) != 0) std::free(*buf);
  *buf = p;
  *capacity = need;
  *owned |= bit;
  return true;
}

int FillBlocks(const std::vector<std::optional<Block>>& got, const kvstash_key* keys, size_t n,
               kvstash_block* out) {
  for (size_t i = 0; i < n; ++i) ResetBlock(out[i], keys[i]);
  for (size_t i = 0; i < n; ++i) {
    if (!got[i]) continue;
    const Block& b = *got[i];
    if (!FitsCaller(out[i].payload, out[i].payload_capacity, out[i].owned, kOwnsPayload,
                    b.payload.size()) ||
        !FitsCaller(out[i].scales, out[i].scales_capacity, out[i].owned, kOwnsScales,
                    b.scales.size())) {
      for (size_t j = 0; j < n; ++j) {
        out[j].payload_len = got[j] ? got[j]->payload.size() : 0;
        out[j].scale_count = got[j] ? got[j]->scales.size() : 0;
      }
      return Fail(absl::OutOfRangeError(absl::StrCat(
          "out[", i, "] needs ", b.payload.size(), " payload bytes and ", b.scales.size(),
          " scales; its buffers hold ", out[i].payload_capacity, " and ", out[i].scales_capacity,
          " (payload_len and scale_count now say what each entry needs)")));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!got[i]) continue;
    const Block& b = *got[i];
    kvstash_block& o = out[i];
    if (!Provide(reinterpret_cast<void**>(&o.payload), &o.payload_capacity, &o.owned, kOwnsPayload,
                 b.payload.size(), 1) ||
        !Provide(reinterpret_cast<void**>(&o.scales), &o.scales_capacity, &o.owned, kOwnsScales,
                 b.scales.size(), sizeof(float))) {
      for (size_t j = 0; j < n; ++j) ResetBlock(out[j], keys[j]);
      return Fail(absl::ResourceExhaustedError("out of memory for a block's payload"));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!got[i]) continue;
    const Block& b = *got[i];
    kvstash_block& o = out[i];
    if (!b.payload.empty()) std::memcpy(o.payload, b.payload.data(), b.payload.size());
    if (!b.scales.empty()) std::memcpy(o.scales, b.scales.data(), b.scales.size() * sizeof(float));
    o.payload_len = b.payload.size();
    o.scale_count = b.scales.size();
    o.found = 1;
    o.tier = static_cast<uint8_t>(b.tier);
    o.format = static_cast<uint8_t>(b.format);
    o.dynamic_scales = b.dynamic_scales ? 1 : 0;
    o.geometry = kvstash_geometry{b.geometry.layers, b.geometry.kv_heads, b.geometry.head_dim,
                                  b.geometry.block_tokens, b.geometry.planes};
  }
  return Ok();
}

// ------------------------------------------------------------ hashes --

absl::Status CheckHashArgs(const uint32_t* tokens, size_t n, size_t block_tokens, size_t* n_out) {
  if (tokens == nullptr && n > 0) return absl::InvalidArgumentError("tokens is NULL");
  if (block_tokens == 0) return absl::InvalidArgumentError("block_tokens is 0");
  if (n_out == nullptr) return absl::InvalidArgumentError("n_out is NULL");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TextList(const char* const* texts, size_t n,
                                                  absl::string_view name) {
  if (absl::Status s = CheckArray(texts, n, name); !s.ok()) return s;
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (texts[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(name, "[", i, "] is NULL"));
    }
    out.emplace_back(texts[i]);
  }
  return out;
}

}  // namespace

extern "C" {

const char* kvstash_last_error(void) { return last_error.c_str(); }

const char* kvstash_status_name(int status) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (status < 0 || status > KVSTASH_UNAUTHENTICATED) return "UNKNOWN_CODE";
  return kNames[status];
}

kvstash_key kvstash_key_from_u64(uint64_t ns, uint64_t hash) {
  kvstash_key k{};
  k.ns = ns;
  for (int i = 0; i < 8; ++i) k.digest[i] = static_cast<uint8_t>(hash >> (8 * i));
  k.digest_len = 8;
  return k;
}

int kvstash_connect(const char* address, kvstash_client** out) {
  return Guard([&] {
    if (address == nullptr) return Invalid("address is NULL");
    if (out == nullptr) return Invalid("out is NULL");
    auto c = kvstash::Client::Connect(address);
    if (!c.ok()) return Fail(c.status());
    *out = new kvstash_client{*std::move(c)};
    return Ok();
  });
}

void kvstash_close(kvstash_client* client) { delete client; }

int kvstash_lookup(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* matched,
                   uint8_t* tiers) {
  return Guard([&] {
    if (absl::Status s = CheckClient(client); !s.ok()) return Fail(s);
    if (matched == nullptr) return Invalid("matched is NULL");
    if (absl::Status s = CheckArray(tiers, n, "tiers"); !s.ok()) return Fail(s);
    absl::StatusOr<std::vector<kvstash::Key>> k = KeysFromC(keys, n);
    if (!k.ok()) return Fail(k.status());
    absl::StatusOr<kvstash::LookupResult> r = client->impl->Lookup(*k);
    if (!r.ok()) return Fail(r.status());
    *matched = std::min(r->matched, n);
    for (size_t i = 0; i < n; ++i) {
      const kvstash::Tier t =
          i < *matched && i < r->tiers.size() ? r->tiers[i] : kvstash::Tier::kNone;
      tiers[i] = static_cast<uint8_t>(t);
    }
    return Ok();
  });
}

int kvstash_put(kvstash_client* client, const kvstash_put_block* blocks, size_t n, size_t* stored) {
  return Guard([&] {
    if (absl::Status s = CheckClient(client); !s.ok()) return Fail(s);
    if (stored == nullptr) return Invalid("stored is NULL");
    if (absl::Status s = CheckArray(blocks, n, "blocks"); !s.ok()) return Fail(s);
    std::vector<kvstash::PutBlock> puts;
    puts.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      absl::StatusOr<kvstash::PutBlock> p = PutFromC(blocks[i], i);
      if (!p.ok()) return Fail(p.status());
      puts.push_back(*std::move(p));
    }
    absl::StatusOr<size_t> r = client->impl->Put(puts);
    if (!r.ok()) return Fail(r.status());
    *stored = *r;
    return Ok();
  });
}

int kvstash_get(kvstash_client* client, const kvstash_key* keys, size_t n, uint8_t format,
                kvstash_block* out) {
  return Guard([&] {
    if (absl::Status s = CheckClient(client); !s.ok()) return Fail(s);
    if (absl::Status s = CheckArray(out, n, "out"); !s.ok()) return Fail(s);
    if (absl::Status s = CheckFormat(format, "format"); !s.ok()) return Fail(s);
    absl::StatusOr<std::vector<kvstash::Key>> k = KeysFromC(keys, n);
    if (!k.ok()) return Fail(k.status());
    auto r = client->impl->Get(*k, static_cast<kvstash::Format>(format));
    if (!r.ok()) {
      for (size_t i = 0; i < n; ++i) ResetBlock(out[i], keys[i]);
      return Fail(r.status());
    }
    if (r->size() != n) {
      for (size_t i = 0; i < n; ++i) ResetBlock(out[i], keys[i]);
      return Fail(absl::InternalError(
          absl::StrCat("kvstashd answered ", r->size(), " blocks for ", n, " keys")));
    }
    return FillBlocks(*r, keys, n, out);
  });
}

void kvstash_block_free(kvstash_block* blocks, size_t n) {
  if (blocks == nullptr) return;
  for (size_t i = 0; i < n; ++i) {
    kvstash_block& b = blocks[i];
    if ((b.owned & kOwnsPayload) != 0) {
      std::free(b.payload);
      b.payload = nullptr;
      b.payload_capacity = 0;
    }
    if ((b.owned & kOwnsScales) != 0) {
      std::free(b.scales);
      b.scales = nullptr;
      b.scales_capacity = 0;
    }
    b.owned = 0;
  }
}

int kvstash_pin(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count) {
  return CountCall(client, keys, n, count, &kvstash::Client::Pin);
}

int kvstash_unpin(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count) {
  return CountCall(client, keys, n, count, &kvstash::Client::Unpin);
}

int kvstash_erase(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count) {
  return CountCall(client, keys, n, count, &kvstash::Client::Erase);
}

int kvstash_stats(kvstash_client* client, kvstash_tier_stats* out, size_t capacity,
                  size_t* n_tiers) {
  return Guard([&] {
    if (absl::Status s = CheckClient(client); !s.ok()) return Fail(s);
    if (n_tiers == nullptr) return Invalid("n_tiers is NULL");
    if (absl::Status s = CheckArray(out, capacity, "out"); !s.ok()) return Fail(s);
    auto r = client->impl->Stats();
    if (!r.ok()) return Fail(r.status());
    for (size_t i = 0; i < r->size() && i < capacity; ++i) {
      const kvstash::TierStats& t = (*r)[i];
      kvstash_tier_stats& o = out[i];
      o = kvstash_tier_stats{};
      CopyText(t.name, o.name, sizeof(o.name));
      o.capacity_bytes = t.capacity_bytes;
      o.used_bytes = t.used_bytes;
      o.blocks = t.blocks;
      o.hits = t.hits;
      o.misses = t.misses;
      o.bytes_in = t.bytes_in;
      o.bytes_out = t.bytes_out;
      o.evictions = t.evictions;
      o.spills = t.spills;
      o.promotions = t.promotions;
      o.checksum_failures = t.checksum_failures;
      o.read_only = t.read_only ? 1 : 0;
      CopyText(t.error, o.error, sizeof(o.error));
    }
    *n_tiers = r->size();
    return Ok();
  });
}

int kvstash_hash_xxh3(const uint32_t* tokens, size_t n, size_t block_tokens, uint64_t seed,
                      uint64_t chain_seed, uint64_t* out, size_t capacity, size_t* n_out) {
  return Guard([&] {
    if (absl::Status s = CheckHashArgs(tokens, n, block_tokens, n_out); !s.ok()) return Fail(s);
    if (out == nullptr && capacity > 0) return Invalid("out is NULL but capacity is not 0");
    const size_t need = n / block_tokens;
    *n_out = need;
    if (need > capacity) {
      return Fail(absl::OutOfRangeError(
          absl::StrCat(need, " hashes do not fit in out (capacity ", capacity, ")")));
    }
    kvstash::Xxh3HashOptions opts;
    opts.seed = seed;
    opts.chain_seed = chain_seed;
    const std::vector<uint64_t> h =
        kvstash::Xxh3SequenceHashes(std::span<const uint32_t>(tokens, n), block_tokens, opts);
    std::copy(h.begin(), h.end(), out);
    return Ok();
  });
}

uint64_t kvstash_hash_xxh3_seed(uint64_t base, const char* lora_name, const char* cache_namespace) {
  kvstash::Xxh3HashOptions opts;
  opts.seed = base;
  if (lora_name != nullptr) opts.lora_name = lora_name;
  if (cache_namespace != nullptr) opts.cache_namespace = cache_namespace;
  return kvstash::Xxh3LocalSeed(opts);
}

int kvstash_hash_sha256_cbor(const uint32_t* tokens, size_t n, size_t block_tokens,
                             const char* none_hash_seed, const char* const* first_block_extra_keys,
                             size_t n_first_block_extra_keys, const char* const* extra_keys,
                             size_t n_extra_keys, uint8_t (*digests)[KVSTASH_DIGEST_BYTES],
                             uint64_t* u64_out, size_t capacity, size_t* n_out) {
  return Guard([&] {
    if (absl::Status s = CheckHashArgs(tokens, n, block_tokens, n_out); !s.ok()) return Fail(s);
    if (none_hash_seed == nullptr) return Invalid("none_hash_seed is NULL");
    if (digests == nullptr && u64_out == nullptr && capacity > 0) {
      return Invalid("digests and u64_out are both NULL");
    }
    kvstash::Sha256CborOptions opts;
    opts.none_hash_seed = none_hash_seed;
    auto first =
        TextList(first_block_extra_keys, n_first_block_extra_keys, "first_block_extra_keys");
    if (!first.ok()) return Fail(first.status());
    auto every = TextList(extra_keys, n_extra_keys, "extra_keys");
    if (!every.ok()) return Fail(every.status());
    opts.first_block_extra_keys = *std::move(first);
    opts.extra_keys = *std::move(every);
    const size_t need = n / block_tokens;
    *n_out = need;
    if (need > capacity) {
      return Fail(absl::OutOfRangeError(
          absl::StrCat(need, " hashes do not fit in the outputs (capacity ", capacity, ")")));
    }
    const std::vector<kvstash::Sha256Digest> h =
        kvstash::Sha256CborHashes(std::span<const uint32_t>(tokens, n), block_tokens, opts);
    for (size_t i = 0; i < h.size(); ++i) {
      if (digests != nullptr) std::memcpy(digests[i], h[i].data(), KVSTASH_DIGEST_BYTES);
      if (u64_out != nullptr) u64_out[i] = kvstash::DigestToU64(h[i]);
    }
    return Ok();
  });
}

}  // extern "C"
