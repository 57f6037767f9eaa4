// SizedTier on its own, and TierManager driving size-only tiers (what
// `kvstash replay` does): the same placement, eviction, spill and promotion
// as with payloads, charged at the declared sizes.
#include "tiers/sized_tier.h"

#include <gtest/gtest.h>

#include "tiers/testutil.h"
#include "tiers/tier_manager.h"

namespace kvstash::tiers {
namespace {

using testing::Key;
using testing::SmallGeometry;

// A header-only block as TierManager::PutSized makes it, for `bytes` of
// declared payload.
std::string SizedBlock(uint64_t k, uint64_t payload_bytes) {
  BlockHeader h = *SizedHeader(kernels::Format::kBf16, SmallGeometry());
  h.key = Key(k);
  EXPECT_EQ(h.payload_bytes, payload_bytes);
  std::string block(EncodedHeaderBytes(h), '\0');
  EncodeHeaderInto(h, absl::MakeSpan(block));
  return block;
}

TEST(SizedTierTest, ChargesDeclaredSizeAndRefusesWhatDoesNotFit) {
  const uint64_t payload = *PayloadBytesFor(kernels::Format::kBf16, SmallGeometry());
  const std::string b1 = SizedBlock(1, payload);
  const uint64_t declared = b1.size() + payload;
  SizedTier tier({"disk", 2 * declared, /*arena=*/false, {}});
  ASSERT_TRUE(tier.Put(b1).ok());
  ASSERT_TRUE(tier.Put(SizedBlock(2, payload)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(tier.Put(SizedBlock(3, payload))));
  TierStats s = tier.Stats();
  EXPECT_EQ(s.used_bytes, 2 * declared);
  EXPECT_EQ(s.bytes_in, 2 * declared);
  EXPECT_EQ(s.blocks, 2u);

  absl::StatusOr<BlockRef> r = tier.Get(Key(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes(), b1);
  EXPECT_EQ(tier.Stats().bytes_out, declared);
  EXPECT_TRUE(absl::IsNotFound(tier.Get(Key(3)).status()));

  ASSERT_TRUE(tier.Erase(Key(1)).ok());
  EXPECT_TRUE(absl::IsNotFound(tier.Erase(Key(1))));
  ASSERT_TRUE(tier.Put(SizedBlock(3, payload)).ok());
  EXPECT_EQ(tier.List().size(), 2u);
  EXPECT_EQ(tier.List()[0].bytes, declared);
}

TEST(SizedTierTest, ArenaRoundsToSlotClasses) {
  const uint64_t payload = *PayloadBytesFor(kernels::Format::kBf16, SmallGeometry());
  const uint64_t declared = SizedBlock(1, payload).size() + payload;
  SizedTier geometric({"host", 1 << 20, /*arena=*/true, {}});
  EXPECT_EQ(geometric.Charge(declared), 4096u);  // the smallest class
  SizedTier exact({"host", 1 << 20, /*arena=*/true, {5000}});
  EXPECT_EQ(exact.Charge(5000), 8192u);  // classes are 4 KiB multiples
  ASSERT_TRUE(geometric.Put(SizedBlock(1, payload)).ok());
  EXPECT_EQ(geometric.Stats().used_bytes, 4096u);
}

TEST(SizedTierTest, RefusesBlocksWithPayload) {
  SizedTier tier({"host", 1 << 20, true, {}});
  absl::Status s = tier.Put(testing::MakeBlock(Key(1), 1));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("header-only"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsDataLoss(tier.Put("not a block")));
}

// Two tiers of exactly `fast` and `slow` NVFP4 SmallGeometry blocks.
class SizedManagerTest : public ::testing::Test {
 protected:
  void Build(int fast, int slow, TierManagerOptions o = {}) {
    block_bytes_ = SerializedBytes(*SizedHeader(o.storage_format, SmallGeometry()));
    std::vector<TierConfig> tiers;
    tiers.push_back(
        {std::make_unique<SizedTier>(SizedTierOptions{"host", fast * block_bytes_, false, {}}),
         false});
    tiers.push_back(
        {std::make_unique<SizedTier>(SizedTierOptions{"disk", slow * block_bytes_, false, {}}),
         true});
    Env env = Env::Default();
    env.clock = &clock_;
    o.admit_after_hits = 0;
    auto m = TierManager::Create(o, std::move(tiers), env);
    ASSERT_TRUE(m.ok()) << m.status();
    m_ = std::move(*m);
  }
  absl::Status Put(uint64_t k, std::optional<uint64_t> parent = std::nullopt) {
    clock_.Advance(10);
    SizedPutRequest r{Key(k), std::nullopt, 0, SmallGeometry()};
    if (parent) r.parent = Key(*parent);
    return m_->PutSized(r);
  }
  int Read(uint64_t k) {
    clock_.Advance(10);
    absl::StatusOr<ReadResult> r = m_->Read(Key(k));
    return r.ok() ? r->tier : -1;
  }

  FakeClock clock_;
  uint64_t block_bytes_ = 0;
  std::unique_ptr<TierManager> m_;
};

TEST_F(SizedManagerTest, EvictsSpillsAndPromotesAtDeclaredSizes) {
  Build(2, 2);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Put(3).ok());  // evicts 1 (LRU) from host, spilled to disk
  TierManagerStats s = m_->Stats();
  EXPECT_EQ(s.tiers[0].evictions, 1u);
  EXPECT_EQ(s.tiers[0].spills, 1u);
  EXPECT_EQ(s.tiers[0].tier.used_bytes, 2 * block_bytes_);
  EXPECT_EQ(s.tiers[1].tier.used_bytes, block_bytes_);
  EXPECT_EQ(m_->Lookup({Key(1), Key(2), Key(3)}).tiers, (std::vector<int>{1, 0, 0}));

  EXPECT_EQ(Read(1), 1);  // a disk hit, promoted: evicts 2 (LRU) to disk
  s = m_->Stats();
  EXPECT_EQ(s.tiers[0].promotions, 1u);
  EXPECT_EQ(s.tiers[0].evictions, 2u);
  EXPECT_EQ(s.tiers[1].tier.bytes_out, block_bytes_);
  EXPECT_EQ(m_->Lookup({Key(1), Key(2), Key(3)}).tiers, (std::vector<int>{0, 1, 0}));
  EXPECT_EQ(Read(1), 0);
  EXPECT_EQ(Read(9), -1);
  s = m_->Stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
}

TEST_F(SizedManagerTest, FormatSetsTheCharge) {
  TierManagerOptions bf16;
  bf16.storage_format = kernels::Format::kBf16;
  Build(4, 0, bf16);
  const uint64_t bf16_bytes = block_bytes_;
  Build(4, 0);
  EXPECT_GT(bf16_bytes, 2 * block_bytes_);  // headers weigh on this tiny geometry
  ASSERT_TRUE(Put(1).ok());
  EXPECT_EQ(m_->Stats().tiers[0].tier.used_bytes, block_bytes_);
  // The same key again is a use, not a second copy.
  ASSERT_TRUE(Put(1).ok());
  EXPECT_EQ(m_->Stats().tiers[0].tier.blocks, 1u);
}

TEST_F(SizedManagerTest, GetOfASizeOnlyBlockFailsCleanly) {
  Build(2, 0);
  ASSERT_TRUE(Put(1).ok());
  absl::StatusOr<GetResult> g = m_->Get(Key(1), std::nullopt);
  EXPECT_FALSE(g.ok());
}

}  // namespace
}  // namespace kvstash::tiers
