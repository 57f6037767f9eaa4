#include "tiers/slot_allocator.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace kvstash::tiers {
namespace {

TEST(SlotAllocator, ClassesAreGranuleMultiplesWithBoundedWaste) {
  SlotAllocator a(1 << 30, {});
  for (uint64_t n :
       {1ull, 4096ull, 4097ull, 100000ull, 589824ull + 384, 1048576ull + 192, 18ull << 20}) {
    const uint64_t c = a.ClassSize(n);
    EXPECT_GE(c, n);
    EXPECT_EQ(c % SlotAllocator::kGranule, 0u);
    if (n > 4096) {
      EXPECT_LE(c, n + n / 8 + SlotAllocator::kGranule) << n;
    }
  }
}

TEST(SlotAllocator, ConfiguredSizesFitExactly) {
  SlotAllocator a(1 << 20, {589824 + 384});
  EXPECT_EQ(a.ClassSize(589824 + 384), 589824u + 4096u);
  EXPECT_EQ(a.ClassSize(589824), 589824u);  // the geometric class is tighter
  EXPECT_EQ(a.ClassSize(5000), 8192u);      // geometric below
}

TEST(SlotAllocator, FillsCompletelyAndCoalescesOnFree) {
  SlotAllocator a(64 * 4096, {});
  std::vector<uint64_t> offsets;
  while (std::optional<uint64_t> o = a.Allocate(4096)) offsets.push_back(*o);
  EXPECT_EQ(offsets.size(), 64u);
  EXPECT_EQ(a.allocated_bytes(), a.capacity());
  // Free every other slot: no room for an 8 KiB slot; then the rest: one extent.
  for (size_t i = 0; i < offsets.size(); i += 2) a.Free(offsets[i], 4096);
  EXPECT_FALSE(a.Allocate(8192).has_value());
  for (size_t i = 1; i < offsets.size(); i += 2) a.Free(offsets[i], 4096);
  EXPECT_EQ(a.allocated_bytes(), 0u);
  EXPECT_EQ(a.LargestFree(), a.capacity());
}

TEST(SlotAllocator, RandomAllocFreeNeverOverlaps) {
  SlotAllocator a(1 << 22, {});
  std::mt19937_64 rng(5);
  std::map<uint64_t, uint64_t> live;  // offset -> request
  for (int i = 0; i < 20000; ++i) {
    if (live.empty() || rng() % 2) {
      const uint64_t n = 1 + rng() % (200 << 10);
      if (std::optional<uint64_t> o = a.Allocate(n)) {
        auto next = live.lower_bound(*o);
        if (next != live.end()) {
          ASSERT_LE(*o + a.ClassSize(n), next->first);
        }
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + a.ClassSize(prev->second), *o);
        }
        live[*o] = n;
      }
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      a.Free(it->first, it->second);
      live.erase(it);
    }
    ASSERT_LE(a.allocated_bytes(), a.capacity());
  }
  for (auto [o, n] : live) a.Free(o, n);
  EXPECT_EQ(a.LargestFree(), a.capacity());
}

}  // namespace
}  // namespace kvstash::tiers
