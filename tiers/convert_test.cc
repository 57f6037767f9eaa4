#include "tiers/convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/testutil.h"
#include "tiers/block.h"
#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using kernels::DType;
using kernels::Format;
using kernels::KvBlockLayout;
using kernels::KvGeometry;

constexpr KvGeometry kG{3, 2, 64, 4, 2};

std::string AsBytes(const std::vector<uint16_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 2);
}

std::vector<float> ToF32(const std::string& bf16) {
  std::vector<float> out(bf16.size() / 2);
  kernels::ConvertDType(DType::kBf16, bf16.data(), out.size(), DType::kF32, out.data());
  return out;
}

std::string Bf16Block(uint64_t seed) {
  const size_t n = KvBlockLayout::Create(kG, Format::kBf16)->block_bytes() / 2;
  return AsBytes(testing::RandomBf16(seed, n));
}

TEST(ConvertBlock, SameFormatIsACopyWithItsScales) {
  const std::string block = testing::MakeBlock(testing::Key(1), 1, kG);
  absl::StatusOr<ParsedBlock> p = ParseBlock(block);
  ASSERT_TRUE(p.ok());
  absl::StatusOr<ConvertedPayload> c = ConvertBlock(
      kG, BlockPayload{Format::kNvfp4, p->payload, p->header.scales}, Format::kNvfp4, {9, 9});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bytes, p->payload);
  EXPECT_EQ(c->scales, p->header.scales);
  EXPECT_FALSE(c->dynamic_scales);
}

TEST(ConvertBlock, Bf16ToNvfp4AndBackIsWithinNvfp4Error) {
  const std::string bf16 = Bf16Block(3);
  absl::StatusOr<ConvertedPayload> q =
      ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->dynamic_scales);
  ASSERT_EQ(q->scales.size(), ScaleCount(Format::kNvfp4, kG));
  EXPECT_EQ(q->bytes.size(), KvBlockLayout::Create(kG, Format::kNvfp4)->block_bytes());
  absl::StatusOr<ConvertedPayload> back =
      ConvertBlock(kG, BlockPayload{Format::kNvfp4, q->bytes, q->scales}, Format::kBf16);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->scales.empty());
  const std::vector<float> x = ToF32(bf16), y = ToF32(back->bytes);
  const kernels::testing::ErrorStats e = kernels::testing::Compare(x.data(), y.data(), x.size());
  EXPECT_LT(e.rel_rmse, 0.12);  // NVFP4 on N(0,1) is ~0.095 (NVFP4.md)
  EXPECT_GT(e.rel_rmse, 0.0);
}

TEST(ConvertBlock, DynamicScalesAreAmaxOver2688PerPlane) {
  const std::string bf16 = Bf16Block(4);
  absl::StatusOr<ConvertedPayload> q =
      ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4);
  ASSERT_TRUE(q.ok());
  const KvBlockLayout layout = *KvBlockLayout::Create(kG, Format::kBf16);
  for (uint32_t l = 0; l < kG.layers; ++l) {
    for (uint32_t p = 0; p < kG.planes; ++p) {
      const kernels::Segment s = layout.segment(l, static_cast<kernels::Plane>(p));
      const float amax =
          kernels::AbsMax(DType::kBf16, bf16.data() + s.data_offset, layout.plane_elements());
      EXPECT_EQ(q->scales[l * 2 + p], *kernels::GDecFromAmax(amax, 2688.0f));
    }
  }
}

TEST(ConvertBlock, CalibratedScalesAreUsedAsGiven) {
  const std::string bf16 = Bf16Block(5);
  const std::vector<float> cal(6, 0.01f);
  absl::StatusOr<ConvertedPayload> q =
      ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4, cal);
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->dynamic_scales);
  EXPECT_EQ(q->scales, cal);
}

TEST(ConvertBlock, EveryFormatPairConverts) {
  const std::string bf16 = Bf16Block(6);
  const Format all[] = {Format::kBf16, Format::kFp16, Format::kFp8E4M3, Format::kNvfp4,
                        Format::kMxfp4};
  for (Format from : all) {
    absl::StatusOr<ConvertedPayload> src =
        ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, from);
    ASSERT_TRUE(src.ok()) << kernels::FormatName(from);
    for (Format to : all) {
      absl::StatusOr<ConvertedPayload> c =
          ConvertBlock(kG, BlockPayload{from, src->bytes, src->scales}, to);
      ASSERT_TRUE(c.ok()) << kernels::FormatName(from) << "->" << kernels::FormatName(to) << ": "
                          << c.status();
      EXPECT_EQ(c->bytes.size(), KvBlockLayout::Create(kG, to)->block_bytes());
      EXPECT_EQ(c->scales.size(), ScaleCount(to, kG));
      absl::StatusOr<ConvertedPayload> f =
          ConvertBlock(kG, BlockPayload{to, c->bytes, c->scales}, Format::kBf16);
      ASSERT_TRUE(f.ok());
      const std::vector<float> x = ToF32(bf16), y = ToF32(f->bytes);
      EXPECT_LT(kernels::testing::Compare(x.data(), y.data(), x.size()).rel_rmse, 0.3)
          << kernels::FormatName(from) << "->" << kernels::FormatName(to);
    }
  }
}

TEST(ConvertBlock, BadInputNamesTheField) {
  const std::string bf16 = Bf16Block(7);
  absl::StatusOr<ConvertedPayload> c =
      ConvertBlock(kG, BlockPayload{Format::kBf16, bf16.substr(1), {}}, Format::kNvfp4);
  EXPECT_NE(c.status().message().find("payload"), absl::string_view::npos) << c.status();
  c = ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4, {1, 2});
  EXPECT_NE(c.status().message().find("target_scales"), absl::string_view::npos) << c.status();
  const std::string nv = testing::MakeBlock(testing::Key(1), 1, kG);
  c = ConvertBlock(kG, BlockPayload{Format::kNvfp4, ParseBlock(nv)->payload, {}}, Format::kBf16);
  EXPECT_NE(c.status().message().find("scales"), absl::string_view::npos) << c.status();
  KvGeometry bad = kG;
  bad.head_dim = 40;
  c = ConvertBlock(bad, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4);
  EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
}

TEST(ConvertBlock, NanInABlockNeedingDynamicScalesIsAnError) {
  std::string bf16 = Bf16Block(8);
  const uint16_t nan = 0x7fc0;
  std::memcpy(bf16.data() + 10, &nan, 2);
  absl::StatusOr<ConvertedPayload> c =
      ConvertBlock(kG, BlockPayload{Format::kBf16, bf16, {}}, Format::kNvfp4);
  EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
  EXPECT_NE(c.status().message().find("NaN"), absl::string_view::npos);
}

}  // namespace
}  // namespace kvstash::tiers
