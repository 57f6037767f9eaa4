// The C ABI (kvstash/kvstash.h) against a real kvstashd process started by
// the test (temp data dir, loopback ports picked by the kernel), as an
// engine would use it: every function, NULL and invalid arguments, caller-
// and library-owned get buffers, many threads on one client, and a daemon
// that dies under a connected client.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "kvstash/block_hash.h"
#include "kvstash/kvstash.h"

extern char** environ;

namespace kvstash {
namespace {

// The tiny profile's geometry: 2 layers, 2 KV heads, head_dim 64, 16 tokens.
constexpr kvstash_geometry kTiny = {2, 2, 64, 16, 2};
constexpr size_t kTinyBf16Bytes = 2 * 2 * 2 * 16 * 64 * 2;

// A kvstashd child process; stopped with SIGTERM by Stop() or the destructor.
class Daemon {
 public:
  explicit Daemon(const std::vector<std::string>& extra_flags = {}) {
    std::string tmpl = ::testing::TempDir() + "/kvstash_c_test.XXXXXX";
    data_dir_ = mkdtemp(tmpl.data());
    std::vector<std::string> args = {
        KVSTASHD_BIN, "--data-dir",  data_dir_,    "--listen", "127.0.0.1:0",
        "--http",     "127.0.0.1:0", "--host-gib", "0.01",     "--disk-gib",
        "0"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stdout_fd_ = fds[0];
    ReadReadyLine();
  }

  ~Daemon() {
    Stop();
    if (stdout_fd_ >= 0) close(stdout_fd_);
    if (!data_dir_.empty()) std::system(("rm -rf '" + data_dir_ + "'").c_str());
  }

  // SIGTERM, then waits; returns the exit status (or -1 if already stopped).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  const std::string& socket() const { return socket_; }
  const std::string& tcp() const { return tcp_; }

 private:
  // "kvstashd ready pid=N socket=PATH tcp=HOST:PORT http=HOST:PORT"
  void ReadReadyLine() {
    std::string line;
    char c;
    while (read(stdout_fd_, &c, 1) == 1 && c != '\n') line.push_back(c);
    ASSERT_EQ(line.rfind("kvstashd ready", 0), 0u) << "kvstashd did not start: '" << line << "'";
    std::map<std::string, std::string> fields;
    for (absl::string_view kv : absl::StrSplit(line, ' ')) {
      std::vector<std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (p.size() == 2) fields[p[0]] = p[1];
    }
    socket_ = fields["socket"];
    tcp_ = fields["tcp"];
  }

  std::string data_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string socket_, tcp_;
};

std::vector<uint8_t> Payload(uint32_t seed) {
  std::vector<uint8_t> p(kTinyBf16Bytes);
  for (size_t i = 0; i < p.size(); i += 2) {
    // bf16 values in [1, 2): exponent 127, a few mantissa bits from the seed.
    const uint16_t v = 0x3f80 | ((seed * 31 + i) & 0x7f);
    p[i] = static_cast<uint8_t>(v);
    p[i + 1] = static_cast<uint8_t>(v >> 8);
  }
  return p;
}

kvstash_put_block Bf16Block(const kvstash_key& key, const std::vector<uint8_t>& payload) {
  kvstash_put_block b{};
  b.key = key;
  b.format = KVSTASH_FORMAT_BF16;
  b.geometry = kTiny;
  b.payload = payload.data();
  b.payload_len = payload.size();
  return b;
}

// One daemon (bf16 storage, so round trips are exact) for the suite.
class CAbiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = new Daemon({"--storage-format", "bf16"}); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(kvstash_connect(daemon_->socket().c_str(), &client_), KVSTASH_OK)
        << kvstash_last_error();
  }
  void TearDown() override { kvstash_close(client_); }

  // Puts one tiny bf16 block under `key`.
  void Put(const kvstash_key& key, uint32_t seed, const kvstash_key* parent = nullptr) {
    const std::vector<uint8_t> payload = Payload(seed);
    kvstash_put_block b = Bf16Block(key, payload);
    if (parent != nullptr) {
      b.parent = *parent;
      b.has_parent = 1;
    }
    size_t stored = 0;
    ASSERT_EQ(kvstash_put(client_, &b, 1, &stored), KVSTASH_OK) << kvstash_last_error();
    EXPECT_EQ(stored, 1u);
  }

  static Daemon* daemon_;
  kvstash_client* client_ = nullptr;
};

Daemon* CAbiTest::daemon_ = nullptr;

TEST_F(CAbiTest, StatsListsTiersAndAnswersCountQueries) {
  size_t n = 0;
  ASSERT_EQ(kvstash_stats(client_, nullptr, 0, &n), KVSTASH_OK) << kvstash_last_error();
  ASSERT_GE(n, 1u);
  std::vector<kvstash_tier_stats> stats(n);
  ASSERT_EQ(kvstash_stats(client_, stats.data(), stats.size(), &n), KVSTASH_OK);
  EXPECT_STREQ(stats[0].name, "host");
  EXPECT_GT(stats[0].capacity_bytes, 0u);
  EXPECT_STREQ(stats[0].error, "");
  EXPECT_STREQ(kvstash_last_error(), "");
}

TEST_F(CAbiTest, ConnectsOverTcpToo) {
  kvstash_client* tcp = nullptr;
  ASSERT_EQ(kvstash_connect(daemon_->tcp().c_str(), &tcp), KVSTASH_OK) << kvstash_last_error();
  size_t n = 0;
  EXPECT_EQ(kvstash_stats(tcp, nullptr, 0, &n), KVSTASH_OK);
  kvstash_close(tcp);
}

TEST_F(CAbiTest, PutThenGetWithLibraryBuffers) {
  const kvstash_key key = kvstash_key_from_u64(1, 1001);
  Put(key, 1);
  const kvstash_key keys[2] = {key, kvstash_key_from_u64(1, 999999)};
  kvstash_block out[2] = {};
  ASSERT_EQ(kvstash_get(client_, keys, 2, KVSTASH_FORMAT_BF16, out), KVSTASH_OK)
      << kvstash_last_error();
  ASSERT_EQ(out[0].found, 1);
  EXPECT_EQ(out[0].tier, KVSTASH_TIER_HOST);
  EXPECT_EQ(out[0].format, KVSTASH_FORMAT_BF16);
  EXPECT_EQ(out[0].geometry.layers, kTiny.layers);
  EXPECT_EQ(out[0].geometry.planes, 2u);
  EXPECT_EQ(out[0].scale_count, 0u);
  const std::vector<uint8_t> want = Payload(1);
  ASSERT_EQ(out[0].payload_len, want.size());
  EXPECT_EQ(std::memcmp(out[0].payload, want.data(), want.size()), 0);
  EXPECT_EQ(out[0].key.ns, 1u);
  EXPECT_EQ(out[1].found, 0);
  EXPECT_EQ(out[1].payload, nullptr);
  EXPECT_EQ(out[1].key.ns, 1u);

  // NVFP4 on request: converted, with one global scale per (layer, plane).
  ASSERT_EQ(kvstash_get(client_, keys, 1, KVSTASH_FORMAT_NVFP4, out), KVSTASH_OK);
  EXPECT_EQ(out[0].format, KVSTASH_FORMAT_NVFP4);
  EXPECT_EQ(out[0].scale_count, 4u);
  EXPECT_LT(out[0].payload_len, want.size());
  EXPECT_GT(out[0].scales[0], 0.0f);
  // The earlier buffers are reused; one free releases them.
  kvstash_block_free(out, 2);
  EXPECT_EQ(out[0].payload, nullptr);
  EXPECT_EQ(out[0].scales, nullptr);
  EXPECT_EQ(out[0].owned, 0u);
}

TEST_F(CAbiTest, GetIntoCallerBuffersAndReportsWhatIsNeeded) {
  const kvstash_key key = kvstash_key_from_u64(2, 2002);
  Put(key, 2);
  std::vector<uint8_t> small(100, 0xee);
  float scales[8];
  kvstash_block out{};
  out.payload = small.data();
  out.payload_capacity = small.size();
  out.scales = scales;
  out.scales_capacity = 8;
  EXPECT_EQ(kvstash_get(client_, &key, 1, KVSTASH_FORMAT_BF16, &out), KVSTASH_OUT_OF_RANGE);
  EXPECT_NE(std::string(kvstash_last_error()).find("out[0]"), std::string::npos);
  EXPECT_EQ(out.payload_len, kTinyBf16Bytes);
  EXPECT_EQ(out.found, 0);
  EXPECT_EQ(small[0], 0xee);  // nothing copied

  std::vector<uint8_t> big(out.payload_len);
  out.payload = big.data();
  out.payload_capacity = big.size();
  ASSERT_EQ(kvstash_get(client_, &key, 1, KVSTASH_FORMAT_FP8_E4M3, &out), KVSTASH_OK)
      << kvstash_last_error();
  EXPECT_EQ(out.found, 1);
  EXPECT_EQ(out.payload, big.data());
  EXPECT_EQ(out.scales, scales);
  EXPECT_EQ(out.scale_count, 4u);
  EXPECT_EQ(out.payload_len, kTinyBf16Bytes / 2);
  EXPECT_EQ(out.owned, 0u);
  kvstash_block_free(&out, 1);  // caller buffers are left alone
  EXPECT_EQ(out.payload, big.data());
}

TEST_F(CAbiTest, LookupFollowsThePrefixAndPinUnpinEraseCount) {
  kvstash_key keys[4];
  for (int i = 0; i < 4; ++i) keys[i] = kvstash_key_from_u64(3, 3000 + i);
  Put(keys[0], 10);
  Put(keys[1], 11, &keys[0]);
  Put(keys[2], 12, &keys[1]);
  size_t matched = 99;
  uint8_t tiers[4];
  std::memset(tiers, 0xff, sizeof(tiers));
  ASSERT_EQ(kvstash_lookup(client_, keys, 4, &matched, tiers), KVSTASH_OK);
  EXPECT_EQ(matched, 3u);
  EXPECT_EQ(tiers[0], KVSTASH_TIER_HOST);
  EXPECT_EQ(tiers[2], KVSTASH_TIER_HOST);
  EXPECT_EQ(tiers[3], KVSTASH_TIER_NONE);

  size_t count = 0;
  EXPECT_EQ(kvstash_pin(client_, keys, 4, &count), KVSTASH_OK);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(kvstash_unpin(client_, keys, 4, &count), KVSTASH_OK);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(kvstash_erase(client_, &keys[1], 1, &count), KVSTASH_OK);
  EXPECT_EQ(count, 1u);
  ASSERT_EQ(kvstash_lookup(client_, keys, 4, &matched, tiers), KVSTASH_OK);
  EXPECT_EQ(matched, 1u);
  EXPECT_EQ(tiers[1], KVSTASH_TIER_NONE);
  // An empty batch is fine, NULL arrays included.
  EXPECT_EQ(kvstash_lookup(client_, nullptr, 0, &matched, nullptr), KVSTASH_OK);
  EXPECT_EQ(matched, 0u);
}

TEST_F(CAbiTest, Sha256DigestKeysRoundTrip) {
  const uint32_t tokens[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  uint8_t digests[2][KVSTASH_DIGEST_BYTES];
  size_t n = 0;
  ASSERT_EQ(kvstash_hash_sha256_cbor(tokens, 32, 16, KVSTASH_VLLM_NONE_HASH_SEED, nullptr, 0,
                                     nullptr, 0, digests, nullptr, 2, &n),
            KVSTASH_OK);
  kvstash_key key{};
  key.ns = 4;
  std::memcpy(key.digest, digests[1], 32);
  key.digest_len = 32;
  Put(key, 4);
  kvstash_block out{};
  ASSERT_EQ(kvstash_get(client_, &key, 1, KVSTASH_FORMAT_BF16, &out), KVSTASH_OK);
  EXPECT_EQ(out.found, 1);
  EXPECT_EQ(out.key.digest_len, 32);
  EXPECT_EQ(std::memcmp(out.key.digest, digests[1], 32), 0);
  kvstash_block_free(&out, 1);
}

TEST_F(CAbiTest, NullAndInvalidArgumentsAreRejected) {
  const kvstash_key key = kvstash_key_from_u64(5, 5005);
  size_t n = 0;
  uint8_t tier = 0;
  kvstash_block block{};
  EXPECT_EQ(kvstash_connect("x", nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_lookup(nullptr, &key, 1, &n, &tier), KVSTASH_INVALID_ARGUMENT);
  EXPECT_STREQ(kvstash_last_error(), "client is NULL");
  EXPECT_EQ(kvstash_lookup(client_, nullptr, 1, &n, &tier), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_lookup(client_, &key, 1, nullptr, &tier), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_lookup(client_, &key, 1, &n, nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_get(client_, &key, 1, KVSTASH_FORMAT_BF16, nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_get(client_, &key, 1, 5, &block), KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("format"), std::string::npos);
  EXPECT_EQ(kvstash_pin(client_, &key, 1, nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_unpin(nullptr, &key, 1, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_erase(client_, nullptr, 2, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_stats(client_, nullptr, 1, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_stats(client_, nullptr, 0, nullptr), KVSTASH_INVALID_ARGUMENT);

  kvstash_key bad = key;
  bad.digest_len = 33;
  EXPECT_EQ(kvstash_lookup(client_, &bad, 1, &n, &tier), KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("keys[0].digest_len"), std::string::npos);
  bad.digest_len = 0;
  EXPECT_EQ(kvstash_erase(client_, &bad, 1, &n), KVSTASH_INVALID_ARGUMENT);

  const std::vector<uint8_t> payload = Payload(5);
  kvstash_put_block b = Bf16Block(key, payload);
  EXPECT_EQ(kvstash_put(client_, &b, 1, nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_put(client_, nullptr, 1, &n), KVSTASH_INVALID_ARGUMENT);
  b.payload = nullptr;
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  b.payload = payload.data();
  b.scale_count = 4;
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  b.scale_count = 0;
  b.has_parent = 1;  // parent.digest_len is 0
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("blocks[0].parent"), std::string::npos);
  b.has_parent = 0;
  b.format = 9;
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  // Validated by the daemon: the payload does not match the geometry.
  b.format = KVSTASH_FORMAT_BF16;
  b.payload_len = payload.size() - 2;
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("blocks[0].payload"), std::string::npos);
  b.payload_len = payload.size();
  b.geometry.planes = 0;
  EXPECT_EQ(kvstash_put(client_, &b, 1, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("planes"), std::string::npos);
  // Nothing of the failed puts was stored.
  size_t matched = 1;
  ASSERT_EQ(kvstash_lookup(client_, &key, 1, &matched, &tier), KVSTASH_OK);
  EXPECT_EQ(matched, 0u);
  EXPECT_STREQ(kvstash_last_error(), "");
}

TEST_F(CAbiTest, OneClientServesManyThreads) {
  constexpr int kThreads = 8, kBlocks = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlocks; ++i) {
        const kvstash_key key = kvstash_key_from_u64(6, 6000 + t * 100 + i);
        const std::vector<uint8_t> payload = Payload(t * 100 + i);
        const kvstash_put_block b = Bf16Block(key, payload);
        size_t stored = 0, matched = 0;
        uint8_t tier = 0;
        kvstash_block out{};
        if (kvstash_put(client_, &b, 1, &stored) != KVSTASH_OK ||
            kvstash_lookup(client_, &key, 1, &matched, &tier) != KVSTASH_OK || matched != 1 ||
            kvstash_get(client_, &key, 1, KVSTASH_FORMAT_BF16, &out) != KVSTASH_OK ||
            out.found != 1 || out.payload_len != payload.size() ||
            std::memcmp(out.payload, payload.data(), payload.size()) != 0) {
          ++failures;
        }
        kvstash_block_free(&out, 1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(CAbiTest, LastErrorIsPerThread) {
  size_t n = 0;
  EXPECT_EQ(kvstash_stats(nullptr, nullptr, 0, &n), KVSTASH_INVALID_ARGUMENT);
  std::string other = "unset";
  std::thread([&] { other = kvstash_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_STREQ(kvstash_last_error(), "client is NULL");
}

TEST(CAbiDaemonTest, ConnectWithoutDaemonIsUnavailable) {
  kvstash_client* client = nullptr;
  EXPECT_EQ(kvstash_connect("unix:/nonexistent/kvstashd.sock", &client), KVSTASH_UNAVAILABLE);
  EXPECT_EQ(client, nullptr);
  EXPECT_NE(std::string(kvstash_last_error()).find("kvstashd"), std::string::npos);
  EXPECT_EQ(kvstash_connect("127.0.0.1:1", &client), KVSTASH_UNAVAILABLE);
}

TEST(CAbiDaemonTest, DeadDaemonMakesCallsUnavailable) {
  Daemon daemon;
  kvstash_client* client = nullptr;
  ASSERT_EQ(kvstash_connect(daemon.socket().c_str(), &client), KVSTASH_OK);
  const kvstash_key key = kvstash_key_from_u64(7, 7007);
  size_t n = 0;
  uint8_t tier = 0;
  ASSERT_EQ(kvstash_lookup(client, &key, 1, &n, &tier), KVSTASH_OK);
  const int status = daemon.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(kvstash_lookup(client, &key, 1, &n, &tier), KVSTASH_UNAVAILABLE);
  kvstash_block out{};
  EXPECT_EQ(kvstash_get(client, &key, 1, KVSTASH_FORMAT_BF16, &out), KVSTASH_UNAVAILABLE);
  EXPECT_EQ(out.found, 0);
  const std::vector<uint8_t> payload = Payload(7);
  const kvstash_put_block b = Bf16Block(key, payload);
  EXPECT_EQ(kvstash_put(client, &b, 1, &n), KVSTASH_UNAVAILABLE);
  EXPECT_EQ(kvstash_pin(client, &key, 1, &n), KVSTASH_UNAVAILABLE);
  EXPECT_EQ(kvstash_stats(client, nullptr, 0, &n), KVSTASH_UNAVAILABLE);
  kvstash_close(client);
}

TEST(CAbiHashTest, MatchesTheCppHelpers) {
  std::vector<uint32_t> tokens(70);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 7919 + 3);
  Xxh3HashOptions xo;
  xo.seed = 42;
  xo.chain_seed = 0;
  xo.lora_name = "lora";
  const std::vector<uint64_t> want = Xxh3SequenceHashes(tokens, 16, xo);
  std::vector<uint64_t> got(8);
  size_t n = 0;
  ASSERT_EQ(
      kvstash_hash_xxh3(tokens.data(), tokens.size(), 16,
                        kvstash_hash_xxh3_seed(42, "lora", nullptr), 0, got.data(), got.size(), &n),
      KVSTASH_OK);
  ASSERT_EQ(n, 4u);
  got.resize(n);
  EXPECT_EQ(got, want);

  Sha256CborOptions so;
  so.none_hash_seed = "0";
  so.extra_keys = {"a", "b"};
  so.first_block_extra_keys = {"salt"};
  const std::vector<Sha256Digest> want_d = Sha256CborHashes(tokens, 16, so);
  const char* extra[2] = {"a", "b"};
  const char* first[1] = {"salt"};
  uint8_t digests[4][KVSTASH_DIGEST_BYTES];
  uint64_t u64[4];
  ASSERT_EQ(kvstash_hash_sha256_cbor(tokens.data(), tokens.size(), 16, "0", first, 1, extra, 2,
                                     digests, u64, 4, &n),
            KVSTASH_OK);
  ASSERT_EQ(n, 4u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(std::memcmp(digests[i], want_d[i].data(), 32), 0) << i;
    EXPECT_EQ(u64[i], DigestToU64(want_d[i])) << i;
  }
}

TEST(CAbiHashTest, ValidatesArgumentsAndCapacity) {
  const uint32_t tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t out[4];
  uint8_t digests[4][KVSTASH_DIGEST_BYTES];
  size_t n = 0;
  EXPECT_EQ(kvstash_hash_xxh3(tokens, 8, 0, 0, 0, out, 4, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_hash_xxh3(tokens, 8, 2, 0, 0, out, 4, nullptr), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_hash_xxh3(tokens, 8, 2, 0, 0, nullptr, 4, &n), KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(kvstash_hash_xxh3(tokens, 8, 2, 0, 0, nullptr, 0, &n), KVSTASH_OUT_OF_RANGE);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(kvstash_hash_xxh3(tokens, 7, 8, 0, 0, nullptr, 0, &n), KVSTASH_OK);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(kvstash_hash_xxh3(nullptr, 0, 4, 0, 0, nullptr, 0, &n), KVSTASH_OK);

  EXPECT_EQ(kvstash_hash_sha256_cbor(tokens, 8, 2, nullptr, nullptr, 0, nullptr, 0, digests,
                                     nullptr, 4, &n),
            KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(
      kvstash_hash_sha256_cbor(tokens, 8, 2, "s", nullptr, 0, nullptr, 0, nullptr, nullptr, 4, &n),
      KVSTASH_INVALID_ARGUMENT);
  EXPECT_EQ(
      kvstash_hash_sha256_cbor(tokens, 8, 2, "s", nullptr, 1, nullptr, 0, digests, nullptr, 4, &n),
      KVSTASH_INVALID_ARGUMENT);
  const char* with_null[2] = {"x", nullptr};
  EXPECT_EQ(kvstash_hash_sha256_cbor(tokens, 8, 2, "s", nullptr, 0, with_null, 2, digests, nullptr,
                                     4, &n),
            KVSTASH_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvstash_last_error()).find("extra_keys[1]"), std::string::npos);
  EXPECT_EQ(
      kvstash_hash_sha256_cbor(tokens, 8, 2, "s", nullptr, 0, nullptr, 0, digests, nullptr, 3, &n),
      KVSTASH_OUT_OF_RANGE);
  EXPECT_EQ(n, 4u);
}

TEST(CAbiMiscTest, StatusNamesAndFreeingNothing) {
  EXPECT_STREQ(kvstash_status_name(KVSTASH_OK), "OK");
  EXPECT_STREQ(kvstash_status_name(KVSTASH_DATA_LOSS), "DATA_LOSS");
  EXPECT_STREQ(kvstash_status_name(-1), "UNKNOWN_CODE");
  EXPECT_STREQ(kvstash_status_name(17), "UNKNOWN_CODE");
  kvstash_close(nullptr);
  kvstash_block_free(nullptr, 4);
  kvstash_block zero[2] = {};
  kvstash_block_free(zero, 2);
  EXPECT_EQ(zero[1].payload, nullptr);
}

}  // namespace
}  // namespace kvstash
