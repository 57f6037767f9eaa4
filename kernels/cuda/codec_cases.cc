#include "kernels/cuda/codec_cases.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "kernels/testutil.h"

namespace kvstash::kernels::cuda::cases {

std::vector<float> KvData(uint64_t seed, size_t heads, size_t tokens, size_t head_dim) {
  std::vector<float> x = testing::NormalData(seed, heads * tokens * head_dim);
  for (size_t i = 0; i < x.size(); ++i) {
    if (i % head_dim % 37 == 5) x[i] *= 20.0f;
  }
  return x;
}

std::vector<float> SpecialBlocks() {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  const float big = std::numeric_limits<float>::max();
  const std::vector<std::vector<float>> blocks = {
      {0.0f},
      {-0.0f, 0.0f, -0.0f},
      {1.0f, kNan, 2.0f},
      {kInf, 1.0f, -3.0f},
      {-kInf, kInf, 0.0f},
      {big, -big, 1.0f, tiny},
      {tiny, -tiny, 2 * tiny, 1e-40f, -1e-42f},
      {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f, -0.25f, -0.75f, -1.25f, -1.75f, -2.5f,
       -3.5f, -5.0f, -6.0f},
      {1e30f, 1e-30f, -1e20f, 3.0f},
      {448.0f, 464.0f, 1e-3f, -2688.0f},
      {1.0f, -0.1f, 0.01f, 1e-5f, -1e-7f},
      {3e-39f, -1.2e-38f, 5e-45f, 0.0f, -2e-39f},
  };
  std::vector<float> out;
  for (const auto& b : blocks) {
    // The pattern, then its repeats at half scale: every block mixes values.
    for (size_t i = 0; i < 16; ++i) out.push_back(b[i % b.size()] * (i < b.size() ? 1.0f : 0.5f));
  }
  return out;
}

std::vector<float> ExtremeScales() {
  return {1.0f,
          1.0f / 2688,
          3.7e-3f,
          1e-30f,
          1e30f,
          1e38f,
          std::numeric_limits<float>::max(),
          std::numeric_limits<float>::min(),
          std::numeric_limits<float>::denorm_min()};
}

std::vector<float> EveryHalfPattern(DType t, bool shuffled) {
  std::vector<uint16_t> bits(65536);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i);
  if (shuffled) std::shuffle(bits.begin(), bits.end(), std::mt19937_64(7));
  std::vector<float> x(bits.size());
  ConvertDType(t, bits.data(), bits.size(), DType::kF32, x.data(), Impl::kReference);
  return x;
}

std::vector<float> RandomBits(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<float> x(n);
  for (float& f : x) {
    const uint32_t u = static_cast<uint32_t>(rng());
    std::memcpy(&f, &u, sizeof(f));
  }
  return x;
}

void EveryScaleAndCode(std::vector<uint8_t>* data, std::vector<uint8_t>* scales) {
  scales->resize(256);
  data->resize(256 * 8);
  for (size_t b = 0; b < 256; ++b) {
    (*scales)[b] = static_cast<uint8_t>(b);
    for (size_t k = 0; k < 8; ++k) {  // codes 0..15 rotated by b, so positions vary too
      (*data)[8 * b + k] = static_cast<uint8_t>(((2 * k + b) % 16) | (((2 * k + 1 + b) % 16) << 4));
    }
  }
}

std::vector<uint8_t> AsDType(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(x.size() * DTypeSize(t));
  ConvertDType(DType::kF32, x.data(), x.size(), t, out.data(), Impl::kReference);
  return out;
}

float GDec(const std::vector<float>& x, float divisor) {
  return *GDecFromAmax(AbsMax(DType::kF32, x.data(), x.size(), Impl::kReference), divisor);
}

::testing::AssertionResult SameBytes(const std::vector<uint8_t>& want,
                                     const std::vector<uint8_t>& got, size_t width,
                                     bool f32_nan_any) {
  if (want.size() != got.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << ", want " << want.size();
  }
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < want.size() / width; ++i) {
    uint32_t w = 0, g = 0;
    std::memcpy(&w, want.data() + i * width, width);
    std::memcpy(&g, got.data() + i * width, width);
    const bool nans =
        f32_nan_any && (w & 0x7fffffffu) > 0x7f800000u && (g & 0x7fffffffu) > 0x7f800000u;
    if (w == g || nans) continue;
    if (++bad <= 5) absl::StrAppendFormat(&first, " [%zu] want %#x got %#x;", i, w, g);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << want.size() / width << " elements differ:" << first;
}

}  // namespace kvstash::kernels::cuda::cases
