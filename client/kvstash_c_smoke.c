/* Compiled as strict C99: proves kvstash/kvstash.h is valid C and that a C
 * program links libkvstash. Checks the hash helpers against the independent
 * vectors of client/testdata/hash_vectors.txt (block_tokens 1, three tokens),
 * argument validation, and that connecting where no daemon listens fails
 * cleanly. With an address argument it also asks that daemon for its stats.
 * Exit status 0 on success. */
#include <stdio.h>
#include <string.h>

#include "kvstash/kvstash.h"

static int failures = 0;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: %s\n", __FILE__, __LINE__, #cond, \
              kvstash_last_error());                                              \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

static void check_hashes(void) {
  static const uint32_t tokens[3] = {12815, 137158, 26889};
  static const uint64_t want_xxh3[3] = {5316082539513853764ull, 11270232290005765834ull,
                                        4537525294101243590ull};
  static const uint64_t want_lora[3] = {4730859344395173697ull, 11431547768238528831ull,
                                        18086953302163742717ull};
  /* First bytes of sha256_cbor digest 0 ("vllm-none-hash") and 2 (seed "0",
   * extra key "lora-x", first-block extra key "salt"). */
  static const uint8_t want_sha0[4] = {0x18, 0xb4, 0xc5, 0x72};
  static const uint8_t want_salt2[4] = {0xfc, 0x48, 0xb7, 0x13};
  const char* lora[1] = {"lora-x"};
  const char* salt[1] = {"salt"};
  uint64_t h[3];
  uint8_t digests[3][KVSTASH_DIGEST_BYTES];
  uint64_t u64[3];
  size_t n = 0;
  int i;

  CHECK(kvstash_hash_xxh3(tokens, 3, 1, 1337, 1337, h, 3, &n) == KVSTASH_OK);
  CHECK(n == 3 && memcmp(h, want_xxh3, sizeof(h)) == 0);
  CHECK(kvstash_hash_xxh3(tokens, 3, 1, kvstash_hash_xxh3_seed(1337, "adapter-a", "tenant-7"), 0, h,
                          3, &n) == KVSTASH_OK);
  CHECK(memcmp(h, want_lora, sizeof(h)) == 0);
  CHECK(kvstash_hash_xxh3(tokens, 3, 1, 1337, 1337, h, 2, &n) == KVSTASH_OUT_OF_RANGE && n == 3);

  CHECK(kvstash_hash_sha256_cbor(tokens, 3, 1, KVSTASH_VLLM_NONE_HASH_SEED, NULL, 0, NULL, 0,
                                 digests, u64, 3, &n) == KVSTASH_OK);
  CHECK(n == 3 && memcmp(digests[0], want_sha0, sizeof(want_sha0)) == 0);
  for (i = 0; i < 3; ++i) {
    uint64_t v = 0;
    int b;
    for (b = 24; b < 32; ++b) v = (v << 8) | digests[i][b];
    CHECK(u64[i] == v);
  }
  CHECK(kvstash_hash_sha256_cbor(tokens, 3, 1, "0", salt, 1, lora, 1, digests, NULL, 3, &n) ==
        KVSTASH_OK);
  CHECK(memcmp(digests[2], want_salt2, sizeof(want_salt2)) == 0);
}

static void check_validation(void) {
  kvstash_client* client = NULL;
  kvstash_key key = kvstash_key_from_u64(7, 0x0102030405060708ull);
  size_t n = 0;
  uint8_t tier = 0;

  CHECK(key.digest_len == 8 && key.digest[0] == 0x08 && key.ns == 7);
  CHECK(kvstash_connect(NULL, &client) == KVSTASH_INVALID_ARGUMENT);
  CHECK(strstr(kvstash_last_error(), "address") != NULL);
  CHECK(kvstash_lookup(NULL, &key, 1, &n, &tier) == KVSTASH_INVALID_ARGUMENT);
  CHECK(kvstash_hash_xxh3(NULL, 4, 1, 0, 0, NULL, 0, &n) == KVSTASH_INVALID_ARGUMENT);
  CHECK(kvstash_connect("unix:/nonexistent/kvstash-smoke.sock", &client) == KVSTASH_UNAVAILABLE);
  CHECK(client == NULL);
  CHECK(strcmp(kvstash_status_name(KVSTASH_UNAVAILABLE), "UNAVAILABLE") == 0);
  kvstash_close(NULL);
  kvstash_block_free(NULL, 3);
}

static void check_daemon(const char* address) {
  kvstash_client* client = NULL;
  kvstash_tier_stats stats[4];
  size_t n = 0;
  CHECK(kvstash_connect(address, &client) == KVSTASH_OK);
  if (client == NULL) return;
  CHECK(kvstash_stats(client, stats, 4, &n) == KVSTASH_OK && n >= 1);
  kvstash_close(client);
}

int main(int argc, char** argv) {
  check_hashes();
  check_validation();
  if (argc > 1) check_daemon(argv[1]);
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("kvstash C ABI smoke test passed\n");
  return 0;
}
