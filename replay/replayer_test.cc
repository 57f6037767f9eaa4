// The replay arithmetic on hand-made traces: exact hits per tier, tokens,
// evictions, remote hits, and the size-only replay as an exact twin of the
// materialized one.
#include "replay/replayer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "service/remote/rendezvous.h"

namespace kvstash::replay {
namespace {

// 1 layer, K and V, 1 head of 16 dims, 4 tokens per block: every format's
// block fits one 4 KiB slot of an arena tier, so a host tier of n * 4 KiB
// holds exactly n blocks.
service::ModelProfile Profile() {
  absl::StatusOr<service::ModelProfile> p = service::ParseProfile(
      "name = t\nlayers = 1\nkv_heads = 1\nhead_dim = 16\nblock_tokens = 4\n"
      "active_params = 1e6\nq_heads = 1\n",
      "t.conf");
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

Trace MakeTrace(const std::string& text) {
  std::istringstream in(text);
  absl::StatusOr<Trace> t = ParseTrace(in, "hand", 4);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

// r0 computes 1,2; r1 hits 1,2 and computes 3 (the host is then full);
// r2 computes 4, evicting 3 (the only leaf); r3 hits 1,2, recomputes 3,
// evicting 4 (the least recently used leaf).
constexpr char kFourRequests[] =
    "{\"timestamp\": 0, \"input_length\": 8, \"hash_ids\": [1, 2]}\n"
    "{\"timestamp\": 1, \"input_length\": 10, \"hash_ids\": [1, 2, 3]}\n"
    "{\"timestamp\": 2, \"input_length\": 4, \"hash_ids\": [4]}\n"
    "{\"timestamp\": 3, \"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n";

ReplayOptions HostOnly(uint64_t blocks) {
  ReplayOptions o;
  o.cache.profile = Profile();
  o.cache.host_bytes = blocks * 4096;
  return o;
}

void ExpectFourRequestFigures(const ReplayReport& r) {
  EXPECT_EQ(r.requests, 4u);
  EXPECT_EQ(r.prompt_tokens, 34u);
  EXPECT_EQ(r.hit_tokens, 16u);
  EXPECT_EQ(r.blocks, 9u);
  EXPECT_EQ(r.hit_blocks, 4u);
  EXPECT_EQ(r.computed_blocks, 5u);
  EXPECT_DOUBLE_EQ(r.token_hit_rate(), 16.0 / 34);
  EXPECT_DOUBLE_EQ(r.block_hit_rate(), 4.0 / 9);
  EXPECT_EQ(r.sources[static_cast<int>(Source::kHost)].hit_blocks, 4u);
  EXPECT_EQ(r.sources[static_cast<int>(Source::kHost)].hit_tokens, 16u);
  EXPECT_EQ(r.sources[static_cast<int>(Source::kHost)].bytes, 4 * r.block_bytes);
  EXPECT_EQ(r.sources[static_cast<int>(Source::kRemote)].hit_blocks, 0u);
  ASSERT_EQ(r.tiers.size(), 1u);
  EXPECT_EQ(r.tiers[0].name, "host");
  EXPECT_EQ(r.tiers[0].evictions, 2u);
  EXPECT_EQ(r.tiers[0].blocks, 3u);
  EXPECT_EQ(r.tiers[0].capacity_blocks, 3u);
  EXPECT_EQ(r.capacity_tokens, 12u);
}

TEST(ReplayTest, SizeOnlyHitsAndEvictionsOnAHandMadeTrace) {
  absl::StatusOr<ReplayReport> r = Replay(MakeTrace(kFourRequests), HostOnly(3));
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectFourRequestFigures(*r);
  EXPECT_EQ(r->mode, "size-only");
  EXPECT_EQ(r->format, "nvfp4");
  // The host tier saw 5 computed blocks in and 4 hits out, at full size.
  EXPECT_EQ(r->tiers[0].bytes_in, 5 * r->block_bytes);
  EXPECT_EQ(r->tiers[0].bytes_out, 4 * r->block_bytes);
}

TEST(ReplayTest, MaterializedIsTheSizeOnlyTwin) {
  const std::string dir = ::testing::TempDir() + "/replay_materialized";
  std::filesystem::remove_all(dir);
  ReplayOptions o = HostOnly(3);
  o.mode = Mode::kMaterialized;
  o.cache.scratch_dir = dir;
  o.cache.disk_bytes = 0;
  absl::StatusOr<ReplayReport> r = Replay(MakeTrace(kFourRequests), o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectFourRequestFigures(*r);
  EXPECT_EQ(r->mode, "materialized");
  std::filesystem::remove_all(dir);
}

TEST(ReplayTest, SpillsToDiskAndPromotesBack) {
  // Host of 1 block over a disk of 10; the disk admits a block once it has
  // been hit (the daemon's admit_after_hits = 1).
  ReplayOptions o = HostOnly(1);
  absl::StatusOr<uint64_t> bytes = StoredBlockBytes(o.cache.profile, o.cache.format);
  ASSERT_TRUE(bytes.ok());
  o.cache.disk_bytes = 10 * *bytes;
  absl::StatusOr<ReplayReport> r =
      Replay(MakeTrace("{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [1]}\n"
                       "{\"timestamp\": 1, \"input_length\": 4, \"hash_ids\": [1]}\n"
                       "{\"timestamp\": 2, \"input_length\": 4, \"hash_ids\": [2]}\n"
                       "{\"timestamp\": 3, \"input_length\": 4, \"hash_ids\": [1]}\n"),
             o);
  ASSERT_TRUE(r.ok()) << r.status();
  // r0 computes 1 into host; r1 hits it there (so the disk will admit it);
  // r2 computes 2, evicting 1, which spills to disk; r3 hits 1 on disk and
  // promotes it, evicting 2 (never hit: refused by the disk, dropped).
  EXPECT_EQ(r->sources[static_cast<int>(Source::kHost)].hit_blocks, 1u);
  EXPECT_EQ(r->sources[static_cast<int>(Source::kDisk)].hit_blocks, 1u);
  ASSERT_EQ(r->tiers.size(), 2u);
  EXPECT_EQ(r->tiers[0].evictions, 2u);
  EXPECT_EQ(r->tiers[0].spills, 1u);
  EXPECT_EQ(r->tiers[0].promotions, 1u);
  EXPECT_EQ(r->tiers[0].admissions_refused, 1u);
  EXPECT_EQ(r->tiers[1].bytes_out, *bytes);
  // TTFT: the disk hit paid the disk's bandwidth and latency.
  const CostModel m;
  const double disk_ms =
      (static_cast<double>(*bytes) / (m.gbps[2] * 1e9) + m.latency_us[2] * 1e-6) * 1e3;
  EXPECT_GT(r->ttft_ms.max, disk_ms);
}

TEST(ReplayTest, DiskAdmissionAfterZeroHitsSpillsEverything) {
  ReplayOptions o = HostOnly(1);
  absl::StatusOr<uint64_t> bytes = StoredBlockBytes(o.cache.profile, o.cache.format);
  ASSERT_TRUE(bytes.ok());
  o.cache.disk_bytes = 10 * *bytes;
  o.cache.disk_admit_after_hits = 0;
  // r0 computes 1; r1 computes 2, evicting 1 (never hit, admitted anyway);
  // r2 hits 1 on disk, promotes it and spills 2.
  absl::StatusOr<ReplayReport> r =
      Replay(MakeTrace("{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [1]}\n"
                       "{\"timestamp\": 1, \"input_length\": 4, \"hash_ids\": [2]}\n"
                       "{\"timestamp\": 2, \"input_length\": 4, \"hash_ids\": [1]}\n"),
             o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sources[static_cast<int>(Source::kDisk)].hit_blocks, 1u);
  EXPECT_EQ(r->tiers[0].spills, 2u);
  EXPECT_EQ(r->tiers[0].admissions_refused, 0u);
  o.cache.disk_admit_after_hits = 1;  // the daemon's default: 1 is dropped, r2 misses
  r = Replay(MakeTrace("{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [1]}\n"
                       "{\"timestamp\": 1, \"input_length\": 4, \"hash_ids\": [2]}\n"
                       "{\"timestamp\": 2, \"input_length\": 4, \"hash_ids\": [1]}\n"),
             o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->hit_blocks, 0u);
  EXPECT_EQ(r->tiers[0].admissions_refused, 2u);
}

TEST(ReplayTest, TwoNodesHitLocallyOrRemotely) {
  ReplayOptions o = HostOnly(16);
  o.nodes = 2;
  // r0 (node-0) computes 1,2 and pushes each to its owner if that is
  // node-1; r1 (node-1) finds both: locally what node-1 owns, remotely the
  // rest, and pulls those; r2 (node-0) fills; r3 (node-1) then hits both
  // locally.
  absl::StatusOr<ReplayReport> r =
      Replay(MakeTrace("{\"timestamp\": 0, \"input_length\": 8, \"hash_ids\": [1, 2]}\n"
                       "{\"timestamp\": 1, \"input_length\": 8, \"hash_ids\": [1, 2]}\n"
                       "{\"timestamp\": 2, \"input_length\": 4, \"hash_ids\": [9]}\n"
                       "{\"timestamp\": 3, \"input_length\": 8, \"hash_ids\": [1, 2]}\n"),
             o);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> names = {"node-0", "node-1"};
  uint64_t owned_by_1 = 0;
  for (uint64_t id : {1, 2}) {
    const auto owners =
        remote::RendezvousOwners(tiers::BlockKey::FromHash64(o.key_namespace, id), names, 1);
    owned_by_1 += owners[0] == "node-1";
  }
  EXPECT_EQ(r->hit_blocks, 4u);
  EXPECT_EQ(r->sources[static_cast<int>(Source::kRemote)].hit_blocks, 2 - owned_by_1);
  EXPECT_EQ(r->local_hit_blocks(), 2 + owned_by_1);
  EXPECT_EQ(r->nodes, 2);
}

TEST(ReplayTest, FormatsDifferOnlyInWhatFits) {
  // A byte-charged disk tier of two bf16 blocks holds more nvfp4 ones.
  ReplayOptions nv;
  nv.cache.profile = Profile();
  absl::StatusOr<uint64_t> bf16_bytes = StoredBlockBytes(nv.cache.profile, kernels::Format::kBf16);
  ASSERT_TRUE(bf16_bytes.ok());
  nv.cache.disk_bytes = 2 * *bf16_bytes;
  ReplayOptions bf = nv;
  bf.cache.format = kernels::Format::kBf16;
  const Trace t = MakeTrace(
      "{\"timestamp\": 0, \"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n"
      "{\"timestamp\": 1, \"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n");
  absl::StatusOr<ReplayReport> a = Replay(t, nv);
  absl::StatusOr<ReplayReport> b = Replay(t, bf);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->hit_blocks, 3u);  // all three fit as nvfp4
  // bf16: two fit; block 3 evicts the chain's leaf, 2, so r1's prefix ends
  // after block 1.
  EXPECT_EQ(b->hit_blocks, 1u);
  EXPECT_EQ(a->capacity_tokens, 4 * (2 * *bf16_bytes / a->block_bytes));
  EXPECT_EQ(b->capacity_tokens, 8u);
}

TEST(ReplayTest, BadOptionsAreClearErrors) {
  const Trace t = MakeTrace(kFourRequests);
  ReplayOptions o = HostOnly(3);
  o.cache.profile.compute = {};
  EXPECT_NE(Replay(t, o).status().message().find("has no compute model"), std::string::npos);
  o = HostOnly(3);
  o.cache.profile.geometry.block_tokens = 8;
  EXPECT_NE(Replay(t, o).status().message().find("block_tokens 8 differs from the trace's 4"),
            std::string::npos);
  o = HostOnly(3);
  o.replicas = 2;
  EXPECT_NE(Replay(t, o).status().message().find("replicas: 2 is not in 1..1"), std::string::npos);
  o = HostOnly(0);
  EXPECT_NE(Replay(t, o).status().message().find("every tier is disabled"), std::string::npos);
}

TEST(ReplayTest, PercentilesAreNearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  const Percentiles p = Summarize(v);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
  EXPECT_EQ(Summarize({}).p50, 0);
}

}  // namespace
}  // namespace kvstash::replay
