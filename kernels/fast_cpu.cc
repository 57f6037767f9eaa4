// Runtime dispatch of the fast CPU codec (fast_cpu.h), and its element-wise
// AVX2 kernels: AbsMax, FP8 E4M3 per tensor, and dtype conversions. The
// NVFP4/MXFP4 kernels live in fast_cpu_fp4.cc, the shared vector helpers in
// fast_cpu_avx2.h. Element counts that do not fill a vector go to the
// reference, which is the specification all of this matches bit for bit.
#include "kernels/fast_cpu.h"

#include <cpuid.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/element.h"
#include "kernels/fast_cpu_avx2.h"
#include "kernels/fast_cpu_internal.h"
#include "kernels/reference.h"

namespace kvstash::kernels::fast {
namespace internal {
namespace {

using namespace avx2;  // NOLINT(build/namespaces): the kernels' vocabulary.

constexpr float kInf = std::numeric_limits<float>::infinity();

std::atomic<bool> force_scalar{false};

const void* Advance(const void* p, DType t, size_t elements) {
  return static_cast<const uint8_t*>(p) + elements * DTypeSize(t);
}
void* Advance(void* p, DType t, size_t elements) {
  return static_cast<uint8_t*>(p) + elements * DTypeSize(t);
}

// --------------------------------------------------------------- AbsMax --

KVSTASH_AVX2 float AbsMaxF32(const float* x, size_t n) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    KVSTASH_UNROLL
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_max_epi32(acc[k], AbsBits(_mm256_loadu_ps(x + i + 8 * k)));
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_max_epi32(acc[0], AbsBits(_mm256_loadu_ps(x + i)));
  const __m256i m =
      _mm256_max_epi32(_mm256_max_epi32(acc[0], acc[1]), _mm256_max_epi32(acc[2], acc[3]));
  alignas(32) uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), m);
  // Magnitude bits order like the floats, NaN above Inf.
  uint32_t bits = 0;
  for (uint32_t lane : lanes) bits = lane > bits ? lane : bits;
  for (; i < n; ++i) {
    const uint32_t b = FloatBits(x[i]) & 0x7fffffffu;
    bits = b > bits ? b : bits;
  }
  return bits > 0x7f800000u ? BitsFloat(0x7fc00000u) : BitsFloat(bits);
}

// Largest magnitude bits of 16-bit floats (bf16 or fp16 alike).
KVSTASH_AVX2 uint16_t AbsMaxBits16(const uint16_t* x, size_t n) {
  const __m256i mask = _mm256_set1_epi16(0x7fff);
  __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    KVSTASH_UNROLL
    for (int k = 0; k < 2; ++k) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 16 * k));
      acc[k] = _mm256_max_epu16(acc[k], _mm256_and_si256(v, mask));
    }
  }
  alignas(32) uint16_t lanes[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_max_epu16(acc[0], acc[1]));
  uint16_t bits = 0;
  for (uint16_t lane : lanes) bits = lane > bits ? lane : bits;
  for (; i < n; ++i) {
    const uint16_t b = x[i] & 0x7fff;
    bits = b > bits ? b : bits;
  }
  return bits;
}

// ------------------------------------------------------------ Conversion --

// HalfToFloat on 8 lanes. F16C sets the quiet bit of signalling NaNs, which
// HalfToFloat keeps as they are, so NaN lanes get bit 22 back from the half.
KVSTASH_AVX2 inline __m256 HalfToFloat8(const uint16_t* h) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
  const __m256 f = _mm256_cvtph_ps(raw);
  const __m256i quiet = Set1(0x400000u);
  const __m256i bit9 = _mm256_and_si256(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 13), quiet);
  const __m256i exact = _mm256_or_si256(_mm256_andnot_si256(quiet, AsInt(f)), bit9);
  return _mm256_blendv_ps(f, AsFloat(exact), _mm256_cmp_ps(f, f, _CMP_UNORD_Q));
}

// Same-dtype 16-bit copy: only NaNs (magnitude above kInfBits) change, to
// 0x7FFF.
template <uint16_t kInfBits>
KVSTASH_AVX2 void Canonicalize16(const uint16_t* src, size_t n, uint16_t* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i nan = _mm256_cmpgt_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7fff)),
                                           _mm256_set1_epi16(kInfBits));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_blendv_epi8(v, _mm256_set1_epi16(0x7fff), nan));
  }
  for (; i < n; ++i) dst[i] = (src[i] & 0x7fff) > kInfBits ? 0x7fff : src[i];
}

template <DType From, DType To>
KVSTASH_AVX2 void ConvertT(const void* src, size_t n, void* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if constexpr (From == DType::kF16 && To == DType::kF32) {
      const uint16_t* h = static_cast<const uint16_t*>(src) + i;
      Store16<To>(dst, i, HalfToFloat8(h), HalfToFloat8(h + 8));
    } else {
      Store16<To>(dst, i, Load8<From>(src, i), Load8<From>(src, i + 8));
    }
  }
  reference::ConvertDType(From, Advance(src, From, i), n - i, To, Advance(dst, To, i));
}

template <DType From>
KVSTASH_AVX2 void ConvertFrom(const void* src, size_t n, DType to, void* dst) {
  switch (to) {
    case DType::kF32:
      return ConvertT<From, DType::kF32>(src, n, dst);
    case DType::kBf16:
      return ConvertT<From, DType::kBf16>(src, n, dst);
    case DType::kF16:
      return ConvertT<From, DType::kF16>(src, n, dst);
  }
}

// ------------------------------------------------------------------ FP8 --

// FP8 codes of 32 elements: x / s (a true division, as the reference does),
// E4M3 magnitudes packed to bytes, the sign of each quotient carried by
// signed saturation through a second pack. A NaN quotient has code 0x7F: its
// sign must not show, and 0xFF only ever comes from a negative NaN.
template <DType T>
KVSTASH_AVX2 void Fp8Quantize32(const void* src, size_t i, __m256 s, uint8_t* dst) {
  __m256i codes[2], signs[2];
  KVSTASH_UNROLL
  for (int h = 0; h < 2; ++h) {
    __m256 a, b;
    Load16<T>(src, i + 16 * h, &a, &b);
    a = _mm256_div_ps(a, s);
    b = _mm256_div_ps(b, s);
    codes[h] = _mm256_packus_epi32(EncodeE4m3Mag8(a), EncodeE4m3Mag8(b));
    signs[h] = _mm256_packs_epi32(AsInt(a), AsInt(b));
  }
  const __m256i sign_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i full =
      _mm256_or_si256(_mm256_packus_epi16(codes[0], codes[1]),
                      _mm256_and_si256(_mm256_packs_epi16(signs[0], signs[1]), sign_bit));
  full = _mm256_xor_si256(
      full, _mm256_and_si256(_mm256_cmpeq_epi8(full, _mm256_set1_epi8(-1)), sign_bit));
  // Undo the lane interleave of the packs (Load16 order differs for bf16).
  const __m256i ordered = T == DType::kBf16 ? _mm256_permute4x64_epi64(full, 0xd8)
                                            : _mm256_permutevar8x32_epi32(
                                                  full, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), ordered);
}

// The same for bf16 when s is finite and > 0: then x / s is NaN exactly when
// x is and otherwise has the sign of x, so signs and NaNs come from the
// input's 16-bit lanes, and the division runs on |x|.
KVSTASH_AVX2 void Fp8QuantizeBf16x32(const uint16_t* x, __m256 s, uint8_t* dst) {
  const __m256i abs_mask = _mm256_set1_epi16(0x7fff);
  __m256i raw[2], codes[2], nans[2];
  KVSTASH_UNROLL
  for (int h = 0; h < 2; ++h) {
    raw[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 16 * h));
    const __m256i m = _mm256_and_si256(raw[h], abs_mask);
    nans[h] = _mm256_cmpgt_epi16(m, _mm256_set1_epi16(0x7f80));
    const __m256 a = _mm256_div_ps(AsFloat(_mm256_unpacklo_epi16(_mm256_setzero_si256(), m)), s);
    const __m256 b = _mm256_div_ps(AsFloat(_mm256_unpackhi_epi16(_mm256_setzero_si256(), m)), s);
    codes[h] = _mm256_packus_epi32(EncodeE4m3Mag8<true>(a), EncodeE4m3Mag8<true>(b));
  }
  __m256i full = _mm256_or_si256(_mm256_packus_epi16(codes[0], codes[1]),
                                 _mm256_and_si256(_mm256_packs_epi16(raw[0], raw[1]),
                                                  _mm256_set1_epi8(static_cast<char>(0x80))));
  full = _mm256_blendv_epi8(full, _mm256_set1_epi8(0x7f), _mm256_packs_epi16(nans[0], nans[1]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute4x64_epi64(full, 0xd8));
}

template <DType T>
KVSTASH_AVX2 void Fp8QuantizeT(const void* src, size_t n, float s, uint8_t* dst) {
  const __m256 sv = _mm256_set1_ps(s);
  size_t i = 0;
  if (T == DType::kBf16 && s > 0.0f && s < kInf) {
    const uint16_t* x = static_cast<const uint16_t*>(src);
    for (; i + 32 <= n; i += 32) Fp8QuantizeBf16x32(x + i, sv, dst + i);
  } else {
    for (; i + 32 <= n; i += 32) Fp8Quantize32<T>(src, i, sv, dst);
  }
  reference::Fp8Quantize(T, Advance(src, T, i), n - i, s, dst + i);
}

// 16 E4M3 codes as fp16 bits of (value / 256): E4M3's exponent and mantissa
// fields, shifted into fp16's, give exactly that for every code, normal or
// subnormal, except the NaN codes 0x7F/0xFF, which give 1.875 and are
// flagged in *nan (16-bit lanes).
KVSTASH_AVX2 inline __m256i E4m3ToScaledHalf16(const uint8_t* q, __m256i* nan) {
  const __m256i wide = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  const __m256i h = _mm256_and_si256(_mm256_slli_epi16(wide, 7), _mm256_set1_epi16(-0x4080));
  *nan =
      _mm256_cmpeq_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x7fff)), _mm256_set1_epi16(0x3f80));
  return h;
}

// Fp8Dequantize of 16 codes as (q / 256) * s256, with s256 = 256 s: the same
// real product as DecodeE4m3(q) * s, rounded once, so the same bits (the
// caller checks that 256 s is finite).
template <DType T, bool kStream>
KVSTASH_AVX2 void Fp8Dequantize16(const uint8_t* q, __m256 s256, void* dst) {
  __m256i nan;
  __m256i h = E4m3ToScaledHalf16(q, &nan);
  if constexpr (T == DType::kF32) {
    // NaN codes become the fp16 NaN 0x7E00 with sign, which widens to
    // DecodeE4m3's 0x7FC00000; NaN * s keeps it.
    h = _mm256_add_epi16(h, _mm256_and_si256(nan, _mm256_set1_epi16(0x3e80)));
  }
  const __m256 v0 = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), s256);
  const __m256 v1 = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), s256);
  if constexpr (T == DType::kF32) {
    Store32B<kStream>(dst, AsInt(v0));
    Store32B<kStream>(static_cast<float*>(dst) + 8, AsInt(v1));
  } else {
    __m256i out;
    if constexpr (T == DType::kBf16) {
      out = _mm256_permute4x64_epi64(_mm256_packus_epi32(Bf16BitsNoNan8(v0), Bf16BitsNoNan8(v1)),
                                     0xd8);
    } else {
      out = _mm256_set_m128i(_mm256_cvtps_ph(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                             _mm256_cvtps_ph(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // A NaN code dequantises to NaN, stored as 0x7FFF.
    Store32B<kStream>(dst, _mm256_blendv_epi8(out, _mm256_set1_epi16(0x7fff), nan));
  }
}

template <DType T, bool kStream>
KVSTASH_AVX2 size_t Fp8DequantizeVectors(const uint8_t* src, size_t n, __m256 s256, void* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) Fp8Dequantize16<T, kStream>(src + i, s256, Advance(dst, T, i));
  return i;
}

template <DType T>
KVSTASH_AVX2 void Fp8DequantizeT(const uint8_t* src, size_t n, float s, void* dst) {
  // A finite s keeps the products non-NaN (the 16-bit stores rely on it).
  const float s256 = s * 256.0f;
  size_t i = 0;
  if (std::isfinite(s256)) {
    const __m256 sv = _mm256_set1_ps(s256);
    // Only the f32 output is memory-bound enough to gain from streaming; the
    // 16-bit ones are bound by their conversions and would lose a little.
    if (T == DType::kF32 && UseStreamingStores(dst, n * DTypeSize(T))) {
      i = Fp8DequantizeVectors<T, T == DType::kF32>(src, n, sv, dst);
      _mm_sfence();
    } else {
      i = Fp8DequantizeVectors<T, false>(src, n, sv, dst);
    }
  }
  reference::Fp8Dequantize(src + i, n - i, s, T, Advance(dst, T, i));
}

}  // namespace

bool CpuHasAvx2F16c() {
  static const bool has = [] {
    __builtin_cpu_init();  // also checks that the OS saves the YMM state
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
    return __builtin_cpu_supports("avx2") && f16c;
  }();
  return has;
}

bool UseAvx2() { return CpuHasAvx2F16c() && !force_scalar.load(std::memory_order_relaxed); }

void ForceScalarForTesting(bool force) { force_scalar.store(force, std::memory_order_relaxed); }

KVSTASH_AVX2 float AbsMaxAvx2(DType t, const void* src, size_t n) {
  if (t == DType::kF32) return AbsMaxF32(static_cast<const float*>(src), n);
  const uint16_t bits = AbsMaxBits16(static_cast<const uint16_t*>(src), n);
  if (t == DType::kBf16) return bits > 0x7f80 ? BitsFloat(0x7fc00000u) : Bf16ToFloat(bits);
  return bits > 0x7c00 ? BitsFloat(0x7fc00000u) : HalfToFloat(bits);
}

KVSTASH_AVX2 void ConvertDTypeAvx2(DType from, const void* src, size_t n, DType to, void* dst) {
  if (from == to) {
    if (from == DType::kF32) {
      if (n > 0) std::memcpy(dst, src, n * sizeof(float));
    } else if (from == DType::kBf16) {
      Canonicalize16<0x7f80>(static_cast<const uint16_t*>(src), n, static_cast<uint16_t*>(dst));
    } else {
      Canonicalize16<0x7c00>(static_cast<const uint16_t*>(src), n, static_cast<uint16_t*>(dst));
    }
    return;
  }
  switch (from) {
    case DType::kF32:
      return ConvertFrom<DType::kF32>(src, n, to, dst);
    case DType::kBf16:
      return ConvertFrom<DType::kBf16>(src, n, to, dst);
    case DType::kF16:
      return ConvertFrom<DType::kF16>(src, n, to, dst);
  }
}

KVSTASH_AVX2 void Fp8QuantizeAvx2(DType t, const void* src, size_t n, float s, uint8_t* dst) {
  switch (t) {
    case DType::kF32:
      return Fp8QuantizeT<DType::kF32>(src, n, s, dst);
    case DType::kBf16:
      return Fp8QuantizeT<DType::kBf16>(src, n, s, dst);
    case DType::kF16:
      return Fp8QuantizeT<DType::kF16>(src, n, s, dst);
  }
}

KVSTASH_AVX2 void Fp8DequantizeAvx2(const uint8_t* src, size_t n, float s, DType t, void* dst) {
  switch (t) {
    case DType::kF32:
      return Fp8DequantizeT<DType::kF32>(src, n, s, dst);
    case DType::kBf16:
      return Fp8DequantizeT<DType::kBf16>(src, n, s, dst);
    case DType::kF16:
      return Fp8DequantizeT<DType::kF16>(src, n, s, dst);
  }
}

}  // namespace internal

// ------------------------------------------------------------- dispatch --

bool HasAvx2() { return internal::UseAvx2(); }

float AbsMax(DType t, const void* src, size_t n) {
  return internal::UseAvx2() ? internal::AbsMaxAvx2(t, src, n) : reference::AbsMax(t, src, n);
}

void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data,
                   uint8_t* scales) {
  if (internal::UseAvx2()) return internal::Nvfp4QuantizeAvx2(t, src, n, g_dec, data, scales);
  reference::Nvfp4Quantize(t, src, n, g_dec, data, scales);
}

void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst) {
  if (internal::UseAvx2()) return internal::Nvfp4DequantizeAvx2(data, scales, n, g_dec, t, dst);
  reference::Nvfp4Dequantize(data, scales, n, g_dec, t, dst);
}

void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst) {
  if (internal::UseAvx2()) return internal::Nvfp4DequantizeToFp8Avx2(data, scales, n, dst);
  reference::Nvfp4DequantizeToFp8(data, scales, n, dst);
}

void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales) {
  if (internal::UseAvx2()) return internal::Mxfp4QuantizeAvx2(t, src, n, mode, data, scales);
  reference::Mxfp4Quantize(t, src, n, mode, data, scales);
}

void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst) {
  if (internal::UseAvx2()) return internal::Mxfp4DequantizeAvx2(data, scales, n, t, dst);
  reference::Mxfp4Dequantize(data, scales, n, t, dst);
}

void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst) {
  if (internal::UseAvx2()) return internal::Fp8QuantizeAvx2(t, src, n, s, dst);
  reference::Fp8Quantize(t, src, n, s, dst);
}

void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst) {
  if (internal::UseAvx2()) return internal::Fp8DequantizeAvx2(src, n, s, t, dst);
  reference::Fp8Dequantize(src, n, s, t, dst);
}

void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst) {
  if (internal::UseAvx2()) return internal::ConvertDTypeAvx2(from, src, n, to, dst);
  reference::ConvertDType(from, src, n, to, dst);
}

}  // namespace kvstash::kernels::fast
