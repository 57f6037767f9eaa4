#include "kernels/kv_layout.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

namespace kvstash::kernels {
namespace {

TEST(KvBlockLayout, Llama8bNvfp4Sizes) {
  // Llama-3.1-8B: 32 layers, 8 KV heads, head_dim 128, 16 tokens per block.
  auto layout = KvBlockLayout::Create({32, 8, 128, 16}, Format::kNvfp4);
  ASSERT_TRUE(layout.ok()) << layout.status();
  // 72 bytes per token per head per K or V (NVFP4.md): 64 data + 8 scales.
  EXPECT_EQ(layout->block_bytes(), size_t{32} * 2 * 8 * 16 * 72);
  const Segment k0 = layout->segment(0, Plane::kK);
  const Segment v0 = layout->segment(0, Plane::kV);
  const Segment k1 = layout->segment(1, Plane::kK);
  EXPECT_EQ(k0.data_offset, 0u);
  EXPECT_EQ(k0.data_bytes, 8u * 16 * 64);
  EXPECT_EQ(k0.scale_offset, k0.data_bytes);
  EXPECT_EQ(k0.scale_bytes, 8u * 16 * 8);
  EXPECT_EQ(v0.data_offset, k0.scale_offset + k0.scale_bytes);
  EXPECT_EQ(k1.data_offset, v0.scale_offset + v0.scale_bytes);
}

TEST(KvBlockLayout, BytesPerTokenMatchTheFormatTable) {
  // Bytes per token per KV head at head_dim 128: BF16 256, FP8 128, NVFP4 72, MXFP4 68.
  const std::pair<Format, size_t> expected[] = {
      {Format::kBf16, 256}, {Format::kFp8E4M3, 128}, {Format::kNvfp4, 72}, {Format::kMxfp4, 68}};
  for (const auto& [format, bytes] : expected) {
    auto layout = KvBlockLayout::Create({1, 1, 128, 1, 1}, format);
    ASSERT_TRUE(layout.ok());
    EXPECT_EQ(layout->block_bytes(), bytes) << FormatName(format);
  }
}

TEST(KvBlockLayout, RejectsBadGeometry) {
  EXPECT_FALSE(KvBlockLayout::Create({0, 8, 128, 16}, Format::kNvfp4).ok());
  EXPECT_FALSE(KvBlockLayout::Create({2, 8, 72, 16}, Format::kNvfp4).ok());  // 72 % 16
  EXPECT_FALSE(KvBlockLayout::Create({2, 8, 80, 16}, Format::kMxfp4).ok());  // 80 % 32
  EXPECT_FALSE(KvBlockLayout::Create({2, 8, 128, 6}, Format::kNvfp4, true).ok());
  EXPECT_FALSE(KvBlockLayout::Create({2, 8, 128, 16}, Format::kBf16, true).ok());
  EXPECT_FALSE(KvBlockLayout::Create({2, 8, 128, 16, 3}, Format::kNvfp4).ok());
  EXPECT_TRUE(KvBlockLayout::Create({2, 8, 128, 16}, Format::kNvfp4, true).ok());
}

TEST(KvBlockLayout, RejectsGeometryWhoseSizeWouldWrapAround) {
  // kv_heads * block_tokens * head_dim = 2^64 + 64 wrapped to 64 elements, so a
  // 128-byte bf16 put passed as matching this geometry (fuzz seed
  // put_geometry_overflow).
  const KvGeometry g{1, (1u << 31) + (1u << 17) + 4, 16, (1u << 29) - (1u << 15) + 1, 1};
  EXPECT_FALSE(KvBlockLayout::Create(g, Format::kBf16).ok());
  EXPECT_FALSE(KvBlockLayout::Create({4096, 1u << 30, 1024, 1024}, Format::kNvfp4).ok());
  EXPECT_TRUE(KvBlockLayout::Create({1024, 128, 256, 4096}, Format::kNvfp4).ok());
}

TEST(InterleaveScales4, IsAPermutationAndRoundTrips) {
  const uint32_t heads = 2, tokens = 8, groups = 8;
  std::vector<uint8_t> src(heads * tokens * groups);
  std::iota(src.begin(), src.end(), 0);
  std::vector<uint8_t> mid(src.size()), back(src.size());
  InterleaveScales4(src.data(), mid.data(), heads, tokens, groups);
  EXPECT_EQ(std::set<uint8_t>(mid.begin(), mid.end()).size(), src.size());
  // Scales of tokens 0..3 for group 0 of head 0 come first, then group 1.
  EXPECT_EQ(mid[0], src[0 * groups + 0]);
  EXPECT_EQ(mid[1], src[1 * groups + 0]);
  EXPECT_EQ(mid[3], src[3 * groups + 0]);
  EXPECT_EQ(mid[4], src[0 * groups + 1]);
  EXPECT_EQ(mid[4 * groups], src[4 * groups + 0]);
  DeinterleaveScales4(mid.data(), back.data(), heads, tokens, groups);
  EXPECT_EQ(back, src);
}

}  // namespace
}  // namespace kvstash::kernels
