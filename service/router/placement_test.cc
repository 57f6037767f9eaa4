#include "service/router/placement.h"

#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvstash::router {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class PlacementTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(0); }

  void Reset(double ttl) {
    placement_.reset();
    index_ = std::make_unique<PrefixIndex>();
    absl::StatusOr<std::unique_ptr<Placement>> p =
        Placement::Create(index_.get(), {.approximate_ttl_s = ttl, .clock = &clock_});
    ASSERT_TRUE(p.ok()) << p.status();
    placement_ = *std::move(p);
  }

  void Store(const HolderId& h, std::vector<uint64_t> hashes,
             std::optional<Medium> m = std::nullopt) {
    KvEvent e{KvEvent::Kind::kStored, std::move(hashes), std::nullopt, m};
    ASSERT_TRUE(index_->Apply({h, 0, 0, {std::move(e)}}).ok());
  }

  PlacementDecision Place(PlacementRequest r) {
    absl::StatusOr<PlacementDecision> d = placement_->Place(r);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : PlacementDecision{};
  }

  static std::vector<uint64_t> Blocks(uint64_t n) {
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < n; ++i) v.push_back(1000 + i);
    return v;
  }

  FakeClock clock_;
  std::unique_ptr<PrefixIndex> index_;
  std::unique_ptr<Placement> placement_;
};

std::vector<std::string> Names(const PlacementDecision& d) {
  std::vector<std::string> out;
  for (const RankScore& r : d.ranked)
    out.push_back(absl::StrCat(r.rank.worker, "/", r.rank.dp_rank));
  return out;
}

TEST_F(PlacementTest, CostFormulaIsPinned) {
  const std::vector<uint64_t> h = Blocks(8);
  Store({"a", 0}, {h[0], h[1]});
  Store({"a", 0}, {h[2]}, Medium::kHost);          // its own CPU tier
  Store({"a", kNodeRank}, {h[3]}, Medium::kDisk);  // its own node
  Store({"n", kNodeRank}, {h[4], h[5]}, Medium::kHost);
  Store({"n", kNodeRank}, {h[7]}, Medium::kHost);  // after a gap: unusable
  PlacementDecision d =
      Place({.hashes = h, .candidates = {{"a", 0, 3, 20}, {"b", 0, 0, 0}}, .block_size = 16});
  ASSERT_EQ(d.ranked.size(), 2u);
  // a: 2 device, 1 host, 1 disk, 2 remote, 2 prefill; load 3 + ceil(20/16).
  EXPECT_EQ(d.ranked[0], (RankScore{{"a", 0}, 2, 1, 1, 2, 2, 5, 2 + 0.05 + 0.2 + 0.6 + 5}));
  // b holds nothing and has no node: remote is what nodes hold from block 0.
  EXPECT_EQ(d.ranked[1], (RankScore{{"b", 0}, 0, 0, 0, 0, 8, 0, 8}));
  EXPECT_DOUBLE_EQ(d.ranked[0].cost, 7.85);
}

TEST_F(PlacementTest, OwnNodeGpuArenaCountsAsHost) {
  const std::vector<uint64_t> h = Blocks(3);
  Store({"a", kNodeRank}, {h[0]}, Medium::kDevice);
  Store({"a", kNodeRank}, {h[1]}, Medium::kHost);
  Store({"a", kNodeRank}, {h[2]}, Medium::kDisk);
  PlacementDecision d = Place({.hashes = h, .candidates = {{"a", 1}}});
  EXPECT_EQ(d.ranked[0], (RankScore{{"a", 1}, 0, 2, 1, 0, 0, 0, 0.05 * 2 + 0.2}));
}

TEST_F(PlacementTest, RemoteIsCountedFromTheEndOfTheRanksOwnRun) {
  const std::vector<uint64_t> h = Blocks(5);
  Store({"a", 0}, {h[0], h[1]});
  Store({"n", kNodeRank}, {h[0], h[1], h[2], h[3]}, Medium::kDisk);
  PlacementDecision d = Place({.hashes = h, .candidates = {{"a", 0}, {"b", 0}}});
  EXPECT_EQ(d.ranked[0].rank, (HolderId{"a", 0}));
  EXPECT_EQ(d.ranked[0].remote, 2u);
  EXPECT_EQ(d.ranked[0].prefill, 1u);
  EXPECT_EQ(d.ranked[1].remote, 4u);
  EXPECT_EQ(d.ranked[1].prefill, 1u);
}

TEST_F(PlacementTest, TiesGoToMoreDeviceThenNameThenDpRank) {
  const std::vector<uint64_t> h = Blocks(2);
  Store({"x", 0}, {h[0], h[1]});
  Store({"y", 0}, {h[0]});
  // x: cost 0 + load 1 = 1; y: prefill 1 = 1. Equal: x has more device.
  PlacementDecision d = Place({.hashes = h, .candidates = {{"y", 0}, {"x", 0, 1}}});
  EXPECT_THAT(Names(d), ElementsAre("x/0", "y/0"));
  d = Place({.hashes = h, .candidates = {{"z", 1}, {"z", 0}, {"c", 5}}});
  EXPECT_THAT(Names(d), ElementsAre("c/5", "z/0", "z/1"));
}

TEST_F(PlacementTest, WithoutCandidatesTakesOverlapThenLeastLoadedCapped) {
  const std::vector<uint64_t> h = Blocks(4);
  Store({"r1", 0}, {h[0]});
  Store({"r2", 0}, {h[0], h[1], h[2]});
  Store({"r3", kNodeRank}, {h[0], h[1]}, Medium::kHost);
  for (const char* idle : {"i3", "i1", "i2"}) Store({idle, 0}, {77});
  Store({"r3", 2}, {88});  // co-located with node r3
  PlacementDecision d = Place({.hashes = h, .max_candidates = 4});
  // Costs: r2 1 (prefill 1); r3/2 2.1 (host 2 through its node, prefill 2);
  // r1 2.3 (device 1, remote 1 from node r3, prefill 2); an idle rank 2.6
  // (remote 2, prefill 2). The cap leaves out i2 and i3.
  EXPECT_THAT(Names(d), ElementsAre("r2/0", "r3/2", "r1/0", "i1/0"));
  EXPECT_EQ(d.ranked[1].host, 2u);
  EXPECT_EQ(d.ranked[2].remote, 1u);
  EXPECT_EQ(d.ranked[3].remote, 2u);
  d = Place({.hashes = h, .max_candidates = 1});
  EXPECT_THAT(Names(d), ElementsAre("r2/0"));
  d = Place({.hashes = {555}, .max_candidates = 2});
  EXPECT_THAT(Names(d), ElementsAre("i1/0", "i2/0"));
  ASSERT_TRUE(index_->RemoveHolder({"i1", 0}));
  d = Place({.hashes = {555}, .max_candidates = 2});
  EXPECT_THAT(Names(d), ElementsAre("i2/0", "i3/0"));
}

TEST_F(PlacementTest, NoKnownRanksGivesAnEmptyAnswer) {
  Store({"n", kNodeRank}, {1});
  PlacementDecision d = Place({.hashes = {1}});
  EXPECT_THAT(d.ranked, IsEmpty());
  EXPECT_THAT(d.fetch_hints, IsEmpty());
}

TEST_F(PlacementTest, TemperatureSamplesTheFirstInProportion) {
  const std::vector<uint64_t> h = Blocks(10);
  Store({"a", 0}, h);
  Store({"b", 0}, {h[0], h[1], h[2], h[3], h[4]});
  // Costs: a 0, b 5, c 10. Normalised by 10: 0, 0.5, 1.
  PlacementRequest r{.hashes = h, .candidates = {{"a", 0}, {"b", 0}, {"c", 0}}};
  r.temperature = 0.5;
  const double w[] = {1, std::exp(-1.0), std::exp(-2.0)};
  const double total = w[0] + w[1] + w[2];
  std::map<std::string, int> first;
  constexpr int kDraws = 20000;
  for (int s = 0; s < kDraws; ++s) {
    r.seed = static_cast<uint64_t>(s);
    PlacementDecision d = Place(r);
    ++first[Names(d)[0]];
    // The others stay in cost order.
    std::vector<double> rest;
    for (size_t i = 1; i < d.ranked.size(); ++i) rest.push_back(d.ranked[i].cost);
    EXPECT_TRUE(std::is_sorted(rest.begin(), rest.end()));
  }
  EXPECT_NEAR(first["a/0"] / double{kDraws}, w[0] / total, 0.015);
  EXPECT_NEAR(first["b/0"] / double{kDraws}, w[1] / total, 0.015);
  EXPECT_NEAR(first["c/0"] / double{kDraws}, w[2] / total, 0.015);
  r.temperature = 0;
  EXPECT_THAT(Names(Place(r)), ElementsAre("a/0", "b/0", "c/0"));
}

TEST_F(PlacementTest, SampleUniformIsUniform) {
  int below = 0;
  for (uint64_t s = 0; s < 10000; ++s) {
    const double u = SampleUniform(s);
    ASSERT_GE(u, 0);
    ASSERT_LT(u, 1);
    below += u < 0.25;
  }
  EXPECT_NEAR(below / 10000.0, 0.25, 0.02);
}

TEST_F(PlacementTest, ApproximateModeRemembersDecisionsForTtl) {
  Reset(10);
  const std::vector<uint64_t> h = Blocks(4);
  ASSERT_TRUE(placement_->Record({"a", 0}, h).ok());
  clock_.Advance(5'000'000'000);
  ASSERT_TRUE(placement_->Record({"a", 0}, {h[0], h[1]}).ok());  // these two live to t=15
  PlacementDecision d = Place({.hashes = h, .candidates = {{"a", 0, 1}}});
  EXPECT_EQ(d.ranked[0], (RankScore{{"a", 0}, 4, 0, 0, 0, 0, 1 + 4 + 2, 7}));
  d = Place({.hashes = h});  // without candidates: the router's own load only
  EXPECT_EQ(d.ranked[0].load, 6);
  clock_.Set(10'000'000'000);  // the first record expires at exactly t=10
  d = Place({.hashes = h, .candidates = {{"a", 0}}});
  EXPECT_EQ(d.ranked[0].device, 2u);
  EXPECT_EQ(d.ranked[0].load, 2);
  clock_.Set(15'000'000'000);
  d = Place({.hashes = h, .candidates = {{"a", 0}}});
  EXPECT_EQ(d.ranked[0].device, 0u);
  EXPECT_EQ(d.ranked[0].load, 0);
  EXPECT_EQ(index_->Stats().entries, 0u);
}

TEST_F(PlacementTest, RecordNeedsApproximateMode) {
  EXPECT_EQ(placement_->Record({"a", 0}, {1}).code(), absl::StatusCode::kFailedPrecondition);
  Reset(1);
  EXPECT_TRUE(absl::StrContains(placement_->Record({"a", kNodeRank}, {1}).message(), "dp_rank"));
}

TEST_F(PlacementTest, FetchHintsPreferTheOwnNodeThenTheLongestRun) {
  const std::vector<uint64_t> h = Blocks(9);
  Store({"a", 0}, {h[0], h[1]});
  Store({"a", 0}, {h[2]}, Medium::kHost);
  Store({"a", kNodeRank}, {h[1], h[2], h[3]}, Medium::kHost);
  Store({"n1", kNodeRank}, {h[3], h[4], h[5]}, Medium::kDisk);
  Store({"n2", kNodeRank}, {h[4], h[5], h[6]}, Medium::kHost);
  Store({"n2", kNodeRank}, {h[7]}, Medium::kDisk);
  PlacementDecision d = Place({.hashes = h, .candidates = {{"a", 0}}});
  // Own run 0..3 (device 2, host 2), remote 4..7 (4), prefill 1.
  EXPECT_EQ(d.ranked[0], (RankScore{{"a", 0}, 2, 2, 0, 4, 1, 0, 1 + 0.1 + 1.2}));
  EXPECT_THAT(d.fetch_hints, ElementsAre(FetchHint{{"a", kNodeRank}, Medium::kHost, 2, 2},
                                         FetchHint{{"n2", kNodeRank}, Medium::kHost, 4, 3},
                                         FetchHint{{"n2", kNodeRank}, Medium::kDisk, 7, 1}));
}

TEST_F(PlacementTest, FetchHintTiesGoToTheFirstNodeName) {
  const std::vector<uint64_t> h = Blocks(2);
  Store({"n2", kNodeRank}, h, Medium::kHost);
  Store({"n1", kNodeRank}, h, Medium::kHost);
  PlacementDecision d = Place({.hashes = h, .candidates = {{"a", 0}}});
  EXPECT_THAT(d.fetch_hints, ElementsAre(FetchHint{{"n1", kNodeRank}, Medium::kHost, 0, 2}));
}

TEST_F(PlacementTest, BadRequestsNameTheField) {
  auto message = [&](PlacementRequest r) {
    return std::string(placement_->Place(r).status().message());
  };
  EXPECT_THAT(message({.block_size = 0}), ::testing::HasSubstr("block_size"));
  EXPECT_THAT(message({.temperature = -1}), ::testing::HasSubstr("temperature"));
  EXPECT_THAT(message({.temperature = NAN}), ::testing::HasSubstr("temperature"));
  EXPECT_THAT(message({.max_candidates = 0}), ::testing::HasSubstr("max_candidates"));
  EXPECT_THAT(message({.candidates = {{"", 0}}}), ::testing::HasSubstr("candidates[0].worker"));
  EXPECT_THAT(message({.candidates = {{"a", -1}}}), ::testing::HasSubstr("candidates[0].dp_rank"));
  EXPECT_THAT(message({.candidates = {{"a", 0, -1}}}),
              ::testing::HasSubstr("candidates[0].active_blocks"));
  EXPECT_THAT(message({.candidates = {{"a", 0, 0, -5}}}),
              ::testing::HasSubstr("candidates[0].queued_prefill_tokens"));
  EXPECT_THAT(message({.candidates = {{"a", 0}, {"a", 0}}}),
              ::testing::HasSubstr("candidates[1].worker: duplicate of candidates[0]"));
  absl::StatusOr<std::unique_ptr<Placement>> bad =
      Placement::Create(index_.get(), {.weights = {.disk = -1}});
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("weights.disk"));
}

// Queries, recorded decisions, their expiry and rank churn all at once; run
// under TSan too.
TEST_F(PlacementTest, ConcurrentPlaceRecordAndEvents) {
  Reset(0.001);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // an engine publishing events, sometimes vanishing
    for (int r = 0; r < 400; ++r) {
      const HolderId me{absl::StrCat("e", r % 5), r % 2};
      Store(me, {1000, 1001, static_cast<uint64_t>(1002 + r % 7)});
      Store({absl::StrCat("e", r % 5), kNodeRank}, {1000, 1001, 1002, 1003}, Medium::kHost);
      if (r % 40 == 0) index_->RemoveHolder(me);
    }
  });
  threads.emplace_back([&] {  // the router recording its own decisions
    for (int r = 0; !done.load(); ++r) {
      ASSERT_TRUE(placement_->Record({absl::StrCat("a", r % 3), 0}, Blocks(1 + r % 6)).ok());
      clock_.Advance(100'000);
    }
  });
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t r = 0; !done.load(); ++r) {
        PlacementRequest q{.hashes = Blocks(1 + r % 6), .temperature = t * 0.5, .seed = r};
        if (r % 2) q.candidates = {{"e1", 1, 3}, {"a0", 0}, {"zz", 0, 0, 100}};
        absl::StatusOr<PlacementDecision> d = placement_->Place(q);
        ASSERT_TRUE(d.ok()) << d.status();
        if (r % 2) {
          EXPECT_EQ(d->ranked.size(), 3u);
        }
      }
    });
  }
  threads[0].join();
  done = true;
  for (size_t t = 1; t < threads.size(); ++t) threads[t].join();
  clock_.Advance(1'000'000'000);
  PlacementDecision d = Place({.hashes = Blocks(6), .candidates = {{"a0", 0}}});
  EXPECT_EQ(d.ranked[0].device, 0u);  // every recorded decision has expired
  EXPECT_EQ(d.ranked[0].load, 0);
}

}  // namespace
}  // namespace kvstash::router
