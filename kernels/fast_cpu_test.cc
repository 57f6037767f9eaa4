// The fast CPU codec (fast_cpu.h) bit for bit against the reference
// (reference.h): every function, every dtype, both MX scale modes, tails and
// tiny sizes, and data chosen to hit every rounding path: normal and uniform
// values at magnitudes from subnormal to overflow, raw random bit patterns
// (NaN, Inf, subnormals), zero and negative-zero blocks, E2M1/E4M3 decision
// points, and special values at every lane position. Runs the non-AVX2
// fallback too. Output buffers carry canaries past the end, so a write out of
// bounds shows up as a difference. No timing here, ever.
#include "kernels/fast_cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/codec.h"
#include "kernels/element.h"
#include "kernels/fast_cpu_internal.h"
#include "kernels/reference.h"

namespace kvstash::kernels {
namespace {

constexpr DType kDTypes[] = {DType::kF32, DType::kBf16, DType::kF16};
constexpr MxScaleMode kModes[] = {MxScaleMode::kFloor, MxScaleMode::kRceil};
constexpr size_t kSlack = 64;  // canary bytes after every output
constexpr uint8_t kCanary = 0xa5;

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// Values that stress some path: NaNs of both signs and kinds, infinities,
// zeros, subnormals, extremes, and E2M1/E4M3 boundaries.
std::vector<float> Specials() {
  std::vector<float> s = {kNan,
                          -kNan,
                          BitsFloat(0x7f800001u),
                          BitsFloat(0xffa00000u),
                          kInf,
                          -kInf,
                          0.0f,
                          -0.0f,
                          BitsFloat(1u),
                          -BitsFloat(1u),
                          1e-40f,
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          6.0f,
                          -6.0f,
                          448.0f,
                          464.0f,
                          -464.0f,
                          0.0009765625f,
                          0.015625f,
                          65520.0f,
                          -65504.0f,
                          5.96e-8f,
                          3e38f};
  return s;
}

// f32 data as the bytes of dtype t (round to nearest even; NaN canonical).
std::vector<uint8_t> AsDType(const std::vector<float>& x, DType t) {
  std::vector<uint8_t> out(x.size() * DTypeSize(t));
  reference::ConvertDType(DType::kF32, x.data(), x.size(), t, out.data());
  return out;
}

std::vector<uint8_t> RandomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    std::memcpy(out.data() + i, &r, std::min<size_t>(8, n - i));
  }
  return out;
}

std::vector<float> RandomBitFloats(uint64_t seed, size_t n) {
  const std::vector<uint8_t> b = RandomBytes(seed, n * 4);
  std::vector<float> x(n);
  std::memcpy(x.data(), b.data(), b.size());
  return x;
}

// N(0,1) with a random power-of-two magnitude per 16 elements, from 2^-150
// (all subnormal or zero) to 2^130 (overflowing the 16-bit types).
std::vector<float> NormalAtMagnitudes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  float scale = 1.0f;
  for (size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) scale = std::ldexp(1.0f, static_cast<int>(rng() % 281) - 150);
    x[i] = normal(rng) * scale;
  }
  return x;
}

std::vector<float> UniformAtMagnitudes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(n);
  float scale = 1.0f;
  for (size_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::ldexp(1.0f, static_cast<int>(rng() % 60) - 30);
    x[i] = uniform(rng) * scale;
  }
  return x;
}

// E2M1 and E4M3 rounding boundaries times 2^k, k in [min_exp, max_exp],
// exactly or one ulp off, so that power-of-two scales (MXFP4, FP8 with
// s = 2^k) land on ties, and block maxima land on MX scale edges (6 * 2^k).
std::vector<float> DecisionPoints(uint64_t seed, size_t n, int min_exp = -20, int max_exp = 20) {
  static constexpr float kPoints[] = {0.25f,   0.75f,  1.25f,         1.75f, 2.5f,
                                      3.5f,    5.0f,   6.0f,          1.0f,  1.0625f,
                                      1.1875f, 464.0f, 0.0009765625f, 1.5f,  3.0f};
  std::mt19937_64 rng(seed);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t r = rng();
    const int k =
        min_exp + static_cast<int>((r >> 8) % static_cast<uint64_t>(max_exp - min_exp + 1));
    float v = std::ldexp(kPoints[r % std::size(kPoints)], k);
    const int nudge = static_cast<int>((r >> 16) % 3) - 1;
    v = BitsFloat(FloatBits(v) + nudge);
    x[i] = (r >> 20) & 1 ? -v : v;
  }
  return x;
}

// Blocks of 32 whose magnitude maximum is exactly a decision point (so that
// scales land on their own rounding edges), the other values below it.
std::vector<float> BlockMaxAtDecisionPoints(uint64_t seed, size_t n, int min_exp, int max_exp) {
  const std::vector<float> maxima = DecisionPoints(seed, n / 32 + 1, min_exp, max_exp);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> below(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const float m = maxima[i / 32];
    x[i] = i % 32 == rng() % 32 ? m : below(rng) * m;
  }
  return x;
}

// Zero, negative-zero and single-value blocks, then every special at every
// position of a 32-element block, over otherwise normal data.
std::vector<float> BlocksWithSpecials(uint64_t seed) {
  std::vector<float> x = NormalAtMagnitudes(seed, 32 * 8);
  for (size_t i = 0; i < 32; ++i) x[i] = 0.0f;
  for (size_t i = 32; i < 64; ++i) x[i] = -0.0f;
  for (size_t i = 64; i < 96; ++i) x[i] = i == 70 ? 1e-3f : -0.0f;
  for (float s : Specials()) {
    for (size_t pos = 0; pos < 32; ++pos) {
      std::vector<float> block = NormalAtMagnitudes(seed + pos, 32);
      block[pos] = s;
      x.insert(x.end(), block.begin(), block.end());
    }
  }
  return x;
}

// The data sets every quantiser sees, each a multiple of 256 elements.
struct DataSet {
  std::string name;
  std::vector<float> x;
};
std::vector<DataSet> DataSets(size_t n) {
  std::vector<DataSet> sets;
  sets.push_back({"normal", NormalAtMagnitudes(1, n)});
  sets.push_back({"uniform", UniformAtMagnitudes(2, n)});
  sets.push_back({"random_bits", RandomBitFloats(3, n)});
  sets.push_back({"decision_points", DecisionPoints(4, n)});
  sets.push_back({"tiny_decision_points", DecisionPoints(6, n, -152, -110)});
  sets.push_back({"huge_decision_points", DecisionPoints(8, n, 100, 130)});
  sets.push_back({"block_max_edges", BlockMaxAtDecisionPoints(9, n, -20, 20)});
  sets.push_back({"tiny_block_max_edges", BlockMaxAtDecisionPoints(10, n, -152, -110)});
  sets.push_back({"specials", BlocksWithSpecials(5)});
  sets.push_back({"zeros", std::vector<float>(n, 0.0f)});
  sets.push_back({"negative_zeros", std::vector<float>(n, -0.0f)});
  return sets;
}

std::vector<uint8_t> Output(size_t bytes) { return std::vector<uint8_t>(bytes + kSlack, kCanary); }

// Compares two outputs byte for byte, canaries included, and says where the
// first difference is.
void ExpectSame(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
                const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  size_t diffs = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i] && diffs++ == 0) first = i;
  }
  EXPECT_EQ(diffs, 0u) << what << ": first difference at byte " << first << " of " << want.size()
                       << ": want 0x" << std::hex << int{want[first]} << ", got 0x"
                       << int{got[first]};
}

// Element counts: tiny, around every vector width and block group, and
// around the 256-group switch of the dequantise tables.
std::vector<size_t> Sizes(size_t block) {
  std::vector<size_t> out;
  for (size_t blocks : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 255, 256, 257, 511, 513}) {
    out.push_back(blocks * block);
  }
  return out;
}
constexpr size_t kElementSizes[] = {0,  1,  2,  7,  8,  9,   15,  16,  17,   31,
                                    32, 33, 63, 64, 65, 100, 255, 256, 1000, 4099};

// ---------------------------------------------------------------- NVFP4 --

void CheckNvfp4Quantize(DType t, const std::vector<uint8_t>& src, size_t n, float g_dec,
                        const std::string& what) {
  std::vector<uint8_t> d0 = Output(n / 2), s0 = Output(n / 16);
  std::vector<uint8_t> d1 = d0, s1 = s0;
  reference::Nvfp4Quantize(t, src.data(), n, g_dec, d0.data(), s0.data());
  fast::Nvfp4Quantize(t, src.data(), n, g_dec, d1.data(), s1.data());
  ExpectSame(s0, s1, what + " scales");
  ExpectSame(d0, d1, what + " data");
}

TEST(FastNvfp4, QuantizeMatchesReference) {
  for (const DataSet& set : DataSets(16 * 1024)) {
    for (DType t : kDTypes) {
      const std::vector<uint8_t> src = AsDType(set.x, t);
      const float amax = reference::AbsMax(t, src.data(), set.x.size());
      // Extreme g_dec make sfv * g_dec underflow (os = Inf) or overflow (os = 0).
      std::vector<float> g_decs = {1.0f, 1e-30f, 3e30f, 0.7f, 1e-40f, 3e38f, kInf};
      if (std::isfinite(amax) && amax > 0) g_decs.push_back(amax / kNvfp4Amax2688);
      if (std::isfinite(amax) && amax > 0) g_decs.push_back(amax / kNvfp4Amax448);
      for (float g : g_decs) {
        for (size_t n : Sizes(kNvfp4Block)) {
          if (n > set.x.size()) continue;
          CheckNvfp4Quantize(t, src, n, g,
                             absl::StrCat(set.name, " ", DTypeName(t), " g=", g, " n=", n));
        }
      }
    }
  }
}

// Outside the contract (g_dec finite > 0) the fast path must still agree.
TEST(FastNvfp4, QuantizeWithInvalidGDec) {
  const std::vector<float> x = BlocksWithSpecials(17);
  for (DType t : kDTypes) {
    for (float g : {-1.0f, -0.0f, 0.0f, kNan, -kInf}) {
      CheckNvfp4Quantize(t, AsDType(x, t), x.size() / 16 * 16, g,
                         absl::StrCat(DTypeName(t), " g=", g));
    }
  }
}

TEST(FastNvfp4, QuantizeUnalignedSource) {
  const std::vector<float> x = NormalAtMagnitudes(7, 4096 + 1);
  for (DType t : kDTypes) {
    const std::vector<uint8_t> bytes = AsDType(x, t);
    const std::vector<uint8_t> src(bytes.begin() + DTypeSize(t), bytes.end());
    CheckNvfp4Quantize(t, src, 4096, 0.01f, absl::StrCat("unaligned ", DTypeName(t)));
  }
}

// Extreme g_dec push os = 1 / (sfv * g_dec) to Inf (tiny blocks) or 0
// (blocks with Inf), where 0 * Inf makes NaN products: the codes must be
// 0x7 without sign, like EncodeE2m1(NaN). Zeros of both signs sit at every
// position of such blocks.
TEST(FastNvfp4, QuantizeWhereOutScaleOverflows) {
  std::vector<float> x;
  for (float vmax : {1e-38f, 3e-39f, 1.5e-38f, 6e-38f, kInf, -kInf, 3e38f}) {
    for (size_t pos = 0; pos < 16; ++pos) {
      for (size_t i = 0; i < 16; ++i) x.push_back(i == pos ? vmax : (i % 2 ? 0.0f : -0.0f));
      x[x.size() - 16 + (pos + 5) % 16] = vmax / 7.0f;
    }
  }
  for (DType t : kDTypes) {
    const std::vector<uint8_t> src = AsDType(x, t);
    for (float g : {1e-37f, 3e-37f, 1e-36f, 1e-38f, 1e-40f, 1e30f, 3e38f}) {
      CheckNvfp4Quantize(t, src, x.size(), g, absl::StrCat(DTypeName(t), " g=", g));
    }
  }
}

// Millions of random values, whole-tensor scale as in production.
TEST(FastNvfp4, QuantizeMillionsOfValues) {
  constexpr size_t kN = 4 << 20;
  const std::vector<float> normal = NormalAtMagnitudes(11, kN);
  const std::vector<float> bits = RandomBitFloats(12, kN);
  CheckNvfp4Quantize(DType::kF32, AsDType(normal, DType::kF32), kN, 1.0f, "f32 normal");
  CheckNvfp4Quantize(DType::kF32, AsDType(bits, DType::kF32), kN, 1e-3f, "f32 bits");
  CheckNvfp4Quantize(DType::kBf16, RandomBytes(13, kN), kN / 2, 2e-2f, "bf16 bits");
  CheckNvfp4Quantize(DType::kF16, RandomBytes(14, kN), kN / 2, 1e-4f, "f16 bits");
}

void CheckNvfp4Dequantize(const std::vector<uint8_t>& data, const std::vector<uint8_t>& scales,
                          size_t n, float g_dec, const std::string& what) {
  for (DType t : kDTypes) {
    std::vector<uint8_t> o0 = Output(n * DTypeSize(t)), o1 = o0;
    reference::Nvfp4Dequantize(data.data(), scales.data(), n, g_dec, t, o0.data());
    fast::Nvfp4Dequantize(data.data(), scales.data(), n, g_dec, t, o1.data());
    ExpectSame(o0, o1, absl::StrCat(what, " to ", DTypeName(t)));
  }
  std::vector<uint8_t> f0 = Output(n), f1 = f0;
  reference::Nvfp4DequantizeToFp8(data.data(), scales.data(), n, f0.data());
  fast::Nvfp4DequantizeToFp8(data.data(), scales.data(), n, f1.data());
  ExpectSame(f0, f1, what + " to fp8");
}

// Random bytes cover every code under every scale byte, NaN and negative
// scales included, and g_dec beyond the contract too. Not a NaN g_dec: with
// a NaN scale as well, which NaN a product returns is up to the compiler's
// operand order, so the reference itself has no fixed answer.
TEST(FastNvfp4, DequantizeMatchesReference) {
  for (float g : {1.0f, 1e-30f, 3e30f, 0.0123f, 1.0f / 2688.0f, -0.5f, kInf}) {
    for (size_t n : Sizes(kNvfp4Block)) {
      CheckNvfp4Dequantize(RandomBytes(n, n / 2), RandomBytes(n + 1, n / 16), n, g,
                           absl::StrCat("g=", g, " n=", n));
    }
  }
  constexpr size_t kN = 2 << 20;
  CheckNvfp4Dequantize(RandomBytes(21, kN / 2), RandomBytes(22, kN / 16), kN, 0.37f, "large");
}

TEST(FastNvfp4, RoundTripOfQuantizedData) {
  const std::vector<float> x = NormalAtMagnitudes(31, 64 * 1024);
  std::vector<uint8_t> data(x.size() / 2), scales(x.size() / 16);
  fast::Nvfp4Quantize(DType::kF32, x.data(), x.size(), 1e-3f, data.data(), scales.data());
  CheckNvfp4Dequantize(data, scales, x.size(), 1e-3f, "round trip");
}

// ---------------------------------------------------------------- MXFP4 --

void CheckMxfp4Quantize(DType t, const std::vector<uint8_t>& src, size_t n, MxScaleMode mode,
                        const std::string& what) {
  std::vector<uint8_t> d0 = Output(n / 2), s0 = Output(n / 32);
  std::vector<uint8_t> d1 = d0, s1 = s0;
  reference::Mxfp4Quantize(t, src.data(), n, mode, d0.data(), s0.data());
  fast::Mxfp4Quantize(t, src.data(), n, mode, d1.data(), s1.data());
  const std::string full = absl::StrCat(what, mode == MxScaleMode::kFloor ? " floor" : " rceil");
  ExpectSame(s0, s1, full + " scales");
  ExpectSame(d0, d1, full + " data");
}

TEST(FastMxfp4, QuantizeMatchesReference) {
  for (const DataSet& set : DataSets(16 * 1024)) {
    for (DType t : kDTypes) {
      const std::vector<uint8_t> src = AsDType(set.x, t);
      for (MxScaleMode mode : kModes) {
        for (size_t n : Sizes(kMxfp4Block)) {
          if (n > set.x.size()) continue;
          CheckMxfp4Quantize(t, src, n, mode, absl::StrCat(set.name, " ", DTypeName(t), " n=", n));
        }
      }
    }
  }
}

TEST(FastMxfp4, QuantizeMillionsOfValues) {
  constexpr size_t kN = 2 << 20;
  for (MxScaleMode mode : kModes) {
    CheckMxfp4Quantize(DType::kF32, AsDType(NormalAtMagnitudes(41, kN), DType::kF32), kN, mode,
                       "f32 normal");
    CheckMxfp4Quantize(DType::kF32, AsDType(RandomBitFloats(42, kN), DType::kF32), kN, mode,
                       "f32 bits");
    CheckMxfp4Quantize(DType::kBf16, RandomBytes(43, 2 * kN), kN, mode, "bf16 bits");
    CheckMxfp4Quantize(DType::kF16, RandomBytes(44, 2 * kN), kN, mode, "f16 bits");
  }
}

void CheckMxfp4Dequantize(const std::vector<uint8_t>& data, const std::vector<uint8_t>& scales,
                          size_t n, const std::string& what) {
  for (DType t : kDTypes) {
    std::vector<uint8_t> o0 = Output(n * DTypeSize(t)), o1 = o0;
    reference::Mxfp4Dequantize(data.data(), scales.data(), n, t, o0.data());
    fast::Mxfp4Dequantize(data.data(), scales.data(), n, t, o1.data());
    ExpectSame(o0, o1, absl::StrCat(what, " to ", DTypeName(t)));
  }
}

TEST(FastMxfp4, DequantizeMatchesReference) {
  for (size_t n : Sizes(kMxfp4Block)) {
    CheckMxfp4Dequantize(RandomBytes(n, n / 2), RandomBytes(n + 1, n / 32), n,
                         absl::StrCat("n=", n));
  }
  constexpr size_t kN = 2 << 20;
  CheckMxfp4Dequantize(RandomBytes(51, kN / 2), RandomBytes(52, kN / 32), kN, "large");
}

// ------------------------------------------------------------------ FP8 --

void CheckFp8Quantize(DType t, const std::vector<uint8_t>& src, size_t n, float s,
                      const std::string& what) {
  std::vector<uint8_t> q0 = Output(n), q1 = q0;
  reference::Fp8Quantize(t, src.data(), n, s, q0.data());
  fast::Fp8Quantize(t, src.data(), n, s, q1.data());
  ExpectSame(q0, q1, what);
}

TEST(FastFp8, QuantizeMatchesReference) {
  for (const DataSet& set : DataSets(4096)) {
    for (DType t : kDTypes) {
      const std::vector<uint8_t> src = AsDType(set.x, t);
      // Beyond the contract (s finite > 0) the fast path must still agree.
      for (float s :
           {1.0f, 0.25f, 1e-30f, 3e30f, 0.0173f, 1e-40f, 3e38f, -0.5f, 0.0f, kInf, kNan}) {
        for (size_t n : kElementSizes) {
          if (n > set.x.size()) continue;
          CheckFp8Quantize(t, src, n, s,
                           absl::StrCat(set.name, " ", DTypeName(t), " s=", s, " n=", n));
        }
      }
    }
  }
}

TEST(FastFp8, QuantizeMillionsOfValues) {
  constexpr size_t kN = 4 << 20;
  CheckFp8Quantize(DType::kF32, AsDType(NormalAtMagnitudes(61, kN), DType::kF32), kN, 0.5f,
                   "f32 normal");
  CheckFp8Quantize(DType::kF32, AsDType(RandomBitFloats(62, kN), DType::kF32), kN, 3e-3f,
                   "f32 bits");
  CheckFp8Quantize(DType::kBf16, RandomBytes(63, kN), kN / 2, 7.0f, "bf16 bits");
  CheckFp8Quantize(DType::kF16, RandomBytes(64, kN), kN / 2, 1e-3f, "f16 bits");
}

TEST(FastFp8, DequantizeMatchesReference) {
  std::vector<size_t> sizes(std::begin(kElementSizes), std::end(kElementSizes));
  sizes.push_back(1 << 20);
  for (float s : {1.0f, 1e-30f, 3e30f, 0.0173f, 1e-40f, 3e38f, -2.0f, 0.0f, kInf, kNan}) {
    for (size_t n : sizes) {
      const std::vector<uint8_t> q = RandomBytes(n + 71, n);
      for (DType t : kDTypes) {
        std::vector<uint8_t> o0 = Output(n * DTypeSize(t)), o1 = o0;
        reference::Fp8Dequantize(q.data(), n, s, t, o0.data());
        fast::Fp8Dequantize(q.data(), n, s, t, o1.data());
        ExpectSame(o0, o1, absl::StrCat(DTypeName(t), " s=", s, " n=", n));
      }
    }
  }
}

// ----------------------------------------------- large (streamed) outputs --

// Outputs of 8 MiB and more take non-temporal stores (where that pays) when
// 16-byte aligned: check both alignments, with an odd number of groups.
TEST(FastLargeOutputs, DequantizeMatchesReference) {
  constexpr size_t kN = (8 << 20) + 32 + 16;
  const std::vector<uint8_t> data = RandomBytes(101, kN / 2);
  const std::vector<uint8_t> scales = RandomBytes(102, kN / 16);
  for (size_t offset : {0, 4}) {
    for (DType t : kDTypes) {
      const size_t bytes = kN * DTypeSize(t);
      std::vector<uint8_t> o0 = Output(bytes + offset), o1 = o0;
      const std::string what = absl::StrCat(DTypeName(t), " offset=", offset);
      reference::Nvfp4Dequantize(data.data(), scales.data(), kN, 0.3f, t, o0.data() + offset);
      fast::Nvfp4Dequantize(data.data(), scales.data(), kN, 0.3f, t, o1.data() + offset);
      ExpectSame(o0, o1, "nvfp4 " + what);
      reference::Mxfp4Dequantize(data.data(), scales.data(), kN / 32 * 32, t, o0.data() + offset);
      fast::Mxfp4Dequantize(data.data(), scales.data(), kN / 32 * 32, t, o1.data() + offset);
      ExpectSame(o0, o1, "mxfp4 " + what);
      reference::Fp8Dequantize(data.data(), kN / 2, 0.3f, t, o0.data() + offset);
      fast::Fp8Dequantize(data.data(), kN / 2, 0.3f, t, o1.data() + offset);
      ExpectSame(o0, o1, "fp8 " + what);
    }
    std::vector<uint8_t> f0 = Output(kN + offset), f1 = f0;
    reference::Nvfp4DequantizeToFp8(data.data(), scales.data(), kN, f0.data() + offset);
    fast::Nvfp4DequantizeToFp8(data.data(), scales.data(), kN, f1.data() + offset);
    ExpectSame(f0, f1, absl::StrCat("nvfp4 to fp8 offset=", offset));
  }
}

// ------------------------------------------------------- AbsMax, convert --

TEST(FastAbsMax, MatchesReference) {
  std::vector<DataSet> sets = DataSets(4096);
  sets.push_back({"random_bits_large", RandomBitFloats(81, 1 << 20)});
  for (const DataSet& set : sets) {
    for (DType t : kDTypes) {
      const std::vector<uint8_t> src = AsDType(set.x, t);
      std::vector<size_t> sizes(std::begin(kElementSizes), std::end(kElementSizes));
      sizes.push_back(set.x.size());
      for (size_t n : sizes) {
        if (n > set.x.size()) continue;
        const float want = reference::AbsMax(t, src.data(), n);
        const float got = fast::AbsMax(t, src.data(), n);
        EXPECT_EQ(FloatBits(want), FloatBits(got)) << set.name << " " << DTypeName(t) << " n=" << n;
      }
    }
  }
}

// A NaN at any position, including the scalar tail, makes AbsMax NaN.
TEST(FastAbsMax, NanAtEveryPosition) {
  constexpr size_t kN = 77;
  for (DType t : kDTypes) {
    for (size_t pos = 0; pos < kN; ++pos) {
      std::vector<float> x = NormalAtMagnitudes(pos, kN);
      x[pos] = pos % 2 ? kNan : -kNan;
      const std::vector<uint8_t> src = AsDType(x, t);
      EXPECT_EQ(FloatBits(fast::AbsMax(t, src.data(), kN)),
                FloatBits(reference::AbsMax(t, src.data(), kN)))
          << DTypeName(t) << " pos=" << pos;
    }
  }
}

TEST(FastConvert, AllPairsMatchReference) {
  std::vector<size_t> sizes(std::begin(kElementSizes), std::end(kElementSizes));
  sizes.push_back(1 << 18);
  std::vector<float> specials = Specials();
  for (DType from : kDTypes) {
    for (DType to : kDTypes) {
      for (size_t n : sizes) {
        // Raw bit patterns of `from` (signalling NaNs included), then specials.
        std::vector<uint8_t> src = RandomBytes(n * 7 + 1, n * DTypeSize(from));
        const std::vector<uint8_t> sp = AsDType(specials, from);
        if (!src.empty()) std::memcpy(src.data(), sp.data(), std::min(src.size(), sp.size()));
        std::vector<uint8_t> o0 = Output(n * DTypeSize(to)), o1 = o0;
        reference::ConvertDType(from, src.data(), n, to, o0.data());
        fast::ConvertDType(from, src.data(), n, to, o1.data());
        ExpectSame(o0, o1, absl::StrCat(DTypeName(from), "->", DTypeName(to), " n=", n));
      }
    }
  }
}

// Every 16-bit pattern through every conversion from a 16-bit type.
TEST(FastConvert, Every16BitPattern) {
  std::vector<uint16_t> all(1 << 16);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (DType from : {DType::kBf16, DType::kF16}) {
    for (DType to : kDTypes) {
      std::vector<uint8_t> o0 = Output(all.size() * DTypeSize(to)), o1 = o0;
      reference::ConvertDType(from, all.data(), all.size(), to, o0.data());
      fast::ConvertDType(from, all.data(), all.size(), to, o1.data());
      ExpectSame(o0, o1, absl::StrCat(DTypeName(from), "->", DTypeName(to)));
    }
  }
}

// ------------------------------------------------------------- fallback --

class ScalarFallback : public ::testing::Test {
 protected:
  void SetUp() override { fast::internal::ForceScalarForTesting(true); }
  void TearDown() override { fast::internal::ForceScalarForTesting(false); }
};

TEST_F(ScalarFallback, ReportsNotVectorisedAndMatchesReference) {
  EXPECT_FALSE(fast::HasAvx2());
  EXPECT_FALSE(FastPathIsVectorised());
  const std::vector<float> x = BlocksWithSpecials(91);
  const size_t n = x.size() / 32 * 32;
  const std::vector<uint8_t> src = AsDType(x, DType::kBf16);
  CheckNvfp4Quantize(DType::kBf16, src, n, 0.01f, "scalar nvfp4");
  CheckMxfp4Quantize(DType::kBf16, src, n, MxScaleMode::kRceil, "scalar mxfp4");
  CheckFp8Quantize(DType::kBf16, src, n - 3, 0.01f, "scalar fp8");
  CheckNvfp4Dequantize(RandomBytes(92, n / 2), RandomBytes(93, n / 16), n, 0.5f, "scalar");
  CheckMxfp4Dequantize(RandomBytes(94, n / 2), RandomBytes(95, n / 32), n, "scalar");
  EXPECT_EQ(FloatBits(fast::AbsMax(DType::kBf16, src.data(), n)),
            FloatBits(reference::AbsMax(DType::kBf16, src.data(), n)));
}

TEST(Dispatch, VectorisedWhenTheCpuHasAvx2) {
  if (!fast::internal::CpuHasAvx2F16c()) {
    GTEST_SKIP() << "no AVX2/F16C on this CPU: only the fallback runs";
  }
  EXPECT_TRUE(fast::HasAvx2());
  EXPECT_TRUE(FastPathIsVectorised());
}

}  // namespace
}  // namespace kvstash::kernels
