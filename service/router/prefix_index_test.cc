#include "service/router/prefix_index.h"

#include <cmath>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvstash::router {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const HolderId kA{"a", 0};
const HolderId kB{"b", 1};
const HolderId kNode{"a", kNodeRank};

KvEvent Stored(std::vector<uint64_t> hashes, std::optional<Medium> m = std::nullopt) {
  return {KvEvent::Kind::kStored, std::move(hashes), std::nullopt, m};
}
KvEvent Removed(std::vector<uint64_t> hashes, std::optional<Medium> m = std::nullopt) {
  return {KvEvent::Kind::kRemoved, std::move(hashes), std::nullopt, m};
}
KvEvent Cleared() { return {KvEvent::Kind::kCleared}; }

void Apply(PrefixIndex& index, const HolderId& h, std::vector<KvEvent> events) {
  ASSERT_TRUE(index.Apply({h, 0, 0, std::move(events)}).ok());
}

HolderOverlap Ov(const HolderId& h, uint32_t device, uint32_t host = 0, uint32_t disk = 0) {
  return {h, device, host, disk};
}

TEST(PrefixIndexTest, StoredWithoutMediumIsDevice) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2, 3})});
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2, 3, 4}), ElementsAre(Ov(kA, 3)));
}

TEST(PrefixIndexTest, EachBlockCountsTowardTheFastestMediumHeld) {
  PrefixIndex index;
  Apply(
      index, kA,
      {Stored({1, 2, 3}, Medium::kDisk), Stored({1}, Medium::kDevice), Stored({2}, Medium::kHost)});
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2, 3}), ElementsAre(Ov(kA, 1, 1, 1)));
}

TEST(PrefixIndexTest, OverlapStopsAtTheFirstBlockNotHeld) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2, 4, 5})});
  Apply(index, kB, {Stored({2, 3})});  // does not hold hashes[0]: not listed
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2, 3, 4, 5}), ElementsAre(Ov(kA, 2)));
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{}), IsEmpty());
}

TEST(PrefixIndexTest, RemovedWithMediumDropsOnlyThatMedium) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2}, Medium::kDevice), Stored({1, 2}, Medium::kHost)});
  Apply(index, kA, {Removed({1}, Medium::kDevice)});
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2}), ElementsAre(Ov(kA, 1, 1)));
}

TEST(PrefixIndexTest, RemovedWithoutMediumDropsEveryMedium) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2}, Medium::kDevice), Stored({1, 2}, Medium::kDisk)});
  Apply(index, kA, {Removed({2})});
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2}), ElementsAre(Ov(kA, 1)));
  EXPECT_EQ(index.Holders()[0].blocks, 1);
  Apply(index, kA, {Removed({7, 1})});  // unknown hashes are ignored
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1}), IsEmpty());
  EXPECT_EQ(index.Stats().blocks, 0u);
}

TEST(PrefixIndexTest, ClearedDropsOnlyThatHoldersEntries) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2})});
  Apply(index, kB, {Stored({1})});
  Apply(index, kA, {Cleared(), Stored({1}, Medium::kHost)});  // later events in the batch stay
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2}), ElementsAre(Ov(kA, 0, 1), Ov(kB, 1)));
  std::vector<HolderStatus> holders = index.Holders();
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0].blocks, 1);
  EXPECT_EQ(holders[1].blocks, 1);
}

TEST(PrefixIndexTest, RemoveHolderDropsItAndItsEntriesAndItMayComeBack) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1, 2})});
  Apply(index, kB, {Stored({1})});
  EXPECT_TRUE(index.RemoveHolder(kA));
  EXPECT_FALSE(index.RemoveHolder(kA));
  EXPECT_FALSE(index.RemoveHolder({"nobody", 0}));
  EXPECT_FALSE(index.Find(kA).has_value());
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2}), ElementsAre(Ov(kB, 1)));
  ASSERT_EQ(index.Holders().size(), 1u);
  Apply(index, kA, {Stored({2})});  // publishes again: starts empty
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{2}), ElementsAre(Ov(kA, 1)));
  EXPECT_EQ(index.Holders()[0].blocks, 1);
}

TEST(PrefixIndexTest, ExpireSilentDropsHoldersSilentLongerThanTtl) {
  PrefixIndex index;
  Apply(index, kA, {Stored({1})});
  Apply(index, kB, {Stored({1})});
  ASSERT_TRUE(index.Touch(kB, 100).ok());
  // kA was never touched: its grace period starts at the first check.
  EXPECT_TRUE(std::isnan(index.Holders()[0].last_seen));
  EXPECT_THAT(index.ExpireSilent(105, 10), IsEmpty());
  EXPECT_EQ(index.Holders()[0].last_seen, 105);
  EXPECT_THAT(index.ExpireSilent(111, 10), ElementsAre(kB));
  ASSERT_TRUE(index.Touch(kA, 112).ok());
  EXPECT_THAT(index.ExpireSilent(122, 10), IsEmpty());  // exactly ttl: still alive
  EXPECT_THAT(index.ExpireSilent(122.5, 10), ElementsAre(kA));
  EXPECT_THAT(index.Holders(), IsEmpty());
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1}), IsEmpty());
}

TEST(PrefixIndexTest, ApplyWithNowTouches) {
  PrefixIndex index;
  ASSERT_TRUE(index.Apply({kA, 0, 0, {Stored({1})}}, 42).ok());
  ASSERT_EQ(index.Holders().size(), 1u);
  EXPECT_EQ(index.Holders()[0].last_seen, 42);
}

TEST(PrefixIndexTest, BoundedMemoryEvictsTheLeastRecentlyStored) {
  PrefixIndex index({.max_blocks = 4, .shards = 1});
  Apply(index, kA, {Stored({1, 2, 3, 4})});
  Apply(index, kB, {Stored({1})});  // stored again: a second chance
  Apply(index, kA, {Stored({5})});
  EXPECT_EQ(index.Stats().evictions, 1u);
  EXPECT_EQ(index.Stats().blocks, 4u);
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{2}), IsEmpty());
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1}), ElementsAre(Ov(kA, 1), Ov(kB, 1)));
  EXPECT_EQ(index.Holders()[0].blocks, 4);  // 1, 3, 4, 5
}

TEST(PrefixIndexTest, BoundedMemoryHoldsAcrossShards) {
  PrefixIndex index({.max_blocks = 1000, .shards = 16});
  for (uint64_t i = 0; i < 20000; i += 10) {
    Apply(index, {absl::StrCat("w", i % 7), 0}, {Stored({i, i + 1, i + 2, i + 3, i + 4})});
  }
  const IndexStats st = index.Stats();
  EXPECT_LE(st.blocks, 1000u + 16u);
  EXPECT_EQ(st.blocks + st.evictions, 10000u);
  EXPECT_EQ(st.entries, st.blocks);
  int64_t held = 0;
  for (const HolderStatus& h : index.Holders()) held += h.blocks;
  EXPECT_EQ(static_cast<uint64_t>(held), st.entries);
}

TEST(PrefixIndexTest, HashesUseAll64Bits) {
  PrefixIndex index;
  // vLLM publishes signed 64-bit ints; decoders reinterpret them as uint64.
  const uint64_t negative = static_cast<uint64_t>(int64_t{-5});
  Apply(index, kA, {Stored({negative})});
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{negative}), ElementsAre(Ov(kA, 1)));
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{negative & ~(uint64_t{1} << 63)}), IsEmpty());
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{0xfffffffffffffffbull}), ElementsAre(Ov(kA, 1)));
}

TEST(PrefixIndexTest, BadBatchesAreRejectedWholeAndNameTheField) {
  PrefixIndex index;
  EventBatch b{{"", 0}, 0, 0, {Stored({1})}};
  EXPECT_TRUE(absl::StrContains(index.Apply(b).message(), "holder.worker"));
  b.holder = {"a", -2};
  EXPECT_TRUE(absl::StrContains(index.Apply(b).message(), "holder.dp_rank"));
  b.holder = kA;
  b.events.push_back(Stored({2}, static_cast<Medium>(9)));
  absl::Status s = index.Apply(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "events[1].medium")) << s;
  EXPECT_THAT(index.Holders(), IsEmpty());
  EXPECT_EQ(index.Stats().blocks, 0u);
}

TEST(PrefixIndexTest, NodesAreFlaggedAndRanksOfAWorkerAreFound) {
  PrefixIndex index;
  Apply(index, kNode, {Stored({1}, Medium::kHost)});
  Apply(index, kA, {Stored({1})});
  Apply(index, {"a", 3}, {});
  std::vector<std::pair<HolderId, bool>> seen;
  index.ForEachHolder(1, [&](const HolderHit& hit) {
    seen.push_back({index.Id(hit.holder), hit.node});
    EXPECT_EQ(hit.media, MediumBit(hit.node ? Medium::kHost : Medium::kDevice));
  });
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre(std::pair{kNode, true}, std::pair{kA, false}));
  EXPECT_EQ(index.LiveRanksOfWorker("a").size(), 2u);
  EXPECT_EQ(index.LiveEngineRanks().size(), 2u);
}

TEST(PrefixIndexTest, StaleEntriesAreSweptAndCounted) {
  PrefixIndex index({.sweep_min_stale = 1u << 30});  // no automatic sweep
  std::vector<uint64_t> hashes;
  for (uint64_t i = 0; i < 500; ++i) hashes.push_back(i);
  Apply(index, kA, {Stored(hashes)});
  Apply(index, kB, {Stored({1, 2})});
  IndexStats st = index.Stats();
  EXPECT_EQ(st.blocks, 500u);
  EXPECT_EQ(st.entries, 502u);
  EXPECT_GT(st.bytes, 500u * 16);
  Apply(index, kA, {Cleared()});
  st = index.Stats();
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.stale_entries, 500u);
  EXPECT_EQ(st.blocks, 500u);  // invisible, not yet purged
  index.Sweep();
  st = index.Stats();
  EXPECT_EQ(st.blocks, 2u);
  EXPECT_EQ(st.stale_entries, 0u);
  EXPECT_THAT(index.Overlaps(std::vector<uint64_t>{1, 2}), ElementsAre(Ov(kB, 2)));
}

TEST(PrefixIndexTest, StaleEntriesAreSweptAutomatically) {
  PrefixIndex index({.sweep_min_stale = 100});
  for (int round = 0; round < 5; ++round) {
    std::vector<uint64_t> hashes;
    for (uint64_t i = 0; i < 1000; ++i) hashes.push_back(round * 1000 + i);
    Apply(index, kA, {Stored(hashes)});
    Apply(index, kA, {Cleared()});
  }
  EXPECT_LE(index.Stats().blocks, 1000u);
}

// Writers churn their own holders while readers query; run under TSan too.
TEST(PrefixIndexTest, ConcurrentReadersAndWriters) {
  PrefixIndex index({.max_blocks = 4096, .shards = 8, .sweep_min_stale = 64});
  constexpr int kWriters = 3, kReaders = 3, kRounds = 300;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const HolderId me{absl::StrCat("w", w), w % 2 == 0 ? 0 : kNodeRank};
      for (int r = 0; r < kRounds; ++r) {
        std::vector<uint64_t> chain;
        for (uint64_t i = 0; i < 16; ++i) chain.push_back((r % 37) * 100 + i);
        const Medium m = static_cast<Medium>(r % kMediumCount);
        ASSERT_TRUE(index.Apply({me, 0, 0, {Stored(chain, m)}}, r).ok());
        if (r % 5 == 0) {
          ASSERT_TRUE(index.Apply({me, 0, 0, {Removed({chain[3]})}}).ok());
        }
        if (r % 17 == 0) {
          ASSERT_TRUE(index.Apply({me, 0, 0, {Cleared()}}).ok());
        }
        if (r % 50 == 0) index.RemoveHolder(me);
      }
      ASSERT_TRUE(index.Apply({me, 0, 0, {Cleared(), Stored({9001, 9002})}}).ok());
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      std::vector<uint64_t> q;
      for (uint64_t i = 0; i < 16; ++i) q.push_back(100 + i);
      while (!done.load()) {
        for (const HolderOverlap& o : index.Overlaps(q)) EXPECT_LE(o.total(), 16u);
        index.Holders();
        index.Stats();
        index.LiveEngineRanks();
      }
    });
  }
  threads.emplace_back([&] {
    while (!done.load()) index.ExpireSilent(0, 1e9);
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  const std::vector<HolderOverlap> final_state = index.Overlaps(std::vector<uint64_t>{9001, 9002});
  ASSERT_EQ(final_state.size(), static_cast<size_t>(kWriters));
  for (const HolderOverlap& o : final_state) EXPECT_EQ(o.device, 2u);
  for (const HolderStatus& h : index.Holders()) EXPECT_EQ(h.blocks, 2);
}

}  // namespace
}  // namespace kvstash::router
