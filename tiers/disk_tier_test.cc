// Disk-tier specifics: sticky errors under injected faults, index rebuild,
// sync policies.
#include "tiers/disk_tier.h"

#include <gtest/gtest.h>

#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using testing::Key;
using testing::MakeBlock;
using testing::ScopedTempDir;

class DiskTierTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskTier> Open(SyncPolicy sync = SyncPolicy::kProcessCrash,
                                 uint64_t capacity = 1 << 20) {
    DiskTierOptions o;
    o.dir = dir_.path();
    o.capacity_bytes = capacity;
    o.sync = sync;
    Env env = Env::Default();
    env.faults = &faults_;
    absl::StatusOr<std::unique_ptr<DiskTier>> t = DiskTier::Open(o, env);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : nullptr;
  }

  ScopedTempDir dir_;
  FileFaults faults_;
};

TEST_F(DiskTierTest, AFailedWriteMakesTheTierReadOnlyAndSaysWhy) {
  auto tier = Open();
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1))).ok());
  faults_.FailAll(FileFaults::Op::kWrite);
  const absl::Status s = tier->Put(MakeBlock(Key(2)));
  EXPECT_FALSE(s.ok());
  faults_.Clear();
  TierStats st = tier->Stats();
  EXPECT_TRUE(st.read_only);
  EXPECT_NE(st.error.find("injected write failure"), std::string::npos) << st.error;
  EXPECT_EQ(st.write_errors, 1u);
  // Sticky: the disk works again, the tier stays read-only until reopened.
  EXPECT_TRUE(absl::IsFailedPrecondition(tier->Put(MakeBlock(Key(3)))));
  EXPECT_TRUE(absl::IsFailedPrecondition(tier->Erase(Key(1))));
  EXPECT_FALSE(tier->Contains(Key(2)));
  absl::StatusOr<BlockRef> ref = tier->Get(Key(1));  // reads still work
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), MakeBlock(Key(1)));
  tier.reset();
  tier = Open();
  EXPECT_FALSE(tier->Stats().read_only);
  EXPECT_TRUE(tier->Contains(Key(1)));
  EXPECT_FALSE(tier->Contains(Key(2)));
}

TEST_F(DiskTierTest, AFailedSyncIsStickyUnderThePowerLossPolicy) {
  auto tier = Open(SyncPolicy::kPowerLoss);
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1))).ok());
  faults_.FailAll(FileFaults::Op::kSync);
  EXPECT_FALSE(tier->Put(MakeBlock(Key(2))).ok());
  faults_.Clear();
  EXPECT_TRUE(tier->Stats().read_only);
  EXPECT_TRUE(tier->Contains(Key(1)));
}

TEST_F(DiskTierTest, ExplicitSyncFailureIsSticky) {
  auto tier = Open();
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1))).ok());
  ASSERT_TRUE(tier->Sync().ok());
  faults_.FailAll(FileFaults::Op::kSync);
  EXPECT_FALSE(tier->Sync().ok());
  faults_.Clear();
  EXPECT_TRUE(tier->Stats().read_only);
}

TEST_F(DiskTierTest, ReopenRebuildsTheIndexAndCapacityAccounting) {
  auto tier = Open();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(tier->Put(MakeBlock(Key(i), i)).ok());
  for (int i = 0; i < 50; i += 2) ASSERT_TRUE(tier->Erase(Key(i)).ok());
  ASSERT_TRUE(tier->Flush().ok());
  const TierStats before = tier->Stats();
  tier.reset();
  tier = Open();
  const TierStats after = tier->Stats();
  EXPECT_EQ(after.blocks, 25u);
  EXPECT_EQ(after.used_bytes, before.used_bytes);
  for (int i = 1; i < 50; i += 2) {
    absl::StatusOr<BlockRef> ref = tier->Get(Key(i));
    ASSERT_TRUE(ref.ok()) << i;
    EXPECT_EQ(ref->bytes(), MakeBlock(Key(i), i));
  }
}

TEST_F(DiskTierTest, BarrierPutsSurviveASyncAndACleanClose) {
  auto tier = Open(SyncPolicy::kBarrier);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(tier->Put(MakeBlock(Key(i), i)).ok());
  ASSERT_TRUE(tier->Sync().ok());
  for (int i = 20; i < 40; ++i) ASSERT_TRUE(tier->Put(MakeBlock(Key(i), i)).ok());
  ASSERT_TRUE(tier->Erase(Key(3)).ok());
  tier.reset();  // a clean close flushes what no Sync() covered
  tier = Open(SyncPolicy::kBarrier);
  EXPECT_EQ(tier->Stats().blocks, 39u);
  EXPECT_FALSE(tier->Contains(Key(3)));
  for (int i = 0; i < 40; ++i) {
    if (i == 3) continue;
    absl::StatusOr<BlockRef> ref = tier->Get(Key(i));
    ASSERT_TRUE(ref.ok()) << i << ": " << ref.status();
    EXPECT_EQ(ref->bytes(), MakeBlock(Key(i), i));
  }
}

TEST_F(DiskTierTest, AReplacedBlockLeavesOneCopyAndItsSizeCounted) {
  auto tier = Open(SyncPolicy::kBarrier);
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1), 1)).ok());
  ASSERT_TRUE(tier->Sync().ok());
  const std::string bigger = MakeBlock(Key(1), 2, kernels::KvGeometry{4, 2, 32, 4, 2});
  ASSERT_TRUE(tier->Put(bigger).ok());
  EXPECT_EQ(tier->Stats().used_bytes, bigger.size());
  ASSERT_TRUE(tier->Sync().ok());
  tier.reset();
  tier = Open(SyncPolicy::kBarrier);
  EXPECT_EQ(tier->Stats().blocks, 1u);
  EXPECT_EQ(tier->Stats().used_bytes, bigger.size());
  absl::StatusOr<BlockRef> ref = tier->Get(Key(1));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), bigger);
}

TEST_F(DiskTierTest, AFailedFlushIsStickyUnderTheBarrierPolicy) {
  auto tier = Open(SyncPolicy::kBarrier);
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1))).ok());
  ASSERT_TRUE(tier->Sync().ok());
  ASSERT_TRUE(tier->Put(MakeBlock(Key(2))).ok());  // in the memtable only
  faults_.FailAll(FileFaults::Op::kWrite);
  EXPECT_FALSE(tier->Sync().ok());
  faults_.Clear();
  const TierStats st = tier->Stats();
  EXPECT_TRUE(st.read_only);
  EXPECT_NE(st.error.find("injected write failure"), std::string::npos) << st.error;
  EXPECT_TRUE(absl::IsFailedPrecondition(tier->Put(MakeBlock(Key(3)))));
  absl::StatusOr<BlockRef> ref = tier->Get(Key(1));  // reads still work
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes(), MakeBlock(Key(1)));
}

TEST_F(DiskTierTest, RejectsAnEmptyDir) {
  DiskTierOptions o;
  EXPECT_TRUE(absl::IsInvalidArgument(DiskTier::Open(o, Env::Default()).status()));
}

}  // namespace
}  // namespace kvstash::tiers
