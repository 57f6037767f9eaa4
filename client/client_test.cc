// libkvstash against a real kvstashd process: batched calls, zero-copy gets
// through the shared host arena (Unix socket) and copies over TCP, slot
// pinning while views live, and errors.
#include "kvstash/client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "client/daemon_process_testing.h"

namespace kvstash {
namespace {

constexpr Geometry kTiny{2, 2, 64, 16, 2};
constexpr size_t kTinyValues = 2 * 2 * 2 * 16 * 64;

std::vector<uint8_t> Bf16Block(int seed) {
  std::vector<uint8_t> b(kTinyValues * 2);
  for (size_t i = 0; i < kTinyValues; ++i) {
    const float x = static_cast<float>((i * 2654435761u + seed) % 1000) / 500.0f - 1.0f;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    b[2 * i] = static_cast<uint8_t>(u >> 16);
    b[2 * i + 1] = static_cast<uint8_t>(u >> 24);
  }
  return b;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest()
      : daemon_(::testing::TempDir() + "/kvstash_client_test", "--host-gib 0.01 --disk-gib 0") {}
  void PutChain(Client& c, int n) {
    for (int i = 0; i < n; ++i) {
      blocks_.push_back(Bf16Block(i));
      PutBlock p;
      p.key = Key::FromU64(100 + i);
      if (i > 0) p.parent = Key::FromU64(99 + i);
      p.format = Format::kBf16;
      p.geometry = kTiny;
      p.payload = blocks_.back();
      ASSERT_EQ(*c.Put(std::span<const PutBlock>(&p, 1)), 1u);
    }
  }
  DaemonProcess daemon_;
  std::vector<std::vector<uint8_t>> blocks_;
};

TEST_F(ClientTest, ZeroCopyOverUnixSocketMatchesCopies) {
  ASSERT_FALSE(daemon_.socket().empty());
  auto c = Client::Connect(daemon_.socket());
  ASSERT_TRUE(c.ok()) << c.status();
  PutChain(**c, 3);
  const std::vector<Key> keys = {Key::FromU64(100), Key::FromU64(101), Key::FromU64(7)};
  auto views = (*c)->GetViews(keys, Format::kNvfp4);
  ASSERT_TRUE(views.ok()) << views.status();
  auto copies = (*c)->Get(keys, Format::kNvfp4);
  ASSERT_TRUE(copies.ok()) << copies.status();
  for (int i = 0; i < 2; ++i) {
    const BlockView& v = (*views)[i];
    EXPECT_TRUE(v.zero_copy);
    EXPECT_EQ(v.tier, Tier::kHost);
    ASSERT_TRUE((*copies)[i].has_value());
    EXPECT_EQ(std::string(v.payload.begin(), v.payload.end()), (*copies)[i]->payload);
    EXPECT_EQ(v.scales, (*copies)[i]->scales);
  }
  EXPECT_EQ((*views)[2].tier, Tier::kNone);
  EXPECT_FALSE((*copies)[2].has_value());
}

TEST_F(ClientTest, ViewsStayValidWhileTheBlockIsErasedAndReplaced) {
  auto c = Client::Connect(daemon_.socket());
  ASSERT_TRUE(c.ok()) << c.status();
  PutChain(**c, 1);
  const Key k = Key::FromU64(100);
  auto views = (*c)->GetViews(std::span<const Key>(&k, 1), Format::kNvfp4);
  ASSERT_TRUE(views.ok());
  ASSERT_TRUE((*views)[0].zero_copy);
  const std::string before((*views)[0].payload.begin(), (*views)[0].payload.end());
  ASSERT_EQ(*(*c)->Erase(std::span<const Key>(&k, 1)), 1u);
  // Fill the arena with other blocks: the pinned slot must not be reused.
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> b = Bf16Block(1000 + i);
    PutBlock p{Key::FromU64(5000 + i), std::nullopt, Format::kBf16, kTiny, {}, b, 0};
    ASSERT_TRUE((*c)->Put(std::span<const PutBlock>(&p, 1)).ok());
  }
  EXPECT_EQ(std::string((*views)[0].payload.begin(), (*views)[0].payload.end()), before);
}

TEST_F(ClientTest, TcpGetsCopiesAndManyThreadsShareOneClient) {
  auto c = Client::Connect(daemon_.tcp());
  ASSERT_TRUE(c.ok()) << c.status();
  PutChain(**c, 4);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      const std::vector<Key> keys = {Key::FromU64(100), Key::FromU64(101), Key::FromU64(102),
                                     Key::FromU64(103)};
      for (int i = 0; i < 20; ++i) {
        auto l = (*c)->Lookup(keys);
        auto v = (*c)->GetViews(keys, Format::kBf16);
        if (l.ok() && l->matched == 4 && v.ok() && !(*v)[3].zero_copy &&
            (*v)[3].payload.size() == kTinyValues * 2) {
          ++good;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8 * 20);
}

// Zero-copy puts: the engine writes into reserved shared memory and commits;
// what is stored is exactly what an inline put of the same bytes stores.
TEST_F(ClientTest, ReservedPutsMatchInlinePutsOverBothTransports) {
  for (const std::string& address : {daemon_.socket(), daemon_.tcp()}) {
    auto c = Client::Connect(address);
    ASSERT_TRUE(c.ok()) << c.status();
    const bool unix_socket = address == daemon_.socket();
    const uint64_t base = unix_socket ? 7000 : 8000;
    std::vector<PutBlock> specs(3);
    for (size_t i = 0; i < specs.size(); ++i) {
      specs[i].key = Key::FromU64(base + i);
      specs[i].format = Format::kBf16;
      specs[i].geometry = kTiny;
    }
    auto buffers = (*c)->ReservePut(specs);
    ASSERT_TRUE(buffers.ok()) << buffers.status();
    EXPECT_EQ(buffers->zero_copy(), unix_socket);
    ASSERT_EQ(buffers->size(), 3u);
    std::vector<std::vector<uint8_t>> sources;
    for (size_t i = 0; i < 3; ++i) {
      sources.push_back(Bf16Block(static_cast<int>(base + i)));
      ASSERT_EQ((*buffers)[i].size(), sources[i].size());
      std::memcpy((*buffers)[i].data(), sources[i].data(), sources[i].size());
    }
    ASSERT_EQ(*(*c)->CommitPut(*std::move(buffers)), 3u);
    // The same bytes, put inline (TCP) under other keys.
    auto tcp = Client::Connect(daemon_.tcp());
    ASSERT_TRUE(tcp.ok());
    std::vector<Key> reserved, inlined;
    for (size_t i = 0; i < 3; ++i) {
      PutBlock p{
          Key::FromU64(base + 100 + i), std::nullopt, Format::kBf16, kTiny, {}, sources[i], 0};
      ASSERT_EQ(*(*tcp)->Put(std::span<const PutBlock>(&p, 1)), 1u);
      reserved.push_back(Key::FromU64(base + i));
      inlined.push_back(Key::FromU64(base + 100 + i));
    }
    auto a = (*c)->Get(reserved, Format::kNvfp4);
    auto b = (*c)->Get(inlined, Format::kNvfp4);
    ASSERT_TRUE(a.ok() && b.ok());
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_TRUE((*a)[i].has_value() && (*b)[i].has_value()) << i;
      EXPECT_EQ((*a)[i]->payload, (*b)[i]->payload) << i;
      EXPECT_EQ((*a)[i]->scales, (*b)[i]->scales) << i;
    }
  }
}

TEST_F(ClientTest, ManyThreadsPutThroughWindowsAtOnce) {
  auto c = Client::Connect(daemon_.socket());
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::vector<uint8_t> b = Bf16Block(t * 100 + i);
        PutBlock p{Key::FromU64(20000 + t * 100 + i), std::nullopt, Format::kBf16, kTiny, {}, b, 0};
        auto r = (*c)->Put(std::span<const PutBlock>(&p, 1));
        if (r.ok()) stored += static_cast<int>(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 80);
  std::vector<Key> keys;
  for (int t = 0; t < 8; ++t) keys.push_back(Key::FromU64(20000 + t * 100 + 9));
  auto views = (*c)->GetViews(keys, Format::kNvfp4);
  ASSERT_TRUE(views.ok());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_NE((*views)[i].tier, Tier::kNone) << i;
}

TEST_F(ClientTest, BadRequestsAreStatusesNotCrashes) {
  auto c = Client::Connect(daemon_.socket());
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> short_payload(100);
  PutBlock p{Key::FromU64(1), std::nullopt, Format::kBf16, kTiny, {}, short_payload, 0};
  absl::StatusOr<size_t> r = (*c)->Put(std::span<const PutBlock>(&p, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("blocks[0].payload has 100 bytes"), std::string::npos)
      << r.status();
  Key bad = Key::FromU64(1);
  bad.digest_bytes = 0;
  EXPECT_EQ((*c)->Lookup(std::span<const Key>(&bad, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*c)->Stats().ok());  // the connection survives
  EXPECT_FALSE(Client::Connect("/nonexistent/kvstashd.sock").ok());
}

}  // namespace
}  // namespace kvstash
