// Behaviour of the reference codec: packing, special values, zero blocks,
// NaN poisoning, Inf saturation, round trips, and the DType conversions.
#include "kernels/reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/codec.h"
#include "kernels/element.h"
#include "kernels/recipe.h"

namespace kvstash::kernels {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(E2m1, TableAndDecisionPoints) {
  const float values[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (uint8_t c = 0; c < 16; ++c) {
    const float v = (c & 8) ? -values[c & 7] : values[c & 7];
    EXPECT_EQ(DecodeE2m1(c), v) << int(c);
    if (c != 8) {
      EXPECT_EQ(EncodeE2m1(v), c) << v;
    }
  }
  EXPECT_EQ(EncodeE2m1(0.25f), 0);
  EXPECT_EQ(EncodeE2m1(0.75f), 2);
  EXPECT_EQ(EncodeE2m1(1.25f), 2);
  EXPECT_EQ(EncodeE2m1(1.75f), 4);
  EXPECT_EQ(EncodeE2m1(2.5f), 4);
  EXPECT_EQ(EncodeE2m1(3.5f), 6);
  EXPECT_EQ(EncodeE2m1(5.0f), 6);
  EXPECT_EQ(EncodeE2m1(5.0001f), 7);
  EXPECT_EQ(EncodeE2m1(100.0f), 7);
  EXPECT_EQ(EncodeE2m1(-kInf), 0xf);
  EXPECT_EQ(EncodeE2m1(kNan), 0x7);
  EXPECT_EQ(EncodeE2m1(-0.1f), 0x8);
  EXPECT_EQ(EncodeE2m1(-0.0f), 0x8);
}

TEST(E4m3, SpecialValues) {
  EXPECT_EQ(EncodeE4m3(448.0f), 0x7e);
  EXPECT_EQ(EncodeE4m3(463.0f), 0x7e);
  EXPECT_EQ(EncodeE4m3(464.0f), 0x7e);
  EXPECT_EQ(EncodeE4m3(1e9f), 0x7e);
  EXPECT_EQ(EncodeE4m3(kInf), 0x7e);
  EXPECT_EQ(EncodeE4m3(-kInf), 0xfe);
  EXPECT_EQ(EncodeE4m3(kNan), 0x7f);
  EXPECT_EQ(EncodeE4m3(0.001953125f), 0x01);   // 2^-9, smallest subnormal
  EXPECT_EQ(EncodeE4m3(0.0009765625f), 0x00);  // 2^-10 ties to even -> 0
  EXPECT_EQ(EncodeE4m3(1.0f), 0x38);
  EXPECT_TRUE(std::isnan(DecodeE4m3(0x7f)));
  EXPECT_TRUE(std::isnan(DecodeE4m3(0xff)));
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    EXPECT_EQ(EncodeE4m3(DecodeE4m3(static_cast<uint8_t>(c))), c) << c;
  }
}

TEST(Nvfp4, PackingIsLowNibbleFirst) {
  // Two elements {1.0, -6.0} with a block scale that maps them unchanged.
  std::vector<float> x(16, 0.0f);
  x[0] = 1.0f;
  x[1] = -6.0f;
  uint8_t data[8], sf;
  // g_dec chosen so that sf decodes to exactly 1: vmax/6 * g_enc = 1 -> g = 1.
  reference::Nvfp4Quantize(DType::kF32, x.data(), 16, 1.0f, data, &sf);
  EXPECT_EQ(sf, 0x38);
  EXPECT_EQ(data[0], 0xF2);
}

TEST(Nvfp4, ZeroBlockAndNegativeZeros) {
  std::vector<float> x(16, 0.0f);
  x[3] = -0.0f;
  uint8_t data[8], sf;
  reference::Nvfp4Quantize(DType::kF32, x.data(), 16, 0.5f, data, &sf);
  EXPECT_EQ(sf, 0);
  EXPECT_EQ(data[1], 0x80);  // element 3 is the high nibble of byte 1
  std::vector<float> y(16, 1.0f);
  reference::Nvfp4Dequantize(data, &sf, 16, 0.5f, DType::kF32, y.data());
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(Nvfp4, NanPoisonsOnlyItsBlock) {
  std::vector<float> x(32, 1.0f);
  x[5] = kNan;
  uint8_t data[16], sf[2];
  reference::Nvfp4Quantize(DType::kF32, x.data(), 32, 1.0f / 2688, data, sf);
  EXPECT_EQ(sf[0], 0x7f);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(data[i], 0x77);
  std::vector<float> y(32);
  reference::Nvfp4Dequantize(data, sf, 32, 1.0f / 2688, DType::kF32, y.data());
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(std::isnan(y[i])) << i;
  for (int i = 16; i < 32; ++i) EXPECT_FLOAT_EQ(y[i], 1.0f) << i;
}

TEST(Nvfp4, InfSaturates) {
  std::vector<float> x(16, 0.0f);
  x[0] = kInf;
  x[1] = -kInf;
  uint8_t data[8], sf;
  reference::Nvfp4Quantize(DType::kF32, x.data(), 16, 1.0f, data, &sf);
  EXPECT_EQ(sf, 0x7e);
  EXPECT_EQ(data[0], 0xF7);
}

TEST(Nvfp4, RoundTripErrorIsBoundedPerBlock) {
  std::vector<float> x(1024);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * (1 + i % 7);
  const float g = *GDecFromAmax(reference::AbsMax(DType::kF32, x.data(), x.size()), 2688.0f);
  std::vector<uint8_t> d(512), s(64);
  std::vector<float> y(1024);
  reference::Nvfp4Quantize(DType::kF32, x.data(), x.size(), g, d.data(), s.data());
  reference::Nvfp4Dequantize(d.data(), s.data(), x.size(), g, DType::kF32, y.data());
  for (size_t b = 0; b < 64; ++b) {
    float vmax = 0;
    for (int i = 0; i < 16; ++i) vmax = std::max(vmax, std::fabs(x[b * 16 + i]));
    for (int i = 0; i < 16; ++i) {
      // Half an E2M1 step at the top of the range (1 of 6) plus the E4M3 scale error.
      EXPECT_LE(std::fabs(y[b * 16 + i] - x[b * 16 + i]), vmax * (1.0f / 6 + 1.0f / 16) + 1e-6f);
    }
  }
}

TEST(Nvfp4, DequantizeToFp8MatchesRecipe) {
  for (int sf = 0; sf < 0x7f; ++sf) {
    for (uint8_t c = 0; c < 16; ++c) {
      const float exact = DecodeE2m1(c) * DecodeE4m3(static_cast<uint8_t>(sf));
      uint8_t data = c, out[2];
      const uint8_t s = static_cast<uint8_t>(sf);
      std::vector<uint8_t> blockdata(8, 0), scales(1, s);
      blockdata[0] = data;
      uint8_t full[16];
      reference::Nvfp4DequantizeToFp8(blockdata.data(), scales.data(), 16, full);
      out[0] = full[0];
      EXPECT_EQ(out[0], EncodeE4m3(exact));
    }
  }
}

TEST(Mxfp4, ScalesAndPoisoning) {
  EXPECT_EQ(MxScaleFloor(1.0f), 125);  // 2^(0 - 2)
  EXPECT_EQ(MxScaleFloor(7.9f), 127);  // 2^(2 - 2)
  EXPECT_EQ(MxScaleFloor(0.0f), 0);
  EXPECT_EQ(MxScaleFloor(kNan), 0xff);
  EXPECT_EQ(MxScaleRceil(6.0f), 127);  // ceil(log2(1)) = 0
  EXPECT_EQ(MxScaleRceil(6.1f), 128);
  EXPECT_EQ(MxScaleRceil(0.0f), 0);
  std::vector<float> x(64, 0.5f);
  x[40] = kNan;
  uint8_t data[32], sb[2];
  reference::Mxfp4Quantize(DType::kF32, x.data(), 64, MxScaleMode::kFloor, data, sb);
  EXPECT_EQ(sb[1], 0xff);
  std::vector<float> y(64);
  reference::Mxfp4Dequantize(data, sb, 64, DType::kF32, y.data());
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_TRUE(std::isnan(y[63]));
}

TEST(Fp8, PerTensorRoundTrip) {
  std::vector<float> x = {448.0f, -224.0f, 1.0f, 0.0f};
  uint8_t q[4];
  reference::Fp8Quantize(DType::kF32, x.data(), 4, 1.0f, q);
  EXPECT_EQ(q[0], 0x7e);
  EXPECT_EQ(q[1], 0xf6);
  std::vector<float> y(4);
  reference::Fp8Dequantize(q, 4, 2.0f, DType::kF32, y.data());
  EXPECT_EQ(y[0], 896.0f);
}

TEST(ConvertDType, Bf16AndHalfSpecials) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBf16(kNan), 0x7fff);
  EXPECT_EQ(FloatToBf16(kInf), 0x7f80);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-kInf), 0xfc00);
  EXPECT_EQ(FloatToHalf(5.9604644775390625e-08f), 0x0001);
  EXPECT_EQ(FloatToHalf(2.98023223876953125e-08f), 0x0000);  // tie -> even
  EXPECT_EQ(FloatToHalf(kNan), 0x7fff);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToHalf(f), h);
    EXPECT_EQ(FloatToBf16(Bf16ToFloat(static_cast<uint16_t>(h))), h);
  }
}

TEST(GDecFromAmax, ZeroAndBadInput) {
  EXPECT_EQ(*GDecFromAmax(0.0f, 2688.0f), 1.0f);
  EXPECT_EQ(*GDecFromAmax(2688.0f, 2688.0f), 1.0f);
  EXPECT_FALSE(GDecFromAmax(kNan, 2688.0f).ok());
  EXPECT_FALSE(GDecFromAmax(kInf, 448.0f).ok());
}

TEST(ValidateShape, NamesTheProblem) {
  EXPECT_TRUE(ValidateShape(Format::kNvfp4, 64, 32).ok());
  const absl::Status s = ValidateShape(Format::kNvfp4, 48, 24);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("block size 16"), absl::string_view::npos) << s;
  EXPECT_FALSE(ValidateShape(Format::kMxfp4, 48, 16).ok());
  EXPECT_FALSE(ValidateShape(Format::kNvfp4, 50, 16).ok());
}

}  // namespace
}  // namespace kvstash::kernels
