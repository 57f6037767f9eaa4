// Random event streams applied to PrefixIndex + Placement and to the
// brute-force ReferenceIndex; every query must get the same answer from both.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/router/event_payloads_testing.h"
#include "service/router/placement.h"
#include "service/router/prefix_index.h"
#include "service/router/reference_index.h"
#include "service/router/vllm_events.h"

namespace kvstash::router {

void PrintTo(const HolderId& h, std::ostream* os) { *os << h.worker << "/" << h.dp_rank; }
void PrintTo(const RankScore& r, std::ostream* os) {
  *os << r.rank.worker << "/" << r.rank.dp_rank << " dev=" << r.device << " host=" << r.host
      << " disk=" << r.disk << " remote=" << r.remote << " prefill=" << r.prefill
      << " load=" << r.load << " cost=" << r.cost;
}
void PrintTo(const FetchHint& f, std::ostream* os) {
  *os << f.node.worker << " m=" << static_cast<int>(f.medium) << " [" << f.start << "+" << f.count
      << ")";
}
void PrintTo(const HolderOverlap& o, std::ostream* os) {
  *os << o.holder.worker << "/" << o.holder.dp_rank << " " << o.device << "/" << o.host << "/"
      << o.disk;
}

namespace {

class Stream {
 public:
  explicit Stream(uint64_t seed) : rng_(seed) {
    for (int w = 0; w < 4; ++w) {
      for (int dp = 0; dp < 3; ++dp) holders_.push_back({absl::StrCat("w", w), dp});
    }
    for (const char* n : {"w0", "w1", "w5", "w6"}) holders_.push_back({n, kNodeRank});
    // Chains share prefixes: each extends a prefix of an earlier one.
    for (int c = 0; c < 24; ++c) {
      std::vector<uint64_t> chain;
      if (c > 0 && Coin(0.7)) {
        const auto& parent = chains_[Below(chains_.size())];
        chain.assign(parent.begin(), parent.begin() + Below(parent.size() + 1));
      }
      const size_t grow = 1 + Below(10);
      for (size_t i = 0; i < grow; ++i) chain.push_back(rng_());
      chains_.push_back(chain);
    }
  }

  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Coin(double p) { return std::bernoulli_distribution(p)(rng_); }
  const HolderId& AnyHolder() { return holders_[Below(holders_.size())]; }
  const std::vector<uint64_t>& AnyChain() { return chains_[Below(chains_.size())]; }
  std::optional<Medium> AnyMedium() {
    const uint64_t m = Below(kMediumCount + 1);
    return m == kMediumCount ? std::nullopt : std::optional<Medium>(static_cast<Medium>(m));
  }

  KvEvent AnyEvent() {
    const uint64_t roll = Below(100);
    KvEvent e;
    e.medium = AnyMedium();
    const std::vector<uint64_t>& chain = AnyChain();
    const size_t begin = Coin(0.7) ? 0 : Below(chain.size());
    const size_t end = begin + 1 + Below(chain.size() - begin);
    e.block_hashes.assign(chain.begin() + begin, chain.begin() + end);
    if (roll < 65) return e;
    e.kind = KvEvent::Kind::kRemoved;
    if (roll < 97) return e;
    return {KvEvent::Kind::kCleared};
  }

  std::vector<uint64_t> AnyQuery() {
    const std::vector<uint64_t>& chain = AnyChain();
    std::vector<uint64_t> q(chain.begin(), chain.begin() + 1 + Below(chain.size()));
    if (Coin(0.3)) q.push_back(rng_());  // a block nobody holds
    if (Coin(0.3)) {
      const std::vector<uint64_t>& more = AnyChain();
      q.insert(q.end(), more.begin(), more.end());
    }
    if (Coin(0.05)) q.clear();
    return q;
  }

  std::vector<Candidate> AnyCandidates() {
    std::vector<Candidate> out;
    for (const HolderId& h : holders_) {
      if (h.dp_rank >= 0 && Coin(0.4)) {
        out.push_back(
            {h.worker, h.dp_rank, static_cast<int64_t>(Below(4)), static_cast<int64_t>(Below(50))});
      }
    }
    if (Coin(0.3)) out.push_back({"w5", 1});  // unknown rank, known own node
    if (Coin(0.3)) out.push_back({"zz", 0});  // unknown to everyone
    std::shuffle(out.begin(), out.end(), rng_);
    return out;
  }

  CostWeights AnyWeights() {
    switch (Below(3)) {
      case 0:
        return {};
      case 1:
        return {.load = 0};
      default: {
        auto w = [&] { return static_cast<double>(Below(21)) * 0.05; };
        return {w(), w(), w(), w(), w()};
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  std::vector<HolderId> holders_;
  std::vector<std::vector<uint64_t>> chains_;
};

std::vector<std::string> Sorted(const std::vector<HolderId>& ids) {
  std::vector<std::string> out;
  for (const HolderId& h : ids) out.push_back(absl::StrCat(h.worker, "/", h.dp_rank));
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectSameHolders(const PrefixIndex& index, const ReferenceIndex& ref) {
  const std::vector<HolderStatus> got = index.Holders(), want = ref.Holders();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].holder, want[i].holder);
    EXPECT_EQ(got[i].blocks, want[i].blocks) << want[i].holder.worker;
    EXPECT_TRUE(got[i].last_seen == want[i].last_seen ||
                (std::isnan(got[i].last_seen) && std::isnan(want[i].last_seen)));
  }
}

// How often the interesting cases came up, so that a generator change that
// stops producing them fails loudly.
struct Coverage {
  int queries = 0, host = 0, disk = 0, remote = 0, hints = 0, own_node_hints = 0, loaded = 0;
};

void Count(const PlacementDecision& d, Coverage& c) {
  ++c.queries;
  for (const RankScore& r : d.ranked) {
    c.host += r.host > 0;
    c.disk += r.disk > 0;
    c.remote += r.remote > 0;
    c.loaded += r.load > 0;
  }
  c.hints += !d.fetch_hints.empty();
  for (const FetchHint& f : d.fetch_hints) {
    c.own_node_hints += !d.ranked.empty() && f.node.worker == d.ranked[0].rank.worker;
  }
}

// What the index sees of an engine's batch: encoded as vLLM publishes it --
// array or map form, hashes as u64, signed i64 or big-endian bytes, medium
// strings or nil -- and decoded by the router's own decoder. The reference
// gets the batch as generated, so the two meet only if the wire round trip
// is exact.
void Hash(router_testing::Pack& p, uint64_t h, uint64_t form) {
  if (form == 0) {
    p.U64(h);
  } else if (form == 1) {
    p.I64(static_cast<int64_t>(h));
  } else {
    std::string bytes(form == 2 ? 8 : 32, '\0');
    for (int i = 0; i < 8; ++i) bytes[bytes.size() - 1 - i] = static_cast<char>(h >> (8 * i));
    p.Bin(bytes);
  }
}

void Medium(router_testing::Pack& p, std::optional<Medium> m) {
  if (!m) {
    p.Nil();
  } else {
    p.Str(*m == Medium::kDevice ? "GPU" : *m == Medium::kHost ? "CPU" : "DISK");
  }
}

void EncodeEvent(Stream& s, const KvEvent& e, bool map_form, router_testing::Pack& p) {
  const uint64_t form = s.Below(4);
  auto hashes = [&] {
    p.Array(static_cast<uint32_t>(e.block_hashes.size()));
    for (uint64_t h : e.block_hashes) Hash(p, h, form);
  };
  if (e.kind == KvEvent::Kind::kCleared) {
    map_form ? p.Map(1).Str("type").Str("AllBlocksCleared") : p.Array(1).Str("AllBlocksCleared");
  } else if (e.kind == KvEvent::Kind::kRemoved) {
    if (map_form) {
      p.Map(3).Str("type").Str("BlockRemoved").Str("block_hashes");
      hashes();
      p.Str("medium");
    } else {
      p.Array(3).Str("BlockRemoved");
      hashes();
    }
    Medium(p, e.medium);
  } else if (map_form) {
    p.Map(6).Str("type").Str("BlockStored").Str("block_hashes");
    hashes();
    p.Str("parent_block_hash");
    e.parent_hash ? Hash(p, *e.parent_hash, form) : void(p.Nil());
    p.Str("token_ids").Array(0).Str("block_size").Int(16).Str("medium");
    Medium(p, e.medium);
  } else {
    p.Array(7).Str("BlockStored");
    hashes();
    e.parent_hash ? Hash(p, *e.parent_hash, form) : void(p.Nil());
    p.Array(0).Int(16).Nil();
    Medium(p, e.medium);
  }
}

EventBatch OverTheWire(Stream& s, const EventBatch& b) {
  const bool map_form = s.Coin(0.5);
  router_testing::Pack p;
  p.Array(3).F64(b.timestamp + 0.5).Array(static_cast<uint32_t>(b.events.size()));
  for (const KvEvent& e : b.events) EncodeEvent(s, e, map_form, p);
  p.Int(b.holder.dp_rank);
  absl::StatusOr<EventBatch> decoded = DecodeVllmBatch(p.str());
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) return b;
  decoded->holder = b.holder;  // the subscription names the worker
  decoded->seq = b.seq;
  EXPECT_EQ(decoded->events.size(), b.events.size());
  for (size_t i = 0; i < b.events.size() && i < decoded->events.size(); ++i) {
    const KvEvent& want = b.events[i];
    const KvEvent& got = decoded->events[i];
    EXPECT_EQ(got.kind, want.kind) << i;
    EXPECT_EQ(got.block_hashes, want.block_hashes) << i;
    EXPECT_EQ(got.medium, want.medium) << i << (map_form ? " map" : " array");
    if (want.kind == KvEvent::Kind::kStored) {
      EXPECT_EQ(got.parent_hash, want.parent_hash) << i;
    }
  }
  return *std::move(decoded);
}

std::string Dump(const PrefixIndex& index, const std::vector<uint64_t>& hashes) {
  std::string out;
  for (size_t i = 0; i < hashes.size(); ++i) {
    absl::StrAppend(&out, "\n  pos ", i, " hash ", hashes[i], ":");
    index.ForEachHolder(hashes[i], [&](const HolderHit& h) {
      absl::StrAppend(&out, " ", index.Id(h.holder).worker, "/", index.Id(h.holder).dp_rank, "=",
                      h.media);
    });
  }
  return out;
}

void Query(Stream& s, PrefixIndex& index, Placement& placement, const ReferenceIndex& ref,
           Coverage& coverage) {
  PlacementRequest r;
  r.hashes = s.AnyQuery();
  if (s.Coin(0.5)) r.candidates = s.AnyCandidates();
  r.block_size = static_cast<uint32_t>(1 + s.Below(32));
  r.max_candidates = static_cast<uint32_t>(1 + s.Below(6));
  EXPECT_EQ(index.Overlaps(r.hashes), ref.Overlaps(r.hashes));
  absl::StatusOr<PlacementDecision> got = placement.Place(r);
  ASSERT_TRUE(got.ok()) << got.status();
  const PlacementDecision want = ref.Place(r, placement.weights());
  EXPECT_EQ(got->ranked, want.ranked) << r.candidates.size() << " candidates";
  EXPECT_EQ(got->fetch_hints, want.fetch_hints)
      << "best " << (want.ranked.empty() ? "none" : want.ranked[0].rank.worker) << "/"
      << (want.ranked.empty() ? 0 : want.ranked[0].rank.dp_rank) << " of " << want.ranked.size()
      << ", hashes " << r.hashes.size() << Dump(index, r.hashes);
  Count(want, coverage);
}

void RunOne(uint64_t seed, Coverage& coverage) {
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  Stream s(seed);
  PrefixIndex index({.max_blocks = 0, .shards = 4, .sweep_min_stale = 8});
  absl::StatusOr<std::unique_ptr<Placement>> placement =
      Placement::Create(&index, {.weights = s.AnyWeights()});
  ASSERT_TRUE(placement.ok());
  ReferenceIndex ref;
  double now = 0;
  for (int step = 0; step < 300; ++step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    now += static_cast<double>(s.Below(3));
    const uint64_t op = s.Below(100);
    const HolderId& h = s.AnyHolder();
    if (op < 80) {
      EventBatch b{h, now, static_cast<uint64_t>(step), {}};
      for (uint64_t n = 1 + s.Below(3); n > 0; --n) b.events.push_back(s.AnyEvent());
      // Engines' batches cross the wire in either encoding; nodes' do not
      // (Cap'n Proto).
      ASSERT_TRUE(index.Apply(h.dp_rank >= 0 ? OverTheWire(s, b) : b).ok());
      ref.Apply(b);
    } else if (op < 84) {
      EXPECT_EQ(index.RemoveHolder(h), ref.RemoveHolder(h));
    } else if (op < 94) {
      ASSERT_TRUE(index.Touch(h, now).ok());
      ref.Touch(h, now);
    } else {
      const double ttl = static_cast<double>(5 + s.Below(20));
      EXPECT_EQ(Sorted(index.ExpireSilent(now, ttl)), Sorted(ref.ExpireSilent(now, ttl)));
    }
    if (step % 5 == 0) {
      ExpectSameHolders(index, ref);
      for (int q = 0; q < 4; ++q) Query(s, index, **placement, ref, coverage);
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(IndexPropertyTest, MatchesTheBruteForceReference) {
  Coverage c;
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    RunOne(seed, c);
    if (::testing::Test::HasFailure()) return;
  }
  std::cout << "queries " << c.queries << ", ranks with host " << c.host << ", disk " << c.disk
            << ", remote " << c.remote << ", load " << c.loaded << "; answers with hints "
            << c.hints << ", own-node hints " << c.own_node_hints << "\n";
  EXPECT_GT(c.host, c.queries / 20);
  EXPECT_GT(c.disk, c.queries / 20);
  EXPECT_GT(c.remote, c.queries / 20);
  EXPECT_GT(c.hints, c.queries / 20);
  EXPECT_GT(c.own_node_hints, c.queries / 100);
}

}  // namespace
}  // namespace kvstash::router
