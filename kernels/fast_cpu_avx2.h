// AVX2 (+F16C) building blocks of the fast CPU codec (fast_cpu*.cc). Each
// helper mirrors a scalar function of element.h / recipe.h bit for bit, using
// only IEEE round-to-nearest operations and integer bit work: no FMA (the
// target is "avx2,f16c", never "fma") and no reciprocal approximations.
// Callers must have checked fast::internal::UseAvx2(). Not a public header.
//
// Thread safety: pure functions.
#ifndef KVSTASH_KERNELS_FAST_CPU_AVX2_H_
#define KVSTASH_KERNELS_FAST_CPU_AVX2_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/codec.h"

#define KVSTASH_AVX2 __attribute__((target("avx2,f16c")))

// Fully unrolls a short loop over vector registers: GCC at -O2 would keep
// such register arrays on the stack.
#if defined(__clang__)
#define KVSTASH_UNROLL _Pragma("unroll")
#else
#define KVSTASH_UNROLL _Pragma("GCC unroll 16")
#endif

namespace kvstash::kernels::fast::avx2 {

KVSTASH_AVX2 inline __m256i Set1(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
KVSTASH_AVX2 inline __m256i AsInt(__m256 x) { return _mm256_castps_si256(x); }
KVSTASH_AVX2 inline __m256 AsFloat(__m256i x) { return _mm256_castsi256_ps(x); }
KVSTASH_AVX2 inline __m256i AbsBits(__m256 x) {
  return _mm256_and_si256(AsInt(x), Set1(0x7fffffffu));
}

// 8 elements of dtype T from element offset i, widened exactly to fp32. F16C
// quiets signalling-NaN halves; only ConvertDType(f16 -> f32) can see that.
template <DType T>
KVSTASH_AVX2 inline __m256 Load8(const void* src, size_t i) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(src) + i);
  } else {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i));
    if constexpr (T == DType::kBf16) {
      return AsFloat(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    } else {
      return _mm256_cvtph_ps(h);
    }
  }
}

// Outputs from this size up bypass the caches (non-temporal stores): a
// tensor this large would only evict the caches' contents, and skipping the
// read-for-ownership of every line makes dequantise about a third faster.
// Small outputs, which the caller is likely to read next, stay cached.
inline constexpr size_t kStreamBytes = size_t{8} << 20;

// Whether an output of `bytes` at dst should use the streaming stores below
// (which need 16-byte alignment). Call _mm_sfence() after streaming.
inline bool UseStreamingStores(const void* dst, size_t bytes) {
  return bytes >= kStreamBytes && reinterpret_cast<uintptr_t>(dst) % 16 == 0;
}

// Stores of 16 and 32 bytes: plain, or non-temporal (dst 16-byte aligned).
template <bool kStream>
KVSTASH_AVX2 inline void Store16B(void* dst, __m128i v) {
  if constexpr (kStream) {
    _mm_stream_si128(static_cast<__m128i*>(dst), v);
  } else {
    _mm_storeu_si128(static_cast<__m128i*>(dst), v);
  }
}
template <bool kStream>
KVSTASH_AVX2 inline void Store32B(void* dst, __m256i v) {
  if constexpr (kStream) {
    _mm_stream_si128(static_cast<__m128i*>(dst), _mm256_castsi256_si128(v));
    _mm_stream_si128(static_cast<__m128i*>(dst) + 1, _mm256_extracti128_si256(v, 1));
  } else {
    _mm256_storeu_si256(static_cast<__m256i*>(dst), v);
  }
}

// FloatToBf16 on 8 non-NaN lanes (round to nearest even); each result in
// the low half of a 32-bit lane.
KVSTASH_AVX2 inline __m256i Bf16BitsNoNan8(__m256 x) {
  const __m256i u = AsInt(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), Set1(1));
  return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, Set1(0x7fffu)), lsb), 16);
}

// FloatToBf16 on 8 lanes: NaN becomes 0x7FFF.
KVSTASH_AVX2 inline __m256i Bf16Bits8(__m256 x) {
  const __m256i nan = AsInt(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(Bf16BitsNoNan8(x), Set1(0x7fffu), nan);
}

// FloatToHalf on 8 lanes. F16C rounds to nearest even with gradual underflow
// and overflow to Inf, as FloatToHalf does, but keeps NaN payloads: the float
// NaN 0x7FFFFFFF converts to the canonical 0x7FFF, so every NaN becomes that.
KVSTASH_AVX2 inline __m128i HalfBits8(__m256 x) {
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  x = _mm256_blendv_ps(x, AsFloat(Set1(0x7fffffffu)), nan);
  return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// Stores 16 fp32 values (x0 = elements i..i+7, x1 = i+8..i+15) as dtype T.
template <DType T>
KVSTASH_AVX2 inline void Store16(void* dst, size_t i, __m256 x0, __m256 x1) {
  if constexpr (T == DType::kF32) {
    _mm256_storeu_ps(static_cast<float*>(dst) + i, x0);
    _mm256_storeu_ps(static_cast<float*>(dst) + i + 8, x1);
  } else {
    uint16_t* out = static_cast<uint16_t*>(dst) + i;
    if constexpr (T == DType::kBf16) {
      const __m256i packed = _mm256_packus_epi32(Bf16Bits8(x0), Bf16Bits8(x1));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute4x64_epi64(packed, 0xd8));
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), HalfBits8(x0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8), HalfBits8(x1));
    }
  }
}

// Low bytes of the eight 32-bit lanes of v (each < 256) as a 64-bit value.
KVSTASH_AVX2 inline __m128i LowBytes8(__m256i v) {
  const __m256i pick =
      _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i b = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick),
                                                _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
  return _mm256_castsi256_si128(b);
}

// EncodeE4m3 on 8 lanes without the sign: codes 0..0x7E, NaN 0x7F, in
// 32-bit lanes. With |x| clamped to 448 and e = 2^E = max(2^floor(log2|x|),
// 2^-6), the E4M3 step is e/8 (the subnormal grid below 2^-6); adding
// M = 2^20 * e rounds |x| to a multiple k of e/8 in one IEEE addition, ties
// to even, and the code is k + 8E + 48. M is built with 8E + 48 (an even
// number, so ties still go to even codes) in its low bits, where the sum
// leaves the code.
// kPlain: x is known to be >= 0 and not NaN (NaN lanes then give 0x7E).
template <bool kPlain = false>
KVSTASH_AVX2 inline __m256i EncodeE4m3Mag8(__m256 x) {
  const __m256i a = kPlain ? AsInt(x) : AbsBits(x);
  const __m256i ac = _mm256_min_epu32(a, Set1(0x43e00000u));  // 448; NaN and Inf too
  const __m256i e = _mm256_max_epi32(_mm256_and_si256(ac, Set1(0x7f800000u)), Set1(0x3c800000u));
  // bits(M) = e + (20 << 23) + 8 (E + 127) - 968.
  const __m256i magic =
      _mm256_add_epi32(_mm256_add_epi32(e, _mm256_srli_epi32(e, 20)), Set1((20u << 23) - 968u));
  const __m256i code =
      _mm256_and_si256(AsInt(_mm256_add_ps(AsFloat(ac), AsFloat(magic))), Set1(0x7fu));
  if constexpr (kPlain) return code;
  // NaN clamped to 448 (0x7E); one more gives 0x7F.
  return _mm256_sub_epi32(code, _mm256_cmpgt_epi32(a, Set1(0x7f800000u)));
}

// DecodeE4m3 on 8 lanes of codes 0..255.
KVSTASH_AVX2 inline __m256 DecodeE4m3x8(__m256i code) {
  const __m256i mag = _mm256_and_si256(code, Set1(0x7fu));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(code, Set1(0x80u)), 24);
  __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(mag, 20), Set1(120u << 23));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(mag), _mm256_set1_ps(0.001953125f));
  bits = _mm256_blendv_epi8(bits, AsInt(sub), _mm256_cmpgt_epi32(Set1(8), mag));
  bits = _mm256_blendv_epi8(bits, Set1(0x7fc00000u), _mm256_cmpeq_epi32(mag, Set1(0x7fu)));
  return AsFloat(_mm256_or_si256(bits, sign));
}

// Lane-wise maxima after pairing the lanes of a and b, the steps of a
// transposing reduction: 32-bit lanes (MaxPairs32/64) or 16-bit ones
// (MaxPairsU16, pairing 16-, 32- or 64-bit units).
KVSTASH_AVX2 inline __m256i MaxPairs32(__m256i a, __m256i b) {
  return _mm256_max_epu32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
}
KVSTASH_AVX2 inline __m256i MaxPairs64(__m256i a, __m256i b) {
  return _mm256_max_epu32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
}
template <int kWidth>
KVSTASH_AVX2 inline __m256i MaxPairsU16(__m256i a, __m256i b) {
  if constexpr (kWidth == 16) {
    return _mm256_max_epu16(_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
  } else if constexpr (kWidth == 32) {
    return _mm256_max_epu16(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  } else {
    return _mm256_max_epu16(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
  }
}

// Lane b of the result is the max over the 32-bit lanes of m[b]. The inputs
// are magnitude bits (sign cleared), whose integer order is the float order
// with NaN above Inf, so this is MaxAbsNan up to the NaN payload.
KVSTASH_AVX2 inline __m256i HMax8(const __m256i m[8]) {
  const __m256i lo = MaxPairs64(MaxPairs32(m[0], m[1]), MaxPairs32(m[2], m[3]));
  const __m256i hi = MaxPairs64(MaxPairs32(m[4], m[5]), MaxPairs32(m[6], m[7]));
  return _mm256_max_epu32(_mm256_permute2x128_si256(lo, hi, 0x20),
                          _mm256_permute2x128_si256(lo, hi, 0x31));
}

// The same over 16-bit lanes: element b is the max over m[b].
KVSTASH_AVX2 inline __m128i HMax8x16(const __m256i m[8]) {
  const __m256i lo = MaxPairsU16<32>(MaxPairsU16<16>(m[0], m[1]), MaxPairsU16<16>(m[2], m[3]));
  const __m256i hi = MaxPairsU16<32>(MaxPairsU16<16>(m[4], m[5]), MaxPairsU16<16>(m[6], m[7]));
  const __m256i r = MaxPairsU16<64>(lo, hi);
  return _mm_max_epu16(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

// Block maxima |x| of 8 consecutive blocks of kBlock elements from element
// `base`, one block per lane, NaN-propagating (any NaN payload). 16-bit
// dtypes reduce in 16 bits: their magnitude bits order like their values.
template <DType T, int kBlock>
KVSTASH_AVX2 inline __m256 BlockAbsMax8(const void* src, size_t base) {
  __m256i m[8];
  if constexpr (T == DType::kF32) {
    KVSTASH_UNROLL
    for (int b = 0; b < 8; ++b) {
      const size_t at = base + static_cast<size_t>(kBlock * b);
      m[b] = AbsBits(Load8<T>(src, at));
      KVSTASH_UNROLL
      for (int v = 8; v < kBlock; v += 8)
        m[b] = _mm256_max_epu32(m[b], AbsBits(Load8<T>(src, at + v)));
    }
    return AsFloat(HMax8(m));
  } else {
    const uint16_t* x = static_cast<const uint16_t*>(src) + base;
    const __m256i mask = _mm256_set1_epi16(0x7fff);
    KVSTASH_UNROLL
    for (int b = 0; b < 8; ++b) {
      m[b] = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + kBlock * b)),
                              mask);
      KVSTASH_UNROLL
      for (int v = 16; v < kBlock; v += 16) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + kBlock * b + v));
        m[b] = _mm256_max_epu16(m[b], _mm256_and_si256(w, mask));
      }
    }
    const __m128i r = HMax8x16(m);
    if constexpr (T == DType::kBf16)
      return AsFloat(_mm256_slli_epi32(_mm256_cvtepu16_epi32(r), 16));
    return _mm256_cvtph_ps(r);
  }
}

// 16 elements from element i as two fp32 vectors. f32 and f16 give elements
// i..i+7 and i+8..i+15; bf16 widens by interleaving with zeros and gives
// {0-3, 8-11} and {4-7, 12-15}, which StorePacked64 puts back in order.
template <DType T>
KVSTASH_AVX2 inline void Load16(const void* src, size_t i, __m256* a, __m256* b) {
  if constexpr (T == DType::kBf16) {
    const __m256i v =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(src) + i));
    *a = AsFloat(_mm256_unpacklo_epi16(_mm256_setzero_si256(), v));
    *b = AsFloat(_mm256_unpackhi_epi16(_mm256_setzero_si256(), v));
  } else {
    *a = Load8<T>(src, i);
    *b = Load8<T>(src, i + 8);
  }
}

// y clamped to [-6, 6], NaN -> +6 (MINPS returns its second operand when one
// is NaN), so that the E2M1 code of the result equals EncodeE2m1(y).
KVSTASH_AVX2 inline __m256 ClampE2m1(__m256 y) {
  return _mm256_max_ps(_mm256_min_ps(y, _mm256_set1_ps(6.0f)), _mm256_set1_ps(-6.0f));
}

// E2M1 magnitude code (0..7) of y, which must not be NaN. With |y| clamped
// to 6 and e = 2^j = max(2^floor(log2|y|), 1), the E2M1 step is e/2: adding
// M = 2^22 * e rounds |y| to a multiple k of e/2 in one IEEE addition, ties
// to even (as RoundHalfEven(|y| * mul) does), and the code is k + 2j. M
// carries 2j (even: ties still go to even codes) in its low bits, where the
// sum leaves the code. floor(|y|) (0..6) picks M from an 8-lane table.
// kNonNegative: y is known to be >= 0 (its sign bit clear).
template <bool kNonNegative = false>
KVSTASH_AVX2 inline __m256i E2m1Magnitude(__m256 y) {
  const __m256i magic = _mm256_setr_epi32(149 << 23, 149 << 23, (150 << 23) + 2, (150 << 23) + 2,
                                          (151 << 23) + 4, (151 << 23) + 4, (151 << 23) + 4, 0);
  const __m256i bits = kNonNegative ? AsInt(y) : AbsBits(y);
  const __m256i a = _mm256_min_epu32(bits, Set1(0x40c00000u));  // 6.0f
  const __m256i m = _mm256_permutevar8x32_epi32(magic, _mm256_cvttps_epi32(AsFloat(a)));
  return _mm256_and_si256(AsInt(_mm256_add_ps(AsFloat(a), AsFloat(m))), Set1(7));
}

// Sign bytes of 32 elements (four vectors of y): signed saturation carries
// the sign bit of each value to bit 7 of its byte, in the order of the codes
// packed by PackQuarter.
KVSTASH_AVX2 inline __m256i SignBytes(const __m256 y[4]) {
  return _mm256_packs_epi16(_mm256_packs_epi32(AsInt(y[0]), AsInt(y[1])),
                            _mm256_packs_epi32(AsInt(y[2]), AsInt(y[3])));
}

// Codes of 32 elements (four vectors of magnitudes) with the signs of
// SignBytes as 16 bytes, two codes per byte, in 16-bit lanes.
KVSTASH_AVX2 inline __m256i PackQuarter(const __m256i mag[4], __m256i signs) {
  const __m256i codes =
      _mm256_packus_epi16(_mm256_packus_epi32(mag[0], mag[1]), _mm256_packus_epi32(mag[2], mag[3]));
  const __m256i full =
      _mm256_or_si256(codes, _mm256_and_si256(_mm256_srli_epi16(signs, 4), _mm256_set1_epi8(0x08)));
  return _mm256_maddubs_epi16(full, _mm256_set1_epi16(0x1001));  // lo + 16 * hi
}

// Writes the 64 packed bytes of four PackQuarter results in element order.
// The packs work within 128-bit lanes: for bf16's load order that leaves
// 4-byte runs to permute; for the others 2-byte runs, permuted by a qword
// permute and an in-lane shuffle.
template <DType T>
KVSTASH_AVX2 inline void StorePacked64(const __m256i p[4], uint8_t* out) {
  const __m256i words = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,  //
                                         0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
  KVSTASH_UNROLL
  for (int r = 0; r < 2; ++r) {
    const __m256i bytes = _mm256_packus_epi16(p[2 * r], p[2 * r + 1]);
    __m256i ordered;
    if constexpr (T == DType::kBf16) {
      ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    } else {
      ordered = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(bytes, 0xd8), words);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * r), ordered);
  }
}

// Quantises 128 elements from element `base` to E2M1 and stores 64 packed
// bytes at `out`: the 16 elements of group g (0..7) are multiplied by
// table[scales[g >> kShift]] first. kNanSafe handles NaN products (poisoned
// blocks, 0 * Inf); without it the products must not be NaN, and for bf16
// they are formed from |x| with the signs taken from the input (the
// multipliers are then >= 0, so the product has the sign of x).
template <DType T, int kShift, bool kNanSafe>
KVSTASH_AVX2 inline void EncodePack128(const void* src, size_t base, const uint8_t* scales,
                                       const float* table, uint8_t* out) {
  constexpr bool kRawSigns = T == DType::kBf16 && !kNanSafe;
  const uint16_t* x16 = static_cast<const uint16_t*>(src) + base;
  __m256i p[4];
  KVSTASH_UNROLL
  for (int q = 0; q < 4; ++q) {
    __m256 y[4];
    __m256i mag[4], raw[2];
    KVSTASH_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256 s = _mm256_broadcast_ss(table + scales[(2 * q + h) >> kShift]);
      if constexpr (kRawSigns) {
        raw[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x16 + 32 * q + 16 * h));
        const __m256i m = _mm256_and_si256(raw[h], _mm256_set1_epi16(0x7fff));
        y[2 * h] = AsFloat(_mm256_unpacklo_epi16(_mm256_setzero_si256(), m));
        y[2 * h + 1] = AsFloat(_mm256_unpackhi_epi16(_mm256_setzero_si256(), m));
      } else {
        Load16<T>(src, base + 32 * q + 16 * h, &y[2 * h], &y[2 * h + 1]);
      }
      y[2 * h] = _mm256_mul_ps(y[2 * h], s);
      y[2 * h + 1] = _mm256_mul_ps(y[2 * h + 1], s);
    }
    KVSTASH_UNROLL
    for (int v = 0; v < 4; ++v) {
      if constexpr (kNanSafe) y[v] = ClampE2m1(y[v]);
      mag[v] = E2m1Magnitude<kRawSigns>(y[v]);
    }
    p[q] = PackQuarter(mag, kRawSigns ? _mm256_packs_epi16(raw[0], raw[1]) : SignBytes(y));
  }
  StorePacked64<T>(p, out);
}

}  // namespace kvstash::kernels::fast::avx2

#endif  // KVSTASH_KERNELS_FAST_CPU_AVX2_H_
