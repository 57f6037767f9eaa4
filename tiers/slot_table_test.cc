#include "tiers/slot_table.h"

#include <gtest/gtest.h>

namespace kvstash::tiers {
namespace {

BlockKey Key(uint64_t h) { return BlockKey::FromHash64(0, h); }

TEST(SlotTable, PinnedSlotOutlivesEraseAndReplace) {
  SlotTable t(64 * 4096, {});
  auto a = t.Allocate(Key(1), 4096, "test");
  ASSERT_TRUE(a.ok());
  t.Link(*std::move(a));
  ArenaSlot* pinned = t.Pin(Key(1));
  ASSERT_NE(pinned, nullptr);
  const uint64_t offset = pinned->offset;
  // Replace the block: the old slot retires but keeps its bytes.
  auto b = t.Allocate(Key(1), 4096, "test");
  ASSERT_TRUE(b.ok());
  EXPECT_NE((*b)->offset, offset);
  t.Link(*std::move(b));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.allocated_bytes(), 2u * 4096);
  EXPECT_TRUE(t.Erase(Key(1)));
  EXPECT_FALSE(t.Contains(Key(1)));
  EXPECT_EQ(t.allocated_bytes(), 4096u);  // only the pinned, retired slot
  t.Unpin(pinned);
  EXPECT_EQ(t.allocated_bytes(), 0u);
  EXPECT_FALSE(t.Erase(Key(1)));
}

TEST(SlotTable, FullArenaNamesTheTierAndAbandonFrees) {
  SlotTable t(2 * 4096, {});
  auto a = t.Allocate(Key(1), 8192, "host");
  ASSERT_TRUE(a.ok());
  absl::StatusOr<std::unique_ptr<ArenaSlot>> b = t.Allocate(Key(2), 4096, "host");
  EXPECT_TRUE(absl::IsResourceExhausted(b.status()));
  EXPECT_NE(b.status().message().find("host tier: no free slot"), absl::string_view::npos);
  t.Abandon(*std::move(a));
  EXPECT_EQ(t.allocated_bytes(), 0u);
  EXPECT_TRUE(t.List().empty());
}

}  // namespace
}  // namespace kvstash::tiers
