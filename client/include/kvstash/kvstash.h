/* The C ABI of libkvstash: the engine-facing client of a kvstashd (DESIGN.md
 * "Node service (kvstashd) and client"), for C99 callers and for Python
 * through ctypes. It wraps the C++ API of kvstash/client.h and
 * kvstash/block_hash.h; the semantics of every call are theirs.
 *
 * Errors: every function that can fail returns an int status code, one of
 * KVSTASH_OK .. KVSTASH_UNAUTHENTICATED (the numeric values of absl's status
 * codes). On failure kvstash_last_error() describes what went wrong, naming
 * the argument or field; a miss is not a failure. Every pointer argument is
 * checked: NULL where memory is needed is KVSTASH_INVALID_ARGUMENT, never a
 * crash. An array argument may be NULL only when its count is 0. Output
 * arguments are written only on success unless a function says otherwise.
 *
 * Ownership: the library never keeps a pointer the caller passed in after the
 * call returns. Memory the library allocates is released by the matching
 * kvstash_*_free / kvstash_close call; see kvstash_get for payload buffers.
 *
 * Thread safety: a kvstash_client may be used from any number of threads at
 * once (each call marshals onto the client's I/O thread and blocks until the
 * answer arrives). kvstash_close must not race other calls on the same
 * client. kvstash_last_error() is per thread. The hash helpers are pure.
 *
 * Layouts use only fixed-width integers, float, char and pointers, so a
 * Python ctypes.Structure mirrors each struct field by field.
 */
#ifndef KVSTASH_KVSTASH_H_
#define KVSTASH_KVSTASH_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: the values of absl::StatusCode. */
enum {
  KVSTASH_OK = 0,
  KVSTASH_CANCELLED = 1,
  KVSTASH_UNKNOWN = 2,
  KVSTASH_INVALID_ARGUMENT = 3,
  KVSTASH_DEADLINE_EXCEEDED = 4,
  KVSTASH_NOT_FOUND = 5,
  KVSTASH_ALREADY_EXISTS = 6,
  KVSTASH_PERMISSION_DENIED = 7,
  KVSTASH_RESOURCE_EXHAUSTED = 8,
  KVSTASH_FAILED_PRECONDITION = 9,
  KVSTASH_ABORTED = 10,
  KVSTASH_OUT_OF_RANGE = 11,
  KVSTASH_UNIMPLEMENTED = 12,
  KVSTASH_INTERNAL = 13,
  KVSTASH_UNAVAILABLE = 14, /* no daemon at the address, or the connection dropped */
  KVSTASH_DATA_LOSS = 15,
  KVSTASH_UNAUTHENTICATED = 16
};

/* Where a block is held (kvstash_lookup, kvstash_block.tier). */
enum {
  KVSTASH_TIER_NONE = 0,
  KVSTASH_TIER_DEVICE = 1,
  KVSTASH_TIER_HOST = 2,
  KVSTASH_TIER_DISK = 3,
  KVSTASH_TIER_REMOTE = 4
};

/* Block payload formats (NVFP4.md). */
enum {
  KVSTASH_FORMAT_BF16 = 0,
  KVSTASH_FORMAT_FP16 = 1,
  KVSTASH_FORMAT_FP8_E4M3 = 2,
  KVSTASH_FORMAT_NVFP4 = 3,
  KVSTASH_FORMAT_MXFP4 = 4
};

#define KVSTASH_DIGEST_BYTES 32
/* vLLM's NONE_HASH seed when PYTHONHASHSEED is unset. */
#define KVSTASH_VLLM_NONE_HASH_SEED "vllm-none-hash"

typedef struct kvstash_client kvstash_client; /* opaque */

/* (namespace, sequence hash). A 64-bit hash sits little-endian in
 * digest[0..8) with digest_len 8 (kvstash_key_from_u64); a vLLM sha256_cbor
 * digest fills all 32 bytes. digest_len must be 1..32. */
typedef struct kvstash_key {
  uint64_t ns;
  uint8_t digest[KVSTASH_DIGEST_BYTES];
  uint8_t digest_len;
} kvstash_key;

typedef struct kvstash_geometry {
  uint32_t layers;
  uint32_t kv_heads;
  uint32_t head_dim;
  uint32_t block_tokens;
  uint32_t planes; /* 2: K and V; 1: MLA latent. 0 is invalid. */
} kvstash_geometry;

/* One block to store. The library copies nothing it does not need: payload
 * and scales are read during the call only. */
typedef struct kvstash_put_block {
  kvstash_key key;
  kvstash_key parent; /* previous block of the prefix chain, if has_parent */
  uint8_t has_parent; /* 0: no parent */
  uint8_t format;     /* KVSTASH_FORMAT_* of payload */
  uint8_t priority;   /* eviction class: lower is evicted first */
  kvstash_geometry geometry;
  const float* scales; /* nvfp4 g_dec / fp8 s per (layer, plane); NULL with 0: dynamic */
  size_t scale_count;
  const uint8_t* payload;
  size_t payload_len;
} kvstash_put_block;

/* One block returned by kvstash_get.
 *
 * Buffers: for each of payload and scales independently, a non-NULL pointer
 * on input is a caller-owned buffer of *_capacity bytes (payload) or floats
 * (scales) that the library fills; a NULL pointer asks the library to
 * allocate one (malloc) exactly as large as needed, which kvstash_block_free
 * releases. A library-allocated buffer left in an entry is reused by the next
 * kvstash_get on it (regrown when too small), so an array of entries can
 * serve many calls and be freed once. REQUIRES: the entries are initialised
 * before the first call (zero them, or set the buffer fields); the library
 * keeps track of what it allocated in `owned`, which callers must leave
 * alone. */
typedef struct kvstash_block {
  /* In/out: buffers (see above). */
  uint8_t* payload;
  size_t payload_capacity;
  float* scales;
  size_t scales_capacity;
  /* Out. */
  size_t payload_len; /* bytes of payload written */
  size_t scale_count; /* floats of scales written */
  kvstash_key key;
  uint8_t found;          /* 0: a miss; then the fields below are zero */
  uint8_t tier;           /* KVSTASH_TIER_* it was found in */
  uint8_t format;         /* KVSTASH_FORMAT_* of payload */
  uint8_t dynamic_scales; /* scales computed from this block, not calibrated */
  kvstash_geometry geometry;
  uint32_t owned; /* internal: which buffers the library allocated */
} kvstash_block;

typedef struct kvstash_tier_stats {
  char name[32]; /* NUL-terminated: "device", "host", "disk" */
  uint64_t capacity_bytes;
  uint64_t used_bytes;
  uint64_t blocks;
  uint64_t hits;
  uint64_t misses;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t evictions;
  uint64_t spills;
  uint64_t promotions;
  uint64_t checksum_failures;
  uint8_t read_only;
  char error[256]; /* NUL-terminated, "" when healthy; truncated if longer */
} kvstash_tier_stats;

/* The message of the last failed kvstash_* call on this thread, "" after a
 * successful one. Valid until the next kvstash_* call on this thread. */
const char* kvstash_last_error(void);
/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_CODE" for other values. Static. */
const char* kvstash_status_name(int status);

/* A key holding a 64-bit hash (Dynamo XXH3 chain, or a vLLM hash's u64 form). */
kvstash_key kvstash_key_from_u64(uint64_t ns, uint64_t hash);

/* Connects to the kvstashd at `address`: "unix:/path", a socket path, or
 * "host:port". Fails with KVSTASH_UNAVAILABLE when nothing answers there. On
 * success *out owns the connection; release it with kvstash_close. */
int kvstash_connect(const char* address, kvstash_client** out);
/* Closes the connection and frees the client. NULL is a no-op. */
void kvstash_close(kvstash_client* client);

/* The longest prefix keys[0, *matched) held in any tier, and the tier of
 * each key in tiers[0, n) (KVSTASH_TIER_NONE from *matched on). */
int kvstash_lookup(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* matched,
                   uint8_t* tiers);

/* Stores every block or none: the daemon validates the whole batch first.
 * *stored: the number of blocks stored (n on success). */
int kvstash_put(kvstash_client* client, const kvstash_put_block* blocks, size_t n, size_t* stored);

/* Fetches keys[0, n) in `format` (converted when stored otherwise) into
 * out[0, n), one entry per key; a miss has found == 0 and is not an error.
 * Buffers are caller-owned or library-allocated per entry (kvstash_block).
 * When a caller-owned buffer is too small the call fails with
 * KVSTASH_OUT_OF_RANGE, copies nothing, and leaves in payload_len and
 * scale_count of every entry the sizes it needs (0 for misses), so the caller
 * can grow its buffers and retry. On any other failure no entry is found and
 * nothing is allocated. */
int kvstash_get(kvstash_client* client, const kvstash_key* keys, size_t n, uint8_t format,
                kvstash_block* out);
/* Frees the library-allocated buffers of blocks[0, n) and resets their
 * pointers to NULL; caller-owned buffers are left alone. NULL is a no-op. */
void kvstash_block_free(kvstash_block* blocks, size_t n);

/* Pin (never evicted), unpin and erase keys[0, n); *count: how many keys it
 * applied to (keys not held are skipped). */
int kvstash_pin(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count);
int kvstash_unpin(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count);
int kvstash_erase(kvstash_client* client, const kvstash_key* keys, size_t n, size_t* count);

/* Fills out[0, min(capacity, *n_tiers)) with the daemon's per-tier counters,
 * fastest tier first, and sets *n_tiers to the number of tiers. out may be
 * NULL when capacity is 0 (to ask how many there are). */
int kvstash_stats(kvstash_client* client, kvstash_tier_stats* out, size_t capacity,
                  size_t* n_tiers);

/* Block hashes of the full blocks of tokens[0, n) (a partial tail block has
 * none): n / block_tokens of them. Each output array must hold `capacity`
 * entries; *n_out is set to n / block_tokens, and if that exceeds capacity
 * the call fails with KVSTASH_OUT_OF_RANGE and writes no hash. */

/* Dynamo's XXH3-64 chain (INTEROP.md): `seed` is the per-block seed (1337, or
 * kvstash_hash_xxh3_seed's with LoRA/namespace), `chain_seed` the chaining
 * seed (1337 or 0, by Dynamo version). */
int kvstash_hash_xxh3(const uint32_t* tokens, size_t n, size_t block_tokens, uint64_t seed,
                      uint64_t chain_seed, uint64_t* out, size_t capacity, size_t* n_out);
/* The effective per-block seed: `base` plus Dynamo's LoRA and cache-namespace
 * terms. lora_name and cache_namespace may be NULL (absent). */
uint64_t kvstash_hash_xxh3_seed(uint64_t base, const char* lora_name, const char* cache_namespace);

/* vLLM's sha256_cbor chain. none_hash_seed: PYTHONHASHSEED when the engine
 * sets it, else KVSTASH_VLLM_NONE_HASH_SEED. Extra keys (text, e.g. a cache
 * salt for the first block, a LoRA name for every block) may be NULL when
 * their count is 0. digests receives the 32-byte digests, u64_out their u64
 * wire form (last 8 bytes, big-endian); either may be NULL when not wanted,
 * not both (unless capacity is 0: a query for the count). */
int kvstash_hash_sha256_cbor(const uint32_t* tokens, size_t n, size_t block_tokens,
                             const char* none_hash_seed, const char* const* first_block_extra_keys,
                             size_t n_first_block_extra_keys, const char* const* extra_keys,
                             size_t n_extra_keys, uint8_t (*digests)[KVSTASH_DIGEST_BYTES],
                             uint64_t* u64_out, size_t capacity, size_t* n_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KVSTASH_KVSTASH_H_ */
