#include "tiers/eviction.h"

#include <gtest/gtest.h>

#include "tiers/block_index.h"
#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using testing::Key;

TEST(EvictionOrder, LeastRecentlyUsedFirst) {
  EvictionOrder o;
  o.Add(Key(1), 0, 10);
  o.Add(Key(2), 0, 20);
  o.Add(Key(3), 0, 30);
  EXPECT_EQ(o.Victim(), Key(1));
  o.Touch(Key(1), 40);
  EXPECT_EQ(o.Victim(), Key(2));
  o.Remove(Key(2));
  EXPECT_EQ(o.Victim(), Key(3));
}

TEST(EvictionOrder, TiesBreakByUseOrderUnderAFrozenClock) {
  EvictionOrder o;
  for (int i = 0; i < 5; ++i) o.Add(Key(i), 0, 0);
  o.Touch(Key(0), 0);
  EXPECT_EQ(o.Victim(), Key(1));
}

TEST(EvictionOrder, LowerPriorityClassGoesFirstEvenIfNewer) {
  EvictionOrder o;
  o.Add(Key(1), 5, 10);
  o.Add(Key(2), 0, 20);
  EXPECT_EQ(o.Victim(), Key(2));
}

TEST(EvictionOrder, LeavesBeforeInteriorBlocks) {
  EvictionOrder o;
  o.Add(Key(1), 0, 10);
  o.Add(Key(2), 0, 20);
  o.SetInterior(Key(1), true);
  EXPECT_EQ(o.Victim(), Key(2));
  o.SetInterior(Key(1), false);
  EXPECT_EQ(o.Victim(), Key(1));
}

TEST(EvictionOrder, NonEvictableIsNeverChosen) {
  EvictionOrder o;
  o.Add(Key(1), 0, 10);
  o.SetEvictable(Key(1), false);
  EXPECT_FALSE(o.Victim().has_value());
  o.SetEvictable(Key(1), true);
  EXPECT_EQ(o.Victim(), Key(1));
}

TEST(BlockIndex, ChildrenInATierMakeTheParentInterior) {
  BlockIndex index(2);
  index.Create(Key(1), 100, 0, std::nullopt);
  index.Create(Key(2), 100, 0, Key(1));
  index.Create(Key(3), 100, 0, Key(2));
  // Child arrives before the parent in tier 0; the parent counts it on arrival.
  index.AddCopy(Key(3), 0, 3);
  index.AddCopy(Key(2), 0, 2);
  index.AddCopy(Key(1), 0, 1);
  EXPECT_EQ(index.Victim(0), Key(3));
  index.RemoveCopy(Key(3), 0);
  EXPECT_EQ(index.Victim(0), Key(2));
  // Tier 1 is independent.
  index.AddCopy(Key(1), 1, 5);
  EXPECT_EQ(index.Victim(1), Key(1));
}

TEST(BlockIndex, PinsAndBusyCopiesAreNotVictims) {
  BlockIndex index(1);
  index.Create(Key(1), 100, 0, std::nullopt);
  index.Create(Key(2), 100, 0, std::nullopt);
  index.AddCopy(Key(1), 0, 1);
  index.AddCopy(Key(2), 0, 2);
  ASSERT_TRUE(index.Pin(Key(1)).ok());
  EXPECT_EQ(index.Victim(0), Key(2));
  index.SetBusy(Key(2), 0, true);
  EXPECT_FALSE(index.Victim(0).has_value());
  ASSERT_TRUE(index.Unpin(Key(1)).ok());
  EXPECT_EQ(index.Victim(0), Key(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(index.Unpin(Key(1))));
  EXPECT_TRUE(absl::IsNotFound(index.Pin(Key(9))));
}

TEST(BlockIndex, RemoveIfUnusedKeepsHeldOrMovingBlocks) {
  BlockIndex index(1);
  index.Create(Key(1), 100, 0, std::nullopt);
  index.SetBusy(Key(1), 0, true);
  EXPECT_FALSE(index.RemoveIfUnused(Key(1)));
  index.SetBusy(Key(1), 0, false);
  index.AddCopy(Key(1), 0, 1);
  EXPECT_FALSE(index.RemoveIfUnused(Key(1)));
  index.RemoveCopy(Key(1), 0);
  EXPECT_TRUE(index.RemoveIfUnused(Key(1)));
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace kvstash::tiers
