#include "service/router/vllm_events.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/router/event_payloads_testing.h"

namespace kvstash::router {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = KvEvent::Kind;

using router_testing::kArrayStored;
using router_testing::kFixtureDir;
using router_testing::kMapRemoved;
using router_testing::kMapRemovedStored;
using router_testing::Pack;
using router_testing::ReadFixture;

EventBatch DecodeOk(const std::string& payload, DecodeInfo* info = nullptr) {
  absl::StatusOr<EventBatch> batch = DecodeVllmBatch(payload, info);
  EXPECT_TRUE(batch.ok()) << batch.status();
  return batch.ok() ? *std::move(batch) : EventBatch();
}

std::string DecodeError(const std::string& payload) {
  absl::StatusOr<EventBatch> batch = DecodeVllmBatch(payload);
  EXPECT_FALSE(batch.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(batch.status())) << batch.status();
  return std::string(batch.status().message());
}

// ------------------------------------------------------------------ fixtures --

TEST(VllmFixturesTest, V028MapFormSevenRemoved) {
  KVSTASH_LOAD_FIXTURE_OR_SKIP(payload, kMapRemoved);
  DecodeInfo info;
  EventBatch b = DecodeOk(*payload, &info);
  EXPECT_DOUBLE_EQ(b.timestamp, 1788471332.6850622);
  EXPECT_EQ(b.holder.dp_rank, 0);
  EXPECT_EQ(info.dp_rank, 0);
  ASSERT_EQ(b.events.size(), 7u);
  const uint64_t expected[] = {16981620389562033287ull, 7126571343207839467ull,
                               15201272641610781392ull, 1504358196685303646ull,
                               2025755831306655932ull,  5406472331417010116ull,
                               4935815229974927798ull};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(b.events[i].kind, Kind::kRemoved);
    EXPECT_THAT(b.events[i].block_hashes, ElementsAre(expected[i]));
    EXPECT_EQ(b.events[i].medium, Medium::kDevice);
    EXPECT_FALSE(b.events[i].parent_hash.has_value());
  }
  EXPECT_EQ(info.skipped_unknown_type + info.skipped_unknown_medium, 0);
}

TEST(VllmFixturesTest, V028MapFormRemovedThenStored) {
  KVSTASH_LOAD_FIXTURE_OR_SKIP(payload, kMapRemovedStored);
  EventBatch b = DecodeOk(*payload);
  EXPECT_DOUBLE_EQ(b.timestamp, 1788471333.075027);
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[0].kind, Kind::kRemoved);
  EXPECT_THAT(b.events[0].block_hashes, ElementsAre(15404717530686166919ull));
  EXPECT_EQ(b.events[0].medium, Medium::kDevice);
  const KvEvent& s = b.events[1];
  EXPECT_EQ(s.kind, Kind::kStored);
  EXPECT_THAT(s.block_hashes, ElementsAre(4480783783509394205ull));
  EXPECT_EQ(s.parent_hash, 4185586382212821899ull);
  EXPECT_EQ(s.block_size, 16u);
  EXPECT_EQ(s.medium, Medium::kDevice);
}

TEST(VllmFixturesTest, ArrayFormStored) {
  KVSTASH_LOAD_FIXTURE_OR_SKIP(payload, kArrayStored);
  absl::StatusOr<EventBatch> b =
      DecodeVllmMessage("kv-events", std::string("\0\0\0\0\0\0\0\x05", 8), *payload);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->seq, 5u);
  EXPECT_DOUBLE_EQ(b->timestamp, 1767666073.8055613);
  EXPECT_EQ(b->holder.dp_rank, 0);
  ASSERT_EQ(b->events.size(), 1u);
  const KvEvent& s = b->events[0];
  EXPECT_EQ(s.kind, Kind::kStored);
  EXPECT_THAT(s.block_hashes, ElementsAre(17536983392627827276ull));
  EXPECT_EQ(s.parent_hash, 15722805041033817089ull);
  EXPECT_EQ(s.block_size, 16u);
  EXPECT_EQ(s.medium, Medium::kDevice);
}

TEST(VllmFixturesTest, EveryTruncationIsAnErrorNeverACrash) {
  int checked = 0;
  for (const char* name : {kMapRemoved, kMapRemovedStored, kArrayStored}) {
    std::optional<std::string> payload = ReadFixture(name);
    if (!payload.has_value()) continue;
    ++checked;
    for (size_t len = 0; len < payload->size(); ++len) {
      absl::StatusOr<EventBatch> b = DecodeVllmBatch(absl::string_view(*payload).substr(0, len));
      EXPECT_FALSE(b.ok()) << name << " truncated to " << len << " decoded";
      EXPECT_TRUE(absl::IsInvalidArgument(b.status())) << b.status();
    }
    // One extra byte after the batch is an error too.
    EXPECT_FALSE(DecodeVllmBatch(*payload + '\xc0').ok());
  }
  if (checked == 0) GTEST_SKIP() << "no fixtures in " << kFixtureDir;
}

TEST(VllmFixturesTest, RandomByteFlipsNeverCrash) {
  // Seeded mutation fuzzing over the real payloads (run under ASan/UBSan):
  // any outcome but a crash, a hang or a sanitizer report is fine.
  std::mt19937_64 rng(1234);
  int checked = 0;
  for (const char* name : {kMapRemoved, kMapRemovedStored, kArrayStored}) {
    std::optional<std::string> payload = ReadFixture(name);
    if (!payload.has_value()) continue;
    ++checked;
    for (int round = 0; round < 3000; ++round) {
      std::string m = *payload;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
      DecodeInfo info;
      absl::StatusOr<EventBatch> b = DecodeVllmBatch(m, &info);
      EXPECT_TRUE(b.ok() || absl::IsInvalidArgument(b.status())) << b.status();
    }
  }
  if (checked == 0) GTEST_SKIP() << "no fixtures in " << kFixtureDir;
}

// ---------------------------------------------------------- hand-made batches --

TEST(VllmDecodeTest, HashesUnsignedSignedAndBytes) {
  std::string digest;  // a 32-byte SHA-256-sized digest: bytes 0x00..0x1f
  for (int i = 0; i < 32; ++i) digest.push_back(static_cast<char>(i));
  // clang-format off
  const std::string payload = Pack()
                                  .Array(3)
                                  .F64(1.5)
                                  .Array(1)
                                  .Map(4)
                                  .Str("type").Str("BlockStored")
                                  .Str("block_hashes").Array(5)
                                      .U64(18446744073709551615ull)
                                      .I64(-1)
                                      .I64(-2)
                                      .Bin(digest)
                                      .Bin(std::string("\x01\x02\x03", 3))
                                  .Str("parent_block_hash").Int(7)
                                  .Str("block_size").Int(32)
                                  .Int(2)
                                  .str();
  // clang-format on
  DecodeInfo info;
  EventBatch b = DecodeOk(payload, &info);
  EXPECT_EQ(b.holder.dp_rank, 2);
  EXPECT_EQ(info.dp_rank, 2);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_THAT(b.events[0].block_hashes,
              ElementsAre(0xffffffffffffffffull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
                          0x18191a1b1c1d1e1full, 0x010203ull));
  EXPECT_EQ(b.events[0].parent_hash, 7u);
  EXPECT_EQ(b.events[0].block_size, 32u);
  EXPECT_FALSE(b.events[0].medium.has_value());  // missing: the publisher's default
}

TEST(VllmDecodeTest, BlockHashFromBytesTakesTheLastEightBytesBigEndian) {
  // vLLM: int.from_bytes(digest, "big") & (2**64 - 1).
  std::string digest(24, '\xee');
  digest += std::string("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
  EXPECT_EQ(BlockHashFromBytes(digest), 0x0123456789abcdefull);
  EXPECT_EQ(BlockHashFromBytes(std::string("\x12\x34", 2)), 0x1234u);
  EXPECT_EQ(BlockHashFromBytes(std::string("\x80\0\0\0\0\0\0\x01", 8)), 0x8000000000000001ull);
  EXPECT_EQ(BlockHashFromBytes(""), 0u);
}

TEST(VllmDecodeTest, ArrayFormAllEventTypesAndTrailingElements) {
  // clang-format off
  const std::string payload =
      Pack()
          .Array(2)  // old vLLM: no dp_rank
          .Int(1700000000)  // ts as an int
          .Array(5)
          // Stored with everything through lora_name plus two unknown trailing fields.
          .Array(10).Str("BlockStored").Array(2).Int(11).Int(12).Nil()
              .Array(2).Int(1).Int(2).Int(16).Nil().Str("CPU").Nil().Array(0).Str("x")
          // Removed with trailing junk.
          .Array(4).Str("BlockRemoved").Array(1).Int(11).Str("disk").Map(0)
          .Array(3).Str("BlockRemoved").Array(1).Int(12).Str("STORAGE")
          // Stored with only type and hashes.
          .Array(2).Str("BlockStored").Array(1).Int(13)
          .Array(1).Str("AllBlocksCleared")
          .str();
  // clang-format on
  DecodeInfo info;
  EventBatch b = DecodeOk(payload, &info);
  EXPECT_EQ(b.timestamp, 1700000000.0);
  EXPECT_EQ(b.holder.dp_rank, 0);
  EXPECT_FALSE(info.dp_rank.has_value());
  ASSERT_EQ(b.events.size(), 5u);
  EXPECT_EQ(b.events[0].kind, Kind::kStored);
  EXPECT_THAT(b.events[0].block_hashes, ElementsAre(11u, 12u));
  EXPECT_FALSE(b.events[0].parent_hash.has_value());
  EXPECT_EQ(b.events[0].block_size, 16u);
  EXPECT_EQ(b.events[0].medium, Medium::kHost);
  EXPECT_EQ(b.events[1].kind, Kind::kRemoved);
  EXPECT_EQ(b.events[1].medium, Medium::kDisk);  // case-insensitive
  EXPECT_EQ(b.events[2].medium, Medium::kDisk);  // vLLM >= 0.27: MEDIUM_STORAGE
  EXPECT_EQ(b.events[3].block_size, 0u);
  EXPECT_FALSE(b.events[3].medium.has_value());
  EXPECT_EQ(b.events[4].kind, Kind::kCleared);
}

TEST(VllmDecodeTest, MapFormIgnoresUnknownKeysInAnyOrder) {
  // clang-format off
  const std::string payload =
      Pack()
          .Array(5)  // trailing batch elements are ignored
          .F64(2.0)
          .Array(2)
          // "type" last, nested unknown values, nil medium.
          .Map(5)
              .Str("future_field").Map(1).Str("a").Array(2).Nil().Array(1).Map(0)
              .Str("block_hashes").Array(1).Int(5)
              .Str("medium").Nil()
              .Str("group_idx").Int(0)
              .Str("type").Str("BlockRemoved")
          .Map(1).Str("type").Str("AllBlocksCleared")
          .Nil()  // dp_rank nil -> 0
          .Str("extra").Int(1)
          .str();
  // clang-format on
  DecodeInfo info;
  EventBatch b = DecodeOk(payload, &info);
  EXPECT_EQ(b.holder.dp_rank, 0);
  EXPECT_FALSE(info.dp_rank.has_value());
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[0].kind, Kind::kRemoved);
  EXPECT_THAT(b.events[0].block_hashes, ElementsAre(5u));
  EXPECT_FALSE(b.events[0].medium.has_value());
  EXPECT_EQ(b.events[1].kind, Kind::kCleared);
}

TEST(VllmDecodeTest, MapFormBatch) {
  // clang-format off
  const std::string payload = Pack()
                                  .Map(4)
                                  .Str("ts").F64(3.25)
                                  .Str("something").Array(1).Int(1)
                                  .Str("events").Array(1)
                                      .Map(2).Str("type").Str("BlockStored")
                                      .Str("block_hashes").Array(1).I64(-9)
                                  .Str("data_parallel_rank").Int(4)
                                  .str();
  // clang-format on
  EventBatch b = DecodeOk(payload);
  EXPECT_EQ(b.timestamp, 3.25);
  EXPECT_EQ(b.holder.dp_rank, 4);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_THAT(b.events[0].block_hashes, ElementsAre(static_cast<uint64_t>(int64_t{-9})));
}

TEST(VllmDecodeTest, UnknownTypesAndMediaAreSkippedAndCounted) {
  // clang-format off
  const std::string payload =
      Pack()
          .Array(3)
          .F64(0)
          .Array(5)
          .Array(3).Str("BlockMoved").Array(1).Int(1).Str("GPU")
          .Map(3).Str("type").Str("BlockStored").Str("block_hashes").Array(1).Int(2)
              .Str("medium").Str("NVME")
          .Map(2).Str("type").Str("SomethingNew").Str("payload").Array(1).Int(9)
          .Array(3).Str("BlockRemoved").Array(1).Int(3).Str("gpu")
          .Array(7).Str("BlockStored").Array(1).Int(4).Nil().Array(0).Int(16).Nil()
              .Str("CXL")
          .Int(0)
          .str();
  // clang-format on
  DecodeInfo info;
  EventBatch b = DecodeOk(payload, &info);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_THAT(b.events[0].block_hashes, ElementsAre(3u));
  EXPECT_EQ(b.events[0].medium, Medium::kDevice);
  EXPECT_EQ(info.skipped_unknown_type, 2);
  EXPECT_EQ(info.skipped_unknown_medium, 2);
  EXPECT_EQ(info.first_skipped, "events[0]: unknown type \"BlockMoved\"");
}

// ----------------------------------------------------------------- errors --

TEST(VllmDecodeTest, ErrorsNameThePath) {
  auto batch_with = [](const std::function<void(Pack&)>& event) {
    Pack p;
    p.Array(3).F64(0).Array(3);
    p.Array(1).Str("AllBlocksCleared");
    p.Array(1).Str("AllBlocksCleared");
    event(p);
    p.Int(0);
    return p.str();
  };
  EXPECT_EQ(
      DecodeError(batch_with([](Pack& p) { p.Array(2).Str("BlockStored").Array(1).Str("abc"); })),
      "events[2].block_hashes[0]: expected int or bytes, got str");
  EXPECT_EQ(DecodeError(batch_with(
                [](Pack& p) { p.Array(2).Str("BlockRemoved").Array(2).Int(1).F64(2.5); })),
            "events[2].block_hashes[1]: expected int or bytes, got float");
  EXPECT_EQ(
      DecodeError(batch_with([](Pack& p) { p.Array(2).Str("BlockRemoved").Array(1).Bin(""); })),
      "events[2].block_hashes[0]: empty byte string");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Array(1).Str("BlockStored"); })),
            "events[2]: missing block_hashes");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Map(1).Str("block_hashes").Array(0); })),
            "events[2]: missing \"type\"");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Int(5); })),
            "events[2]: expected array or map, got int");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Array(0); })), "events[2]: empty event array");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Array(1).Int(3); })),
            "events[2].type: expected str, got int");
  EXPECT_EQ(DecodeError(batch_with([](Pack& p) { p.Map(1).Int(3).Int(4); })),
            "events[2]: expected str map key, got int");
  EXPECT_EQ(
      DecodeError(batch_with([](Pack& p) { p.Array(3).Str("BlockRemoved").Array(0).Int(1); })),
      "events[2].medium: expected str or nil, got int");
  EXPECT_EQ(DecodeError(batch_with(
                [](Pack& p) { p.Array(5).Str("BlockStored").Array(0).Nil().Nil().Int(-16); })),
            "events[2].block_size: negative (-16)");
  EXPECT_EQ(
      DecodeError(batch_with([](Pack& p) { p.Array(3).Str("BlockStored").Array(0).Str("p"); })),
      "events[2].parent_block_hash: expected int or bytes, got str");
}

TEST(VllmDecodeTest, BatchLevelErrors) {
  EXPECT_THAT(DecodeError(""), HasSubstr("batch: truncated"));
  EXPECT_EQ(DecodeError(Pack().Int(1).str()), "batch: expected array or map, got int");
  // clang-format off
  EXPECT_EQ(DecodeError(Pack().Array(1).F64(0).str()),
            "batch: expected [ts, events, dp_rank], got an array of 1");
  // clang-format on
  EXPECT_EQ(DecodeError(Pack().Array(2).Str("now").Array(0).str()),
            "ts: expected float or int, got str");
  EXPECT_EQ(DecodeError(Pack().Array(2).F64(0).Map(0).str()), "events: expected array, got map");
  // clang-format off
  EXPECT_EQ(DecodeError(Pack().Array(3).F64(0).Array(0).Int(-1).str()),
            "data_parallel_rank: negative (-1)");
  // clang-format on
  EXPECT_EQ(DecodeError(Pack().Array(3).F64(0).Array(0).U64(1ull << 40).str()),
            "data_parallel_rank: out of range (1099511627776)");
  // clang-format off
  EXPECT_EQ(DecodeError(Pack().Array(3).F64(0).Array(0).Str("0").str()),
            "data_parallel_rank: expected int or nil, got str");
  // clang-format on
  EXPECT_EQ(DecodeError(Pack().Array(2).F64(0).Array(0).Int(1).str()),
            "batch: 1 trailing bytes after the batch");
  EXPECT_EQ(DecodeError(Pack().Map(1).Str("ts").F64(0).str()), "batch: missing \"events\"");
  // clang-format off
  EXPECT_THAT(DecodeError(Pack().Array(2).F64(0).Raw("\xdd\xff\xff\xff\xff").str()),
              HasSubstr("events: array of 4294967295 entries cannot fit"));
  // clang-format on
  EXPECT_THAT(DecodeError(Pack().Array(2).F64(0).Array(1).Raw("\xc1").str()),
              HasSubstr("events[0]: reserved byte 0xc1"));
}

TEST(VllmDecodeTest, DeeplyNestedUnknownFieldIsSkippedIteratively) {
  Pack p;
  p.Array(3).F64(0).Array(1).Map(3).Str("type").Str("BlockRemoved");
  p.Str("block_hashes").Array(1).Int(1).Str("deep");
  p.Raw(std::string(100000, '\x91')).Nil();
  p.Int(0);
  EventBatch b = DecodeOk(p.str());
  ASSERT_EQ(b.events.size(), 1u);
  // The same nesting cut short is an error, not a crash.
  // clang-format off
  const std::string cut = Pack().Array(3).F64(0).Array(1).Map(3).Str("type")
                              .Str("BlockRemoved").Str("deep").Raw(std::string(50000, '\x91'))
                              .str();
  // clang-format on
  EXPECT_FALSE(DecodeVllmBatch(cut).ok());
}

TEST(VllmDecodeTest, SeqFrame) {
  absl::StatusOr<uint64_t> seq = DecodeSeqFrame(std::string("\x00\x00\x00\x01\x00\x00\x00\xe9", 8));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 0x1000000e9ull);
  EXPECT_EQ(DecodeSeqFrame("1234567").status().message(), "seq: expected 8 bytes, got 7");
  EXPECT_FALSE(DecodeVllmMessage("", "", Pack().Array(2).F64(0).Array(0).str()).ok());
}

TEST(VllmDecodeTest, HandMadePayloadTruncationsAreErrors) {
  // clang-format off
  const std::string payload =
      Pack()
          .Array(3).F64(1)
          .Array(2)
          .Map(4).Str("type").Str("BlockStored").Str("block_hashes").Array(2).U64(1).Bin("abcdefghij")
              .Str("parent_block_hash").I64(-5).Str("medium").Str("GPU")
          .Array(3).Str("BlockRemoved").Array(1).Int(1).Nil()
          .Int(1)
          .str();
  // clang-format on
  ASSERT_TRUE(DecodeVllmBatch(payload).ok());
  for (size_t len = 0; len < payload.size(); ++len) {
    EXPECT_FALSE(DecodeVllmBatch(absl::string_view(payload).substr(0, len)).ok()) << len;
  }
}

}  // namespace
}  // namespace kvstash::router
