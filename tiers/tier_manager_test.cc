// TierManager policy with a FakeClock: placement, eviction order, spill,
// admission, promotion, pins, write-through, conversion, corruption, reopen.
#include "tiers/tier_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <map>

#include "tiers/disk_tier.h"
#include "tiers/host_tier.h"
#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using kernels::Format;
using testing::Key;
using testing::MakeBlock;
using testing::SmallGeometry;

constexpr uint64_t kBlockBytes = 768;  // SmallGeometry NVFP4: 192 header + 576 payload

class TierManagerTest : public ::testing::Test {
 protected:
  // A host tier of `host_slots` 4 KiB slots over a disk tier of
  // `disk_blocks` blocks (0 disables it).
  void Build(int host_slots, int disk_blocks, TierManagerOptions o = {}, HostTierOptions ho = {}) {
    m_.reset();
    std::vector<TierConfig> tiers;
    ho.capacity_bytes = host_slots * 4096;
    auto host = HostTier::Create(ho);
    ASSERT_TRUE(host.ok());
    host_ = host->get();
    tiers.push_back(TierConfig{std::move(*host), false});
    DiskTierOptions d;
    d.dir = dir_.path();
    d.capacity_bytes = disk_blocks * kBlockBytes;
    auto disk = DiskTier::Open(d, Env::Default());
    ASSERT_TRUE(disk.ok()) << disk.status();
    disk_ = disk->get();
    tiers.push_back(TierConfig{std::move(*disk), true});
    Env env = Env::Default();
    env.clock = &clock_;
    auto m = TierManager::Create(o, std::move(tiers), env);
    ASSERT_TRUE(m.ok()) << m.status();
    m_ = std::move(*m);
  }

  PutRequest Req(uint64_t i, std::optional<uint64_t> parent = std::nullopt, uint8_t prio = 0) {
    std::string& payload = payloads_[i];
    payload = std::string(ParseBlock(MakeBlock(Key(i), i))->payload);
    scales_.assign(4, 0.25f);
    PutRequest r;
    r.key = Key(i);
    if (parent) r.parent = Key(*parent);
    r.priority = prio;
    r.geometry = SmallGeometry();
    r.format = Format::kNvfp4;
    r.payload = payload;
    r.scales = scales_;
    return r;
  }

  absl::Status Put(uint64_t i, std::optional<uint64_t> parent = std::nullopt, uint8_t prio = 0) {
    clock_.Advance(10);
    return m_->Put(Req(i, parent, prio));
  }

  absl::StatusOr<GetResult> Get(uint64_t i) {
    clock_.Advance(10);
    return m_->Get(Key(i), std::nullopt);
  }

  // Fastest tier holding each key, -1 when none.
  std::vector<int> Where(std::vector<uint64_t> keys) {
    std::vector<int> out;
    for (uint64_t k : keys) {
      const BlockKey key = Key(k);
      LookupResult r = m_->Lookup(absl::MakeConstSpan(&key, 1));
      out.push_back(r.prefix == 1 ? r.tiers[0] : -1);
    }
    return out;
  }

  void ExpectWithinCapacity() {
    for (const auto& t : m_->Stats().tiers) {
      EXPECT_LE(t.tier.used_bytes, t.tier.capacity_bytes) << t.tier.name;
    }
  }

  FakeClock clock_;
  testing::ScopedTempDir dir_;
  std::map<uint64_t, std::string> payloads_;
  std::vector<float> scales_;
  HostTier* host_ = nullptr;
  DiskTier* disk_ = nullptr;
  std::unique_ptr<TierManager> m_;
};

TierManagerOptions AdmitAll() {
  TierManagerOptions o;
  o.admit_after_hits = 0;
  return o;
}

// The node's KV events: every copy that lands in or leaves a tier, with its
// parent, in order; spills show as removed-from-host plus stored-on-disk.
TEST_F(TierManagerTest, CopyChangesAreReportedPerTier) {
  std::vector<std::string> seen;
  TierManagerOptions o = AdmitAll();
  o.on_copy_change = [&seen](const CopyChange& c) {
    seen.push_back(absl::StrCat(c.stored ? "+" : "-", c.tier, ":", c.key == Key(1) ? 1 : 2,
                                c.parent ? "^" : ""));
  };
  Build(1, 8, o);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2, 1).ok());  // evicts 1 from the one host slot: it spills to disk
  ASSERT_TRUE(m_->Erase(Key(2)).ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("+0:1", "+1:1", "-0:1", "+0:2^", "-0:2^"));
}

// A zero-copy read (NoteRead) keeps a block warm like a Get does.
TEST_F(TierManagerTest, NoteReadRefreshesTheLruAndCountsTheHit) {
  Build(2, 0);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  clock_.Advance(10);
  m_->NoteRead(Key(1));
  ASSERT_TRUE(Put(3).ok());  // evicts the least recently used: 2
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{0, -1, 0}));
  EXPECT_EQ(m_->Stats().hits, 1u);
  m_->NoteRead(Key(99));  // unknown: nothing happens
  EXPECT_EQ(m_->Stats().hits, 1u);
}

TEST_F(TierManagerTest, PutLandsInTheFastestTierAndGetsBackAsStored) {
  Build(4, 8);
  ASSERT_TRUE(Put(1).ok());
  absl::StatusOr<GetResult> r = Get(1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tier, 0);
  EXPECT_EQ(r->header.format, Format::kNvfp4);
  EXPECT_EQ(r->payload, payloads_[1]);  // NVFP4 in, NVFP4 stored as is
  EXPECT_FALSE(r->header.dynamic_scales);
  EXPECT_EQ(r->header.scales, std::vector<float>(4, 0.25f));
  EXPECT_TRUE(absl::IsNotFound(Get(2).status()));
  EXPECT_EQ(m_->Stats().hits, 1u);
  EXPECT_EQ(m_->Stats().misses, 1u);
}

TEST_F(TierManagerTest, EvictsTheLeastRecentlyUsedAndSpillsItDown) {
  Build(3, 8, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Put(3).ok());
  ASSERT_TRUE(Get(1).ok());  // 2 is now the least recently used
  ASSERT_TRUE(Put(4).ok());
  EXPECT_EQ(Where({1, 2, 3, 4}), (std::vector<int>{0, 1, 0, 0}));
  ASSERT_TRUE(Put(5).ok());  // then 3
  EXPECT_EQ(Where({1, 2, 3, 4, 5}), (std::vector<int>{0, 1, 1, 0, 0}));
  const TierManagerStats s = m_->Stats();
  EXPECT_EQ(s.tiers[0].evictions, 2u);
  EXPECT_EQ(s.tiers[0].spills, 2u);
  EXPECT_EQ(s.tiers[1].tier.blocks, 2u);
  ExpectWithinCapacity();
}

TEST_F(TierManagerTest, TheLastTierDropsItsLeastRecentlyUsed) {
  Build(1, 2, AdmitAll());
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(Put(i).ok());
  // host holds 4; disk held 1, 2, then 3 pushed 1 out.
  EXPECT_EQ(Where({1, 2, 3, 4}), (std::vector<int>{-1, 1, 1, 0}));
  EXPECT_EQ(m_->Stats().tiers[1].evictions, 1u);
  ExpectWithinCapacity();
}

TEST_F(TierManagerTest, LowerPriorityClassesAreEvictedFirst) {
  Build(3, 8, AdmitAll());
  ASSERT_TRUE(Put(1, std::nullopt, 2).ok());  // oldest, but high priority
  ASSERT_TRUE(Put(2, std::nullopt, 0).ok());
  ASSERT_TRUE(Put(3, std::nullopt, 1).ok());
  ASSERT_TRUE(Put(4).ok());
  EXPECT_EQ(Where({1, 2, 3, 4}), (std::vector<int>{0, 1, 0, 0}));
  ASSERT_TRUE(Put(5).ok());
  EXPECT_EQ(Where({1, 3, 4, 5}), (std::vector<int>{0, 0, 1, 0}));  // 4 (prio 0) before 3
}

TEST_F(TierManagerTest, LeavesOfAPrefixChainGoBeforeTheirParents) {
  Build(3, 8, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2, 1).ok());
  ASSERT_TRUE(Put(3, 2).ok());
  ASSERT_TRUE(Put(10).ok());  // LRU would take 1; the leaf 3 goes instead
  EXPECT_EQ(Where({1, 2, 3, 10}), (std::vector<int>{0, 0, 1, 0}));
  ASSERT_TRUE(Put(11).ok());  // 2 is a leaf in host now, and older than 10
  EXPECT_EQ(Where({1, 2, 3, 10, 11}), (std::vector<int>{0, 1, 1, 0, 0}));
  const BlockKey chain[] = {Key(1), Key(2), Key(3), Key(4)};
  LookupResult r = m_->Lookup(chain);
  EXPECT_EQ(r.prefix, 3u);
  EXPECT_EQ(r.tiers, (std::vector<int>{0, 1, 1}));
}

TEST_F(TierManagerTest, PinnedBlocksStayAndAFullyPinnedTierOverflowsDown) {
  Build(2, 8, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(m_->Pin(Key(1)).ok());
  ASSERT_TRUE(m_->Pin(Key(1)).ok());  // pins count
  ASSERT_TRUE(Put(3).ok());
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{0, 1, 0}));
  ASSERT_TRUE(m_->Pin(Key(3)).ok());
  ASSERT_TRUE(Put(4).ok());  // host is all pinned: straight to disk
  EXPECT_EQ(Where({1, 3, 4}), (std::vector<int>{0, 0, 1}));
  ASSERT_TRUE(m_->Unpin(Key(1)).ok());
  ASSERT_TRUE(Put(5).ok());  // still pinned once
  EXPECT_EQ(Where({1, 3, 5}), (std::vector<int>{0, 0, 1}));
  ASSERT_TRUE(m_->Unpin(Key(1)).ok());
  ASSERT_TRUE(Put(6).ok());
  EXPECT_EQ(Where({1, 3, 6}), (std::vector<int>{1, 0, 0}));
  EXPECT_TRUE(absl::IsFailedPrecondition(m_->Unpin(Key(1))));
  EXPECT_TRUE(absl::IsNotFound(m_->Pin(Key(99))));
}

TEST_F(TierManagerTest, EverythingPinnedIsTheOnlyWayAPutFailsForSpace) {
  Build(1, 1, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());  // 1 spills to disk
  ASSERT_TRUE(m_->Pin(Key(1)).ok());
  ASSERT_TRUE(m_->Pin(Key(2)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(Put(3)));
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{1, 0, -1}));
  ASSERT_TRUE(m_->Unpin(Key(1)).ok());
  EXPECT_TRUE(Put(3).ok());
  ExpectWithinCapacity();
}

TEST_F(TierManagerTest, DiskAdmitsOnlyBlocksHitEnoughTimes) {
  TierManagerOptions o;
  o.admit_after_hits = 1;
  Build(2, 8, o);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Get(2).ok());
  ASSERT_TRUE(Put(3).ok());  // evicts 1 (never hit): dropped
  ASSERT_TRUE(Put(4).ok());  // evicts 2 (hit once): spilled
  EXPECT_EQ(Where({1, 2, 3, 4}), (std::vector<int>{-1, 1, 0, 0}));
  const TierManagerStats s = m_->Stats();
  EXPECT_EQ(s.tiers[0].evictions, 2u);
  EXPECT_EQ(s.tiers[0].spills, 1u);
  EXPECT_EQ(s.tiers[0].admissions_refused, 1u);
}

TEST_F(TierManagerTest, AHitInTheDiskIsPromotedEvictingTheColdest) {
  Build(2, 8, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Put(3).ok());  // 1 -> disk
  absl::StatusOr<GetResult> r = Get(1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tier, 1);
  EXPECT_EQ(r->payload, payloads_[1]);
  // 1 moved up, 2 (coldest) went down; the disk keeps its copy of 1.
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{0, 1, 0}));
  EXPECT_TRUE(disk_->Contains(Key(1)));
  const TierManagerStats s = m_->Stats();
  EXPECT_EQ(s.tiers[0].promotions, 1u);
  // Evicting 1 again just drops the host copy: nothing to spill.
  ASSERT_TRUE(Get(3).ok());
  ASSERT_TRUE(Put(4).ok());
  EXPECT_EQ(Where({1, 3, 4}), (std::vector<int>{1, 0, 0}));
  EXPECT_EQ(m_->Stats().tiers[0].spills, s.tiers[0].spills);
}

TEST_F(TierManagerTest, PromotionIfFreeNeverEvicts) {
  TierManagerOptions o = AdmitAll();
  o.promote = PromotePolicy::kIfFree;
  Build(2, 8, o);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Put(3).ok());  // 1 -> disk, host full
  ASSERT_TRUE(Get(1).ok());
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{1, 0, 0}));
  ASSERT_TRUE(m_->Erase(Key(2)).ok());
  ASSERT_TRUE(Get(1).ok());  // room now
  EXPECT_EQ(Where({1, 3}), (std::vector<int>{0, 0}));
}

TEST_F(TierManagerTest, WriteThroughKeepsADiskCopyAndEvictionOnlyDrops) {
  TierManagerOptions o = AdmitAll();
  o.write = WritePolicy::kWriteThrough;
  Build(2, 8, o);
  ASSERT_TRUE(Put(1).ok());
  EXPECT_TRUE(host_->Contains(Key(1)));
  EXPECT_TRUE(disk_->Contains(Key(1)));
  ASSERT_TRUE(Put(2).ok());
  ASSERT_TRUE(Put(3).ok());
  EXPECT_EQ(Where({1, 2, 3}), (std::vector<int>{1, 0, 0}));
  EXPECT_EQ(m_->Stats().tiers[0].evictions, 1u);
  EXPECT_EQ(m_->Stats().tiers[0].spills, 0u);
  ASSERT_TRUE(m_->Erase(Key(2)).ok());
  EXPECT_FALSE(host_->Contains(Key(2)));
  EXPECT_FALSE(disk_->Contains(Key(2)));
  EXPECT_TRUE(absl::IsNotFound(m_->Erase(Key(2))));
}

TEST_F(TierManagerTest, WriteThroughAdmitsToDiskOnTheNthHit) {
  TierManagerOptions o;
  o.write = WritePolicy::kWriteThrough;
  o.admit_after_hits = 2;
  Build(4, 8, o);
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Get(1).ok());
  EXPECT_FALSE(disk_->Contains(Key(1)));
  ASSERT_TRUE(Get(1).ok());
  EXPECT_TRUE(disk_->Contains(Key(1)));
}

TEST_F(TierManagerTest, ConvertsOnPutAndOnGet) {
  Build(4, 8);
  const kernels::KvGeometry g = SmallGeometry();
  const size_t n = kernels::KvBlockLayout::Create(g, Format::kBf16)->block_bytes() / 2;
  const std::vector<uint16_t> bf16 = testing::RandomBf16(9, n);
  PutRequest r;
  r.key = Key(1);
  r.geometry = g;
  r.format = Format::kBf16;
  r.payload = absl::string_view(reinterpret_cast<const char*>(bf16.data()), n * 2);
  ASSERT_TRUE(m_->Put(r).ok());
  absl::StatusOr<GetResult> stored = m_->Get(Key(1), std::nullopt);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->header.format, Format::kNvfp4);
  EXPECT_TRUE(stored->header.dynamic_scales);
  EXPECT_EQ(stored->payload.size(), 576u);
  absl::StatusOr<GetResult> back = m_->Get(Key(1), Format::kBf16);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->header.format, Format::kBf16);
  EXPECT_TRUE(back->header.scales.empty());
  ASSERT_EQ(back->payload.size(), n * 2);
  EXPECT_EQ(back->header.payload_checksum, PayloadChecksum(back->payload));
  r.payload = r.payload.substr(2);
  const absl::Status bad = m_->Put(PutRequest{r});
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
}

TEST_F(TierManagerTest, ACorruptCopyIsAMissAndAnotherTierServes) {
  TierManagerOptions o = AdmitAll();
  o.write = WritePolicy::kWriteThrough;
  HostTierOptions ho;
  ho.verify_reads = true;
  Build(4, 8, o, ho);
  ASSERT_TRUE(Put(1).ok());
  auto m = host_->Map(Key(1));
  ASSERT_TRUE(m.ok());
  const HostTier::Location loc = m->location;
  m->ref = BlockRef();
  char* p = static_cast<char*>(
      mmap(nullptr, host_->arena_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, host_->fd(), 0));
  ASSERT_NE(p, MAP_FAILED);
  p[loc.offset + loc.length - 3] ^= 1;
  munmap(p, host_->arena_bytes());
  absl::StatusOr<GetResult> r = Get(1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tier, 1);
  EXPECT_EQ(r->payload, payloads_[1]);
  EXPECT_EQ(m_->Stats().tiers[0].tier.checksum_failures, 1u);
  EXPECT_EQ(Where({1}), (std::vector<int>{0}));  // promoted again from the good copy
}

TEST_F(TierManagerTest, ReopeningTheDiskRebuildsTheIndex) {
  Build(1, 8, AdmitAll());
  ASSERT_TRUE(Put(1).ok());
  ASSERT_TRUE(Put(2, 1).ok());
  ASSERT_TRUE(Put(3, 2).ok());
  Build(1, 8, AdmitAll());  // host lost, disk reopened
  const BlockKey chain[] = {Key(1), Key(2), Key(3)};
  LookupResult r = m_->Lookup(chain);
  EXPECT_EQ(r.prefix, 2u);
  EXPECT_EQ(r.tiers, (std::vector<int>{1, 1}));
  absl::StatusOr<GetResult> g = Get(2);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->payload, payloads_[2]);
  EXPECT_EQ(g->header.parent, Key(1));
}

TEST_F(TierManagerTest, ReopeningWithLessCapacityShedsBlocks) {
  Build(1, 8, AdmitAll());
  for (uint64_t i = 1; i <= 6; ++i) ASSERT_TRUE(Put(i).ok());
  Build(1, 3, AdmitAll());
  EXPECT_EQ(disk_->Stats().blocks, 3u);
  ExpectWithinCapacity();
}

TEST_F(TierManagerTest, ADisabledTierIsSkipped) {
  std::vector<TierConfig> tiers;
  DiskTierOptions d;
  d.dir = dir_.path() + "/zero";
  d.capacity_bytes = 0;
  tiers.push_back(TierConfig{std::move(*DiskTier::Open(d, Env::Default())), false});
  d.dir = dir_.path() + "/one";
  d.capacity_bytes = 1 << 20;
  tiers.push_back(TierConfig{std::move(*DiskTier::Open(d, Env::Default())), false});
  auto m = TierManager::Create(TierManagerOptions{}, std::move(tiers), Env::Default());
  ASSERT_TRUE(m.ok());
  m_ = std::move(*m);
  ASSERT_TRUE(m_->Put(Req(1)).ok());
  EXPECT_EQ(Where({1}), (std::vector<int>{1}));
}

TEST_F(TierManagerTest, CapacityIsNeverExceededUnderRandomOperations) {
  Build(5, 7, AdmitAll());
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t k = rng() % 20;
    switch (rng() % 5) {
      case 0:
      case 1:
        ASSERT_TRUE(Put(k, k > 0 ? std::optional<uint64_t>(k - 1) : std::nullopt).ok());
        break;
      case 2:
        if (absl::StatusOr<GetResult> r = Get(k); r.ok()) {
          ASSERT_EQ(r->payload, payloads_[k]);
        }
        break;
      case 3:
        if (m_->Pin(Key(k)).ok()) {
          ASSERT_TRUE(m_->Unpin(Key(k)).ok());
        }
        break;
      default:
        m_->Erase(Key(k)).IgnoreError();
    }
    const TierManagerStats s = m_->Stats();
    for (const auto& t : s.tiers) ASSERT_LE(t.tier.used_bytes, t.tier.capacity_bytes);
    ASSERT_LE(s.blocks, 12u);
  }
}

}  // namespace
}  // namespace kvstash::tiers
