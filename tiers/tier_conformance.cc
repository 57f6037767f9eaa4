#include "tiers/tier_conformance.h"

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace kvstash::tiers::testing {

void TierConformanceTest::SetUp() { Reopen(kCapacity); }

void TierConformanceTest::Reopen(uint64_t capacity) {
  tier_.reset();
  absl::StatusOr<std::unique_ptr<Tier>> t = GetParam().create(capacity, dir_.path());
  if (absl::IsUnavailable(t.status())) GTEST_SKIP() << t.status();
  ASSERT_TRUE(t.ok()) << t.status();
  tier_ = std::move(*t);
}

std::string FactoryName(const ::testing::TestParamInfo<TierFactory>& info) {
  return info.param.name;
}

namespace {

using ::testing::TestWithParam;

TEST_P(TierConformanceTest, PutThenGetReturnsTheSameBytes) {
  const std::string block = MakeBlock(Key(1), 7);
  ASSERT_TRUE(tier_->Put(block).ok());
  EXPECT_TRUE(tier_->Contains(Key(1)));
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(1));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), block);
  const TierStats s = tier_->Stats();
  EXPECT_EQ(s.puts, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.bytes_in, block.size());
  EXPECT_EQ(s.bytes_out, block.size());
  EXPECT_EQ(s.blocks, 1u);
  EXPECT_GE(s.used_bytes, block.size());
  EXPECT_EQ(s.used_bytes, tier_->Charge(block.size()));
}

TEST_P(TierConformanceTest, ReadIntoCopiesTheVerifiedBlock) {
  const std::string block = MakeBlock(Key(1), 4);
  ASSERT_TRUE(tier_->Put(block).ok());
  std::string dst(block.size() + 10, '\0');
  absl::StatusOr<size_t> n = tier_->ReadInto(Key(1), absl::MakeSpan(dst));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, block.size());
  EXPECT_EQ(dst.substr(0, *n), block);
  std::string small(block.size() - 1, '\0');
  EXPECT_TRUE(absl::IsOutOfRange(tier_->ReadInto(Key(1), absl::MakeSpan(small)).status()));
  EXPECT_TRUE(absl::IsNotFound(tier_->ReadInto(Key(2), absl::MakeSpan(dst)).status()));
  EXPECT_TRUE(tier_->Contains(Key(1)));
}

TEST_P(TierConformanceTest, MissIsNotFoundAndCounted) {
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(99));
  EXPECT_TRUE(absl::IsNotFound(ref.status())) << ref.status();
  EXPECT_FALSE(tier_->Contains(Key(99)));
  EXPECT_EQ(tier_->Stats().misses, 1u);
}

TEST_P(TierConformanceTest, EraseRemovesAndFreesSpace) {
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(1))).ok());
  ASSERT_TRUE(tier_->Erase(Key(1)).ok());
  EXPECT_FALSE(tier_->Contains(Key(1)));
  EXPECT_TRUE(absl::IsNotFound(tier_->Get(Key(1)).status()));
  EXPECT_TRUE(absl::IsNotFound(tier_->Erase(Key(1))));
  const TierStats s = tier_->Stats();
  EXPECT_EQ(s.used_bytes, 0u);
  EXPECT_EQ(s.blocks, 0u);
  EXPECT_EQ(s.erases, 1u);
}

TEST_P(TierConformanceTest, PutReplacesTheBlockUnderTheSameKey) {
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(1), 1)).ok());
  const std::string second = MakeBlock(Key(1), 2);
  ASSERT_TRUE(tier_->Put(second).ok());
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(1));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->bytes(), second);
  EXPECT_EQ(tier_->Stats().blocks, 1u);
  EXPECT_EQ(tier_->Stats().used_bytes, tier_->Charge(second.size()));
}

TEST_P(TierConformanceTest, RejectsMalformedBlocks) {
  const std::string good = MakeBlock(Key(1));
  EXPECT_FALSE(tier_->Put(good.substr(0, good.size() - 1)).ok());
  EXPECT_FALSE(tier_->Put(good + "x").ok());
  EXPECT_FALSE(tier_->Put("").ok());
  std::string bad_magic = good;
  bad_magic[0] ^= 1;
  EXPECT_FALSE(tier_->Put(bad_magic).ok());
  std::string bad_header = good;
  bad_header[20] ^= 1;  // a geometry byte, caught by the header checksum
  EXPECT_FALSE(tier_->Put(bad_header).ok());
  EXPECT_FALSE(tier_->Contains(Key(1)));
  EXPECT_EQ(tier_->Stats().used_bytes, 0u);
}

TEST_P(TierConformanceTest, RefusesWhatDoesNotFitAndNeverExceedsCapacity) {
  int stored = 0;
  absl::Status s;
  for (int i = 0; i < 10000; ++i) {
    s = tier_->Put(MakeBlock(Key(i)));
    if (!s.ok()) break;
    ++stored;
    ASSERT_LE(tier_->Stats().used_bytes, tier_->capacity_bytes());
  }
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_GT(stored, 0);
  EXPECT_EQ(tier_->Stats().blocks, static_cast<uint64_t>(stored));
  ASSERT_TRUE(tier_->Erase(Key(0)).ok());
  EXPECT_TRUE(tier_->Put(MakeBlock(Key(100000))).ok());
  EXPECT_LE(tier_->Stats().used_bytes, tier_->capacity_bytes());
  for (int i = 1; i < stored; ++i) {
    absl::StatusOr<BlockRef> ref = tier_->Get(Key(i));
    ASSERT_TRUE(ref.ok()) << i;
    EXPECT_EQ(ref->bytes(), MakeBlock(Key(i)));
  }
}

TEST_P(TierConformanceTest, ListDescribesEveryBlock) {
  const kernels::KvGeometry g = SmallGeometry();
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(1), 0, g, std::nullopt, 3)).ok());
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(2), 0, g, Key(1), 5)).ok());
  std::map<BlockKey, StoredBlock> by_key;
  for (const StoredBlock& b : tier_->List()) by_key[b.key] = b;
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key[Key(1)].priority, 3);
  EXPECT_FALSE(by_key[Key(1)].parent.has_value());
  EXPECT_EQ(by_key[Key(2)].priority, 5);
  EXPECT_EQ(by_key[Key(2)].parent, Key(1));
  EXPECT_EQ(by_key[Key(2)].bytes, MakeBlock(Key(2), 0, g, Key(1), 5).size());
}

TEST_P(TierConformanceTest, AReaderKeepsItsBytesThroughEraseAndReuse) {
  const std::string block = MakeBlock(Key(1), 1);
  ASSERT_TRUE(tier_->Put(block).ok());
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(1));
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(tier_->Erase(Key(1)).ok());
  for (int i = 2; i < 10000; ++i) {  // fill every free byte with other blocks
    if (!tier_->Put(MakeBlock(Key(i), 2)).ok()) break;
    ASSERT_LE(tier_->Stats().used_bytes, tier_->capacity_bytes());
  }
  EXPECT_EQ(ref->bytes(), block);
}

TEST_P(TierConformanceTest, LargeBlocksRoundTrip) {
  Reopen(8 << 20);
  const kernels::KvGeometry g{32, 8, 128, 16, 2};  // a Llama-3.1-8B block, 576 KiB
  const std::string block = MakeBlock(Key(1), 3, g);
  ASSERT_TRUE(tier_->Put(block).ok());
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(1));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), block);
}

TEST_P(TierConformanceTest, BlocksSurviveReopenWhenPersistent) {
  if (!GetParam().persistent) GTEST_SKIP() << "volatile tier";
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(1), 1)).ok());
  ASSERT_TRUE(tier_->Put(MakeBlock(Key(2), 2, SmallGeometry(), Key(1), 4)).ok());
  ASSERT_TRUE(tier_->Erase(Key(1)).ok());
  const uint64_t used = tier_->Stats().used_bytes;
  Reopen(kCapacity);
  EXPECT_FALSE(tier_->Contains(Key(1)));
  absl::StatusOr<BlockRef> ref = tier_->Get(Key(2));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), MakeBlock(Key(2), 2, SmallGeometry(), Key(1), 4));
  EXPECT_EQ(tier_->Stats().used_bytes, used);
  ASSERT_EQ(tier_->List().size(), 1u);
  EXPECT_EQ(tier_->List()[0].priority, 4);
}

TEST_P(TierConformanceTest, ConcurrentPutGetEraseOnDistinctKeys) {
  Reopen(4 << 20);
  constexpr int kThreads = 4, kOps = 300;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kOps; ++i) {
        const BlockKey key = Key(t * 1000 + rng() % 16);
        switch (rng() % 3) {
          case 0:
            if (!tier_->Put(MakeBlock(key)).ok()) wrong++;
            break;
          case 1:
            if (absl::StatusOr<BlockRef> r = tier_->Get(key);
                r.ok() && r->bytes() != MakeBlock(key))
              wrong++;
            break;
          default:
            tier_->Erase(key).IgnoreError();
        }
        if (tier_->Stats().used_bytes > tier_->capacity_bytes()) wrong++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace kvstash::tiers::testing
