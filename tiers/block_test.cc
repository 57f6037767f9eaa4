#include "tiers/block.h"

#include <gtest/gtest.h>

#include <set>

#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using kernels::Format;
using kernels::KvGeometry;
using testing::Key;
using testing::MakeBlock;

TEST(BlockKey, EncodingIsFixedWidthAndOrderPreserving) {
  const BlockKey a = BlockKey::FromHash64(1, 0xff), b = BlockKey::FromHash64(2, 0);
  const std::string ea = EncodeKey(a), eb = EncodeKey(b);
  EXPECT_EQ(ea.size(), kEncodedKeyBytes);
  EXPECT_LT(ea, eb);
  EXPECT_LT(a, b);
  absl::StatusOr<BlockKey> back = DecodeKey(ea);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);
  EXPECT_FALSE(DecodeKey("short").ok());
  EXPECT_EQ(a.digest[0], 0xff);  // little-endian 64-bit hash in the first bytes
  EXPECT_EQ(a.ToString(), "1/ff00000000000000");
}

TEST(BlockHeader, RoundTripsEveryField) {
  BlockHeader h;
  h.key = Key(7);
  h.parent = Key(6);
  h.priority = 3;
  h.format = Format::kNvfp4;
  h.geometry = KvGeometry{3, 2, 32, 4, 2};
  h.scales = {0.5f, 1, 2, 3, 4, 5};
  h.dynamic_scales = true;
  const std::string payload(*PayloadBytesFor(h.format, h.geometry), 'x');
  absl::StatusOr<std::string> block = SerializeBlock(h, payload);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(EncodedHeaderBytes(h) % 64, 0u);
  absl::StatusOr<ParsedBlock> p = ParseBlock(*block);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->header.key, h.key);
  EXPECT_EQ(p->header.parent, h.parent);
  EXPECT_EQ(p->header.priority, 3);
  EXPECT_EQ(p->header.format, Format::kNvfp4);
  EXPECT_EQ(p->header.geometry.layers, 3u);
  EXPECT_EQ(p->header.scales, h.scales);
  EXPECT_TRUE(p->header.dynamic_scales);
  EXPECT_EQ(p->header.payload_bytes, payload.size());
  EXPECT_EQ(p->header.payload_checksum, PayloadChecksum(payload));
  EXPECT_EQ(p->payload, payload);
}

TEST(BlockHeader, ValidationNamesTheField) {
  BlockHeader h;
  h.key = Key(1);
  h.format = Format::kNvfp4;
  h.geometry = KvGeometry{2, 2, 32, 4, 2};
  h.scales = {1, 1, 1};  // needs 4
  absl::StatusOr<std::string> b = SerializeBlock(h, std::string(576, '\0'));
  EXPECT_TRUE(absl::IsInvalidArgument(b.status()));
  EXPECT_NE(b.status().message().find("scales"), absl::string_view::npos);
  h.scales = {1, 1, -1, 1};
  EXPECT_NE(SerializeBlock(h, std::string(576, '\0')).status().message().find("scales[2]"),
            absl::string_view::npos);
  h.scales = {1, 1, 1, 1};
  b = SerializeBlock(h, std::string(100, '\0'));
  EXPECT_NE(b.status().message().find("payload_bytes"), absl::string_view::npos) << b.status();
  h.geometry.head_dim = 24;  // not a multiple of 16
  EXPECT_NE(SerializeBlock(h, "").status().message().find("head_dim"), absl::string_view::npos);
  h.geometry = KvGeometry{2, 2, 32, 4, 2};
  h.format = Format::kBf16;  // carries no global scales
  EXPECT_NE(SerializeBlock(h, std::string(2048, '\0')).status().message().find("scales"),
            absl::string_view::npos);
}

TEST(SizedHeader, HasTheSizeOfTheRealBlock) {
  const std::string real = testing::MakeBlock(testing::Key(1));
  absl::StatusOr<BlockHeader> h = SizedHeader(kernels::Format::kNvfp4, testing::SmallGeometry());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(SerializedBytes(*h), real.size());
  EXPECT_TRUE(h->dynamic_scales);
  EXPECT_TRUE(ValidateHeader(*h).ok());
  absl::StatusOr<BlockHeader> with_parent =
      SizedHeader(kernels::Format::kNvfp4, testing::SmallGeometry(), testing::Key(0));
  ASSERT_TRUE(with_parent.ok());
  EXPECT_GE(SerializedBytes(*with_parent), SerializedBytes(*h));
  absl::StatusOr<BlockHeader> bf16 = SizedHeader(kernels::Format::kBf16, testing::SmallGeometry());
  ASSERT_TRUE(bf16.ok());
  EXPECT_FALSE(bf16->dynamic_scales);
  EXPECT_TRUE(bf16->scales.empty());
  kernels::KvGeometry bad = testing::SmallGeometry();
  bad.head_dim = 3;
  EXPECT_FALSE(SizedHeader(kernels::Format::kNvfp4, bad).ok());
}

TEST(ParseBlock, EveryFlippedBitIsCaught) {
  const std::string block = MakeBlock(Key(1), 1, KvGeometry{1, 1, 16, 4, 2});
  for (size_t i = 0; i < block.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = block;
      bad[i] ^= static_cast<char>(1 << bit);
      absl::StatusOr<ParsedBlock> p = ParseBlock(bad);
      ASSERT_TRUE(absl::IsDataLoss(p.status())) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(ParseBlock, TruncationAndTrailingBytesAreCaught) {
  const std::string block = MakeBlock(Key(1));
  for (size_t n : {size_t{0}, size_t{10}, size_t{140}, block.size() - 1}) {
    EXPECT_TRUE(absl::IsDataLoss(ParseBlock(block.substr(0, n)).status())) << n;
  }
  EXPECT_TRUE(absl::IsDataLoss(ParseBlock(block + "!").status()));
  EXPECT_TRUE(ParseBlock(block + "!", Verify::kHeaderOnly).ok());
  EXPECT_TRUE(ParseHeader(block.substr(0, 256)).ok());
}

TEST(ParseBlock, RejectsAnotherVersion) {
  std::string block = MakeBlock(Key(1));
  block[4] = 2;
  absl::StatusOr<ParsedBlock> p = ParseBlock(block);
  EXPECT_TRUE(absl::IsDataLoss(p.status()));
  EXPECT_NE(p.status().message().find("version"), absl::string_view::npos);
}

}  // namespace
}  // namespace kvstash::tiers
