// Reproduces the error table of NVFP4.md (within 0.05 dB) with data generated
// exactly as described there: 4096 x 1024, row-major, amax from the tensor.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/codec.h"
#include "kernels/testutil.h"

namespace kvstash::kernels {
namespace {

constexpr size_t kN = 4096 * 1024;

double Fp8Sqnr(const std::vector<float>& x) {
  const float s = AbsMax(DType::kF32, x.data(), kN) / 448.0f;
  std::vector<uint8_t> q(kN);
  std::vector<float> y(kN);
  Fp8Quantize(DType::kF32, x.data(), kN, s, q.data());
  Fp8Dequantize(q.data(), kN, s, DType::kF32, y.data());
  return testing::Compare(x.data(), y.data(), kN).sqnr_db;
}

double Nvfp4Sqnr(const std::vector<float>& x) {
  const float g = *GDecFromAmax(AbsMax(DType::kF32, x.data(), kN), kNvfp4Amax2688);
  std::vector<uint8_t> d(kN / 2), s(kN / 16);
  std::vector<float> y(kN);
  Nvfp4Quantize(DType::kF32, x.data(), kN, g, d.data(), s.data());
  Nvfp4Dequantize(d.data(), s.data(), kN, g, DType::kF32, y.data());
  return testing::Compare(x.data(), y.data(), kN).sqnr_db;
}

double Mxfp4Sqnr(const std::vector<float>& x, MxScaleMode mode) {
  std::vector<uint8_t> d(kN / 2), s(kN / 32);
  std::vector<float> y(kN);
  Mxfp4Quantize(DType::kF32, x.data(), kN, mode, d.data(), s.data());
  Mxfp4Dequantize(d.data(), s.data(), kN, DType::kF32, y.data());
  return testing::Compare(x.data(), y.data(), kN).sqnr_db;
}

TEST(ErrorTable, NormalSeed1) {
  const std::vector<float> x = testing::NormalData(1, kN);
  EXPECT_NEAR(Fp8Sqnr(x), 31.55, 0.05);
  EXPECT_NEAR(Nvfp4Sqnr(x), 20.44, 0.05);
  EXPECT_NEAR(Mxfp4Sqnr(x, MxScaleMode::kFloor), 18.79, 0.05);
}

TEST(ErrorTable, UniformSeed3) {
  const std::vector<float> x = testing::UniformData(3, kN);
  EXPECT_NEAR(Fp8Sqnr(x), 31.87, 0.05);
  EXPECT_NEAR(Nvfp4Sqnr(x), 19.86, 0.05);
  EXPECT_NEAR(Mxfp4Sqnr(x, MxScaleMode::kFloor), 16.82, 0.05);
}

TEST(ErrorTable, Nvfp4BeatsOcpMxfp4) {
  for (const auto& x : {testing::NormalData(1, kN), testing::UniformData(3, kN)}) {
    EXPECT_GT(Nvfp4Sqnr(x), Mxfp4Sqnr(x, MxScaleMode::kFloor));
  }
}

// RCEIL never clips. Measured here (and pinned as a regression): on N(0,1) it
// is a hair worse than OCP floor (18.75 vs 18.79 dB: rounding the scale up
// wastes range more often than floor clips), while on U(-1,1) it edges out
// even NVFP4 with g_dec = amax/2688 (20.10 vs 19.86 dB), because blocks whose
// maximum is near the tensor amax land on E4M3 scales near 448, where the E4M3
// step is 1/14 of the value. On N(0,1) NVFP4 wins against both.
TEST(ErrorTable, MxRceilFigures) {
  const std::vector<float> normal = testing::NormalData(1, kN);
  const std::vector<float> uniform = testing::UniformData(3, kN);
  EXPECT_NEAR(Mxfp4Sqnr(normal, MxScaleMode::kRceil), 18.75, 0.05);
  EXPECT_NEAR(Mxfp4Sqnr(uniform, MxScaleMode::kRceil), 20.10, 0.05);
  EXPECT_GT(Nvfp4Sqnr(normal), Mxfp4Sqnr(normal, MxScaleMode::kRceil));
}

}  // namespace
}  // namespace kvstash::kernels
