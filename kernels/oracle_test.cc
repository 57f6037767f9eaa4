// Checks every element conversion, and the whole block recipes, against
// NVIDIA's own definition: the host-side conversion functions of cuda_fp4.h,
// cuda_fp8.h, cuda_bf16.h and cuda_fp16.h (plain host C++, no GPU needed).
// Each format sees all of its special values and 10^7 random inputs, both
// random bit patterns (NaN, Inf, subnormals, huge values) and values spread
// over the interesting range.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp4.h>
#include <cuda_fp8.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/codec.h"
#include "kernels/element.h"

namespace kvstash::kernels {
namespace {

constexpr size_t kRandom = 10'000'000;

float HalfRawToFloat(__half_raw h) { return HalfToFloat(h.x); }

uint8_t OracleE2m1(float x) { return __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundNearest); }
uint8_t OracleE4m3(float x) { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); }
float OracleDecodeE4m3(uint8_t c) { return HalfRawToFloat(__nv_cvt_fp8_to_halfraw(c, __NV_E4M3)); }
float OracleDecodeE2m1(uint8_t c) { return HalfRawToFloat(__nv_cvt_fp4_to_halfraw(c, __NV_E2M1)); }

// Random floats: even draws are arbitrary bit patterns, odd draws are
// uniform in [-range, range] so that rounding decisions are exercised.
class FloatSource {
 public:
  FloatSource(uint64_t seed, float range) : rng_(seed), range_(range) {}
  float Next() {
    const uint64_t r = rng_();
    if (r & 1) {
      const uint32_t bits = static_cast<uint32_t>(r >> 32);
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    const double u = static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0);
    return static_cast<float>((2 * u - 1) * range_);
  }

 private:
  std::mt19937_64 rng_;
  float range_;
};

bool SameBits(float a, float b) { return FloatBits(a) == FloatBits(b); }

TEST(Oracle, E2m1AllCodesDecode) {
  for (uint8_t c = 0; c < 16; ++c)
    EXPECT_TRUE(SameBits(DecodeE2m1(c), OracleDecodeE2m1(c))) << int(c);
}

TEST(Oracle, E2m1SpecialValues) {
  const float specials[] = {0.0f,
                            -0.0f,
                            0.25f,
                            0.75f,
                            1.25f,
                            1.75f,
                            2.5f,
                            3.5f,
                            5.0f,
                            6.0f,
                            7.0f,
                            -0.25f,
                            -5.0f,
                            1e-45f,
                            -1e-45f,
                            1e38f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN()};
  for (float x : specials) EXPECT_EQ(EncodeE2m1(x), OracleE2m1(x)) << x;
}

TEST(Oracle, E2m1Random) {
  FloatSource src(11, 8.0f);
  size_t bad = 0;
  for (size_t i = 0; i < kRandom; ++i) {
    const float x = src.Next();
    if (EncodeE2m1(x) != OracleE2m1(x) && bad++ < 10) ADD_FAILURE() << "x=" << x;
  }
  EXPECT_EQ(bad, 0u);
}

TEST(Oracle, E4m3AllCodesDecode) {
  for (int c = 0; c < 256; ++c) {
    const float mine = DecodeE4m3(static_cast<uint8_t>(c));
    const float theirs = OracleDecodeE4m3(static_cast<uint8_t>(c));
    if (std::isnan(theirs)) {
      EXPECT_TRUE(std::isnan(mine)) << c;
    } else {
      EXPECT_TRUE(SameBits(mine, theirs)) << c;
    }
  }
}

TEST(Oracle, E4m3SpecialValues) {
  const float specials[] = {0.0f,
                            -0.0f,
                            448.0f,
                            463.99f,
                            464.0f,
                            465.0f,
                            480.0f,
                            1e30f,
                            0.001953125f,
                            0.0009765625f,
                            0.0009765626f,
                            0.015625f,
                            0.0146484375f,
                            -448.0f,
                            1e-45f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  for (float x : specials) EXPECT_EQ(EncodeE4m3(x), OracleE4m3(x)) << x;
}

TEST(Oracle, E4m3Random) {
  FloatSource src(12, 512.0f);
  FloatSource small(13, 0.03f);  // the subnormal / smallest-normal range
  size_t bad = 0;
  for (size_t i = 0; i < kRandom; ++i) {
    const float x = (i % 4 == 0) ? small.Next() : src.Next();
    if (EncodeE4m3(x) != OracleE4m3(x) && bad++ < 10) ADD_FAILURE() << "x=" << x;
  }
  EXPECT_EQ(bad, 0u);
}

TEST(Oracle, E8m0DecodeAllCodes) {
  for (int b = 0; b < 255; ++b) {
    const __nv_bfloat16_raw raw = __nv_cvt_e8m0_to_bf16raw(static_cast<uint8_t>(b));
    const float theirs = Bf16ToFloat(raw.x);
    EXPECT_TRUE(SameBits(DecodeE8m0(static_cast<uint8_t>(b)), theirs)) << b;
    EXPECT_EQ(DecodeE8m0(static_cast<uint8_t>(b)) * InverseE8m0(static_cast<uint8_t>(b)), 1.0f)
        << b;
  }
  EXPECT_TRUE(std::isnan(DecodeE8m0(0xff)));
}

// OCP floor: the E8M0 of amax rounded toward zero, minus emax(E2M1) = 2.
uint8_t OracleMxFloor(float amax) {
  const uint8_t b = __nv_cvt_float_to_e8m0(amax, __NV_SATFINITE, cudaRoundZero);
  if (b == 0xff) return b;
  return b < 2 ? 0 : static_cast<uint8_t>(b - 2);
}

// RCEIL: amax / 6 rounded up to a power of two.
uint8_t OracleMxRceil(float amax) {
  return __nv_cvt_float_to_e8m0(amax / 6.0f, __NV_SATFINITE, cudaRoundPosInf);
}

TEST(Oracle, E8m0ScalesRandom) {
  FloatSource src(14, 1000.0f);
  size_t bad = 0;
  for (size_t i = 0; i < kRandom; ++i) {
    const float x = std::fabs(src.Next());
    if (std::isinf(x)) continue;  // documented separately: inputs must be finite
    if (MxScaleFloor(x) != OracleMxFloor(x) && bad++ < 10) ADD_FAILURE() << "floor x=" << x;
    if (MxScaleRceil(x) != OracleMxRceil(x) && bad++ < 10) ADD_FAILURE() << "rceil x=" << x;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(MxScaleFloor(std::numeric_limits<float>::quiet_NaN()), 0xff);
  EXPECT_EQ(MxScaleRceil(std::numeric_limits<float>::quiet_NaN()), 0xff);
}

TEST(Oracle, Bf16AndHalfRandom) {
  FloatSource src(15, 70000.0f);
  size_t bad = 0;
  for (size_t i = 0; i < kRandom; ++i) {
    const float x = src.Next();
    const __nv_bfloat16_raw b = __float2bfloat16_rn(x);
    const __half_raw h = __float2half_rn(x);
    if (FloatToBf16(x) != b.x && bad++ < 10) ADD_FAILURE() << "bf16 x=" << x;
    if (FloatToHalf(x) != h.x && bad++ < 10) ADD_FAILURE() << "f16 x=" << x;
  }
  EXPECT_EQ(bad, 0u);
  for (uint32_t v = 0; v < 0x10000; ++v) {
    __half_raw h;
    h.x = static_cast<uint16_t>(v);
    const float theirs = __half2float(h);
    if (!std::isnan(theirs)) {
      EXPECT_TRUE(SameBits(HalfToFloat(h.x), theirs)) << v;
    }
  }
}

// Recipe R written with the oracle's conversions only, as an independent
// implementation to compare the whole codec against.
void OracleNvfp4(const std::vector<float>& x, float g_dec, std::vector<uint8_t>& data,
                 std::vector<uint8_t>& scales) {
  const float g_enc = 1.0f / g_dec;
  for (size_t b = 0; b < x.size() / 16; ++b) {
    float vmax = 0;
    bool nan = false;
    for (int i = 0; i < 16; ++i) {
      nan |= std::isnan(x[b * 16 + i]);
      vmax = std::max(vmax, std::fabs(x[b * 16 + i]));
    }
    if (nan) vmax = std::numeric_limits<float>::quiet_NaN();
    const uint8_t sf = OracleE4m3((vmax / 6.0f) * g_enc);
    const float sfv = OracleDecodeE4m3(sf);
    const float os = sfv == 0.0f ? 0.0f : 1.0f / (sfv * g_dec);
    scales[b] = sf;
    for (int i = 0; i < 16; i += 2) {
      data[b * 8 + i / 2] = __nv_cvt_float2_to_fp4x2(
          make_float2(x[b * 16 + i] * os, x[b * 16 + i + 1] * os), __NV_E2M1, cudaRoundNearest);
    }
  }
}

std::vector<float> RandomTensor(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    // Blocks of widely different magnitudes, some outliers, some zero blocks.
    const size_t block = i / 16;
    const float scale = std::pow(10.0f, static_cast<float>(block * 2654435761u % 9) - 4.0f);
    x[i] = block % 97 == 0 ? 0.0f : normal(rng) * scale * (i % 61 == 0 ? 20.0f : 1.0f);
  }
  return x;
}

TEST(Oracle, Nvfp4RecipeOnTenMillionValues) {
  const size_t n = kRandom / 16 * 16;
  const std::vector<float> x = RandomTensor(16, n);
  for (float divisor : {kNvfp4Amax2688, kNvfp4Amax448}) {
    const float g = *GDecFromAmax(AbsMax(DType::kF32, x.data(), n, Impl::kReference), divisor);
    std::vector<uint8_t> d0(n / 2), s0(n / 16), d1(n / 2), s1(n / 16), d2(n / 2), s2(n / 16);
    OracleNvfp4(x, g, d0, s0);
    Nvfp4Quantize(DType::kF32, x.data(), n, g, d1.data(), s1.data(), Impl::kReference);
    Nvfp4Quantize(DType::kF32, x.data(), n, g, d2.data(), s2.data(), Impl::kFast);
    EXPECT_TRUE(s0 == s1) << "reference scales differ from the oracle";
    EXPECT_TRUE(d0 == d1) << "reference data differ from the oracle";
    EXPECT_TRUE(s0 == s2) << "fast scales differ from the oracle";
    EXPECT_TRUE(d0 == d2) << "fast data differ from the oracle";
  }
}

TEST(Oracle, Fp8AndMxfp4RecipesOnTenMillionValues) {
  const size_t n = kRandom / 32 * 32;
  const std::vector<float> x = RandomTensor(17, n);
  const float s = AbsMax(DType::kF32, x.data(), n) / 448.0f;
  std::vector<uint8_t> q(n);
  Fp8Quantize(DType::kF32, x.data(), n, s, q.data(), Impl::kReference);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += q[i] != OracleE4m3(x[i] / s);
  EXPECT_EQ(bad, 0u);

  for (MxScaleMode mode : {MxScaleMode::kFloor, MxScaleMode::kRceil}) {
    std::vector<uint8_t> d(n / 2), sc(n / 32);
    Mxfp4Quantize(DType::kF32, x.data(), n, mode, d.data(), sc.data(), Impl::kReference);
    bad = 0;
    for (size_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      const uint8_t sb = mode == MxScaleMode::kFloor ? OracleMxFloor(amax) : OracleMxRceil(amax);
      bad += sc[b] != sb;
      const float scale = Bf16ToFloat(__nv_cvt_e8m0_to_bf16raw(sb).x);
      for (int i = 0; i < 32; i += 2) {
        const uint8_t pair =
            __nv_cvt_float2_to_fp4x2(make_float2(x[b * 32 + i] / scale, x[b * 32 + i + 1] / scale),
                                     __NV_E2M1, cudaRoundNearest);
        bad += d[b * 16 + i / 2] != pair;
      }
    }
    EXPECT_EQ(bad, 0u) << "mode " << int(mode);
  }
}

}  // namespace
}  // namespace kvstash::kernels
