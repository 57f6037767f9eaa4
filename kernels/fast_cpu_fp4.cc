// AVX2 NVFP4 and MXFP4 kernels (fast_cpu_internal.h), bit-identical to
// reference.cc.
//
// Quantise takes 8 blocks per step, one lane per block for the block maximum
// and the scale byte (so the division by 6 runs 8-wide), in chunks of a few
// steps: first the scale bytes of a chunk, then its codes, each block's
// multiplier (NVFP4 os, MXFP4 2^-e) looked up by scale byte. A chunk where a
// product x * multiplier could be NaN (a NaN block, or os = Inf/0 from an
// extreme g_dec) takes the NaN-safe encoder. Leftover blocks (fewer than 8)
// go to the reference.
//
// Dequantise is a table lookup: a 16-element group decodes to one of 16
// values fixed by its scale byte, computed with the reference's fp32
// operations in the reference's order, then converted to the output dtype.
// Large inputs build the table for all 256 scale bytes once per call; small
// ones build one row per group. Outputs of kStreamBytes and more are written
// with non-temporal stores.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/element.h"
#include "kernels/fast_cpu_avx2.h"
#include "kernels/fast_cpu_internal.h"
#include "kernels/recipe.h"
#include "kernels/reference.h"

namespace kvstash::kernels::fast::internal {
namespace {

using namespace avx2;  // NOLINT(build/namespaces): the kernels' vocabulary.

constexpr size_t kGroup = 16;  // elements per dequantise table row: an NVFP4 block
constexpr float kInf = std::numeric_limits<float>::infinity();

const void* Advance(const void* src, DType t, size_t elements) {
  return static_cast<const uint8_t*>(src) + elements * DTypeSize(t);
}

// ------------------------------------------------------------- quantise --

// Steps of 8 blocks per chunk: the second pass reads the chunk from L1.
constexpr size_t kChunkSteps = 8;

// Nvfp4OutScale(sf, g_dec) for sf = 0..127, and which scales are "unsafe"
// for the plain encoder because x * os can be NaN: os = Inf (sfv * g_dec
// below 2^-128 or 0; then 0 * os is NaN), os = 0 for sf != 0 (sfv * g_dec =
// Inf; then Inf * os is NaN), and sf = 0x7F (os NaN). For sf in 1..0x7E, os
// falls as sf grows, so the safe ones are a range [lo, hi].
struct OutScales {
  alignas(32) float os[128];
  int lo = 1, hi = 0x7e;
};

KVSTASH_AVX2 void BuildOutScales(float g_dec, OutScales* t) {
  const __m256 g = _mm256_set1_ps(g_dec);
  for (int c = 0; c < 128; c += 8) {
    const __m256 sfv =
        DecodeE4m3x8(_mm256_add_epi32(Set1(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    const __m256 zero = _mm256_cmp_ps(sfv, _mm256_setzero_ps(), _CMP_EQ_OQ);
    const __m256 os = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(sfv, g));
    _mm256_store_ps(t->os + c, _mm256_andnot_ps(zero, os));
  }
  while (t->lo <= 0x7e && !(t->os[t->lo] < kInf)) ++t->lo;
  while (t->hi >= 1 && !(t->os[t->hi] > 0.0f)) --t->hi;
}

// Scale bytes of the 8 NVFP4 blocks from element `base` (recipe R); returns
// the lanes whose scale is unsafe.
template <DType T>
KVSTASH_AVX2 __m256i Nvfp4Scales8(const void* src, size_t base, __m256 g_enc, const OutScales& t,
                                  uint8_t* sf_out) {
  const __m256 vmax = BlockAbsMax8<T, kNvfp4Block>(src, base);
  // sf = e4m3((vmax / 6) * g_enc): a true division, as Nvfp4ScaleCode does.
  // The operand is >= 0 or NaN, so the code has no sign.
  const __m256i sf =
      EncodeE4m3Mag8(_mm256_mul_ps(_mm256_div_ps(vmax, _mm256_set1_ps(6.0f)), g_enc));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(sf_out), LowBytes8(sf));
  const __m256i below = _mm256_andnot_si256(_mm256_cmpeq_epi32(sf, _mm256_setzero_si256()),
                                            _mm256_cmpgt_epi32(Set1(t.lo), sf));
  return _mm256_or_si256(below, _mm256_cmpgt_epi32(sf, Set1(t.hi)));
}

template <DType T>
KVSTASH_AVX2 void Nvfp4QuantizeT(const void* src, size_t n, float g_dec, uint8_t* data,
                                 uint8_t* scales) {
  const float g_enc = 1.0f / g_dec;
  const __m256 g_enc_v = _mm256_set1_ps(g_enc);
  OutScales table;
  BuildOutScales(g_dec, &table);
  constexpr size_t kStep = 8 * kNvfp4Block;
  const size_t steps = n / kStep;
  for (size_t first = 0; first < steps; first += kChunkSteps) {
    const size_t count = std::min(kChunkSteps, steps - first);
    __m256i unsafe = _mm256_setzero_si256();
    for (size_t s = first; s < first + count; ++s) {
      unsafe =
          _mm256_or_si256(unsafe, Nvfp4Scales8<T>(src, s * kStep, g_enc_v, table, scales + s * 8));
    }
    const bool nan_safe = !_mm256_testz_si256(unsafe, unsafe);
    for (size_t s = first; s < first + count; ++s) {
      if (nan_safe) {
        EncodePack128<T, 0, true>(src, s * kStep, scales + s * 8, table.os, data + s * kStep / 2);
      } else {
        EncodePack128<T, 0, false>(src, s * kStep, scales + s * 8, table.os, data + s * kStep / 2);
      }
    }
  }
  const size_t done = steps * kStep;
  if (done < n) {
    reference::Nvfp4Quantize(T, Advance(src, T, done), n - done, g_dec, data + done / 2,
                             scales + done / kNvfp4Block);
  }
}

// MxScaleFloor on 8 lanes of amax magnitude bits.
KVSTASH_AVX2 inline __m256i MxScaleFloorX8(__m256i amax) {
  const __m256i b = _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(amax, 23), Set1(2)),
                                     _mm256_setzero_si256());
  return _mm256_blendv_epi8(b, Set1(0xff), _mm256_cmpgt_epi32(amax, Set1(0x7f800000u)));
}

// MxScaleRceil on 8 lanes of amax magnitude bits (Inf falls out as 254).
KVSTASH_AVX2 inline __m256i MxScaleRceilX8(__m256i amax) {
  const __m256i u = AsInt(_mm256_div_ps(AsFloat(amax), _mm256_set1_ps(6.0f)));
  const __m256i biased = _mm256_srli_epi32(u, 23);
  const __m256i man = _mm256_and_si256(u, Set1(0x7fffffu));
  // Normal: biased + (man != 0), at most 254.
  __m256i b = _mm256_add_epi32(_mm256_add_epi32(biased, Set1(1)),
                               _mm256_cmpeq_epi32(man, _mm256_setzero_si256()));
  b = _mm256_min_epi32(b, Set1(254));
  // Subnormal (or zero) amax / 6: 2^-127 covers t <= 2^-127, else 2^-126.
  const __m256i sub = _mm256_and_si256(_mm256_cmpgt_epi32(man, Set1(0x400000u)), Set1(1));
  b = _mm256_blendv_epi8(b, sub, _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
  return _mm256_blendv_epi8(b, Set1(0xff), _mm256_cmpgt_epi32(amax, Set1(0x7f800000u)));
}

// InverseE8m0 of every scale byte.
struct InverseScales {
  alignas(32) float inv[256];
  InverseScales() {
    for (int b = 0; b < 256; ++b) inv[b] = InverseE8m0(static_cast<uint8_t>(b));
  }
};

const InverseScales& Inverses() {
  static const InverseScales table;  // trivially destructible
  return table;
}

// Scale bytes of the 8 MXFP4 blocks from element `base`; returns the lanes
// of NaN blocks (scale 0xFF, multiplier NaN).
template <DType T, MxScaleMode kMode>
KVSTASH_AVX2 __m256i Mxfp4Scales8(const void* src, size_t base, uint8_t* sb_out) {
  const __m256i amax = AsInt(BlockAbsMax8<T, kMxfp4Block>(src, base));
  const __m256i sb = kMode == MxScaleMode::kFloor ? MxScaleFloorX8(amax) : MxScaleRceilX8(amax);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(sb_out), LowBytes8(sb));
  return _mm256_cmpeq_epi32(sb, Set1(0xff));
}

template <DType T, MxScaleMode kMode>
KVSTASH_AVX2 void Mxfp4QuantizeT(const void* src, size_t n, uint8_t* data, uint8_t* scales) {
  const float* inv = Inverses().inv;
  constexpr size_t kStep = 8 * kMxfp4Block;
  const size_t steps = n / kStep;
  for (size_t first = 0; first < steps; first += kChunkSteps) {
    const size_t count = std::min(kChunkSteps, steps - first);
    __m256i unsafe = _mm256_setzero_si256();
    for (size_t s = first; s < first + count; ++s) {
      unsafe = _mm256_or_si256(unsafe, Mxfp4Scales8<T, kMode>(src, s * kStep, scales + s * 8));
    }
    const bool nan_safe = !_mm256_testz_si256(unsafe, unsafe);
    for (size_t s = first; s < first + count; ++s) {
      for (size_t half = 0; half < 2; ++half) {
        const size_t base = s * kStep + 128 * half;
        const uint8_t* sb = scales + s * 8 + 4 * half;
        if (nan_safe) {
          EncodePack128<T, 1, true>(src, base, sb, inv, data + base / 2);
        } else {
          EncodePack128<T, 1, false>(src, base, sb, inv, data + base / 2);
        }
      }
    }
  }
  const size_t done = steps * kStep;
  if (done < n) {
    reference::Mxfp4Quantize(T, Advance(src, T, done), n - done, kMode, data + done / 2,
                             scales + done / kMxfp4Block);
  }
}

// ----------------------------------------------------------- dequantise --

// The 16 decoded values of one scale: lo for codes 0..7, hi for 8..15.
struct Row {
  __m256 lo, hi;
};

KVSTASH_AVX2 inline Row E2m1Values() {
  const __m256 lo = _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f);
  return {lo, _mm256_xor_ps(lo, _mm256_set1_ps(-0.0f))};
}

// Nvfp4DecodeValue for all 16 codes: (e2m1 * sfv) * g_dec.
KVSTASH_AVX2 inline Row Nvfp4Row(uint8_t sf, float g_dec) {
  const Row e = E2m1Values();
  const __m256 sfv = _mm256_set1_ps(DecodeE4m3(sf));
  const __m256 g = _mm256_set1_ps(g_dec);
  return {_mm256_mul_ps(_mm256_mul_ps(e.lo, sfv), g), _mm256_mul_ps(_mm256_mul_ps(e.hi, sfv), g)};
}

// DecodeE2m1(c) * DecodeE8m0(sb) for all 16 codes.
KVSTASH_AVX2 inline Row Mxfp4Row(uint8_t sb) {
  const Row e = E2m1Values();
  const __m256 scale = _mm256_set1_ps(DecodeE8m0(sb));
  return {_mm256_mul_ps(e.lo, scale), _mm256_mul_ps(e.hi, scale)};
}

struct Nvfp4RowMaker {
  float g_dec;
  KVSTASH_AVX2 Row operator()(uint8_t sf) const { return Nvfp4Row(sf, g_dec); }
};
struct Mxfp4RowMaker {
  KVSTASH_AVX2 Row operator()(uint8_t sb) const { return Mxfp4Row(sb); }
};

// Per-row lookup tables: fp32 values, or the low and high bytes of 16-bit
// ones (for byte shuffles). One row per scale byte, or per group for small n.
struct F32Table {
  alignas(32) float f32[256][16];
};
struct U16Table {
  alignas(16) uint8_t lo[256][16];
  alignas(16) uint8_t hi[256][16];
};
template <DType T>
using TableFor = std::conditional_t<T == DType::kF32, F32Table, U16Table>;

template <DType T>
KVSTASH_AVX2 void StoreRow(const Row& v, TableFor<T>* table, size_t r) {
  if constexpr (T == DType::kF32) {
    _mm256_store_ps(table->f32[r], v.lo);
    _mm256_store_ps(table->f32[r] + 8, v.hi);
  } else {
    __m256i h;  // the 16 values as 16-bit, in code order
    if constexpr (T == DType::kBf16) {
      h = _mm256_permute4x64_epi64(_mm256_packus_epi32(Bf16Bits8(v.lo), Bf16Bits8(v.hi)), 0xd8);
    } else {
      h = _mm256_set_m128i(HalfBits8(v.hi), HalfBits8(v.lo));
    }
    const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,  //
                                           0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i planes = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(h, split), 0xd8);
    _mm_store_si128(reinterpret_cast<__m128i*>(table->lo[r]), _mm256_castsi256_si128(planes));
    _mm_store_si128(reinterpret_cast<__m128i*>(table->hi[r]), _mm256_extracti128_si256(planes, 1));
  }
}

// Codes of one group (8 data bytes), one per byte in element order.
KVSTASH_AVX2 inline __m128i Nibbles16(const uint8_t* d) {
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(d));
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm_unpacklo_epi8(_mm_and_si128(raw, mask), _mm_and_si128(_mm_srli_epi16(raw, 4), mask));
}

// Codes of two groups (16 data bytes): 128-bit lane k holds group k.
KVSTASH_AVX2 inline __m256i Nibbles32(const uint8_t* d) {
  const __m256i raw = _mm256_permute4x64_epi64(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d))), 0x50);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  return _mm256_unpacklo_epi8(_mm256_and_si256(raw, mask),
                              _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask));
}

// 16 fp32 outputs of one group: each 4-bit code selects a lane (vpermps uses
// its low 3 bits) and bit 3, moved to the sign position, picks lo or hi.
template <bool kStream>
KVSTASH_AVX2 inline void LookupF32(const float* row, const uint8_t* d, float* out) {
  const __m256 lo = _mm256_load_ps(row);
  const __m256 hi = _mm256_load_ps(row + 8);
  const __m256i right = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i left = _mm256_setr_epi32(28, 24, 20, 16, 12, 8, 4, 0);
  KVSTASH_UNROLL
  for (int h = 0; h < 2; ++h) {
    uint32_t w;
    std::memcpy(&w, d + 4 * h, sizeof(w));
    const __m256i word = Set1(w);
    const __m256i idx = _mm256_srlv_epi32(word, right);
    const __m256 sel = AsFloat(_mm256_sllv_epi32(word, left));
    const __m256 v =
        _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx), sel);
    Store32B<kStream>(out + 8 * h, AsInt(v));
  }
}

// Rows a and b of a 16-byte table in the low and high 128-bit lanes.
KVSTASH_AVX2 inline __m256i TwoRows(const uint8_t (&plane)[256][16], size_t a, size_t b) {
  return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(plane[b]),
                             reinterpret_cast<const __m128i*>(plane[a]));
}

// 32 16-bit outputs of two groups with rows r0 and r1.
template <bool kStream>
KVSTASH_AVX2 inline void Lookup16Bit2(const U16Table& table, size_t r0, size_t r1, const uint8_t* d,
                                      uint16_t* out) {
  const __m256i nib = Nibbles32(d);
  const __m256i lo = _mm256_shuffle_epi8(TwoRows(table.lo, r0, r1), nib);
  const __m256i hi = _mm256_shuffle_epi8(TwoRows(table.hi, r0, r1), nib);
  const __m256i first = _mm256_unpacklo_epi8(lo, hi);  // elements 0..7 of each group
  const __m256i second = _mm256_unpackhi_epi8(lo, hi);
  Store32B<kStream>(out, _mm256_permute2x128_si256(first, second, 0x20));
  Store32B<kStream>(out + 16, _mm256_permute2x128_si256(first, second, 0x31));
}

template <bool kStream>
KVSTASH_AVX2 inline void Lookup16Bit1(const U16Table& table, size_t r, const uint8_t* d,
                                      uint16_t* out) {
  const __m128i nib = Nibbles16(d);
  const __m128i lo =
      _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(table.lo[r])), nib);
  const __m128i hi =
      _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(table.hi[r])), nib);
  Store16B<kStream>(out, _mm_unpacklo_epi8(lo, hi));
  Store16B<kStream>(out + 8, _mm_unpackhi_epi8(lo, hi));
}

// The lookups of `groups` groups; group g uses table row row_of(g).
template <DType T, bool kStream, typename RowOf>
KVSTASH_AVX2 void LookupAll(const TableFor<T>& table, RowOf row_of, const uint8_t* data,
                            size_t groups, void* dst) {
  if constexpr (T == DType::kF32) {
    float* out = static_cast<float*>(dst);
    for (size_t g = 0; g < groups; ++g) {
      LookupF32<kStream>(table.f32[row_of(g)], data + g * 8, out + g * kGroup);
    }
  } else {
    uint16_t* out = static_cast<uint16_t*>(dst);
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) {
      Lookup16Bit2<kStream>(table, row_of(g), row_of(g + 1), data + g * 8, out + g * kGroup);
    }
    if (g < groups) Lookup16Bit1<kStream>(table, row_of(g), data + g * 8, out + g * kGroup);
  }
}

// Dequantises n elements; group g uses the scale byte scales[g >> kShift].
// make_row(scale byte) gives the 16 fp32 values of a scale.
template <DType T, int kShift, typename MakeRow>
KVSTASH_AVX2 void DequantizeT(const uint8_t* data, const uint8_t* scales, size_t n,
                              MakeRow make_row, void* dst) {
  const size_t groups = n / kGroup;
  // Rows per group when there are at most 256 groups, else per scale byte.
  const bool per_group = groups <= 256;
  TableFor<T> table;
  for (size_t r = 0; r < (per_group ? groups : 256); ++r) {
    StoreRow<T>(make_row(per_group ? scales[r >> kShift] : static_cast<uint8_t>(r)), &table, r);
  }
  const auto row_of = [&](size_t g) -> size_t { return per_group ? g : scales[g >> kShift]; };
  if (UseStreamingStores(dst, n * DTypeSize(T))) {
    LookupAll<T, true>(table, row_of, data, groups, dst);
    _mm_sfence();
  } else {
    LookupAll<T, false>(table, row_of, data, groups, dst);
  }
}

// Nvfp4DecodeToFp8(code, DecodeE4m3(sf)) for every scale byte and code.
struct Fp8Table {
  alignas(16) uint8_t row[256][16];
  Fp8Table() {
    for (int sf = 0; sf < 256; ++sf) {
      const float sfv = DecodeE4m3(static_cast<uint8_t>(sf));
      for (int c = 0; c < 16; ++c) row[sf][c] = Nvfp4DecodeToFp8(static_cast<uint8_t>(c), sfv);
    }
  }
};

const Fp8Table& Fp8Rows() {
  static const Fp8Table table;  // trivially destructible
  return table;
}

// Nvfp4DequantizeToFp8: one byte shuffle per group, two groups per vector.
template <bool kStream>
KVSTASH_AVX2 void DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n,
                                  uint8_t* dst) {
  const Fp8Table& table = Fp8Rows();
  const size_t groups = n / kGroup;
  size_t g = 0;
  for (; g + 2 <= groups; g += 2) {
    const __m256i rows = TwoRows(table.row, scales[g], scales[g + 1]);
    Store32B<kStream>(dst + g * kGroup, _mm256_shuffle_epi8(rows, Nibbles32(data + g * 8)));
  }
  if (g < groups) {
    const __m128i row = _mm_load_si128(reinterpret_cast<const __m128i*>(table.row[scales[g]]));
    Store16B<kStream>(dst + g * kGroup, _mm_shuffle_epi8(row, Nibbles16(data + g * 8)));
  }
}

}  // namespace

KVSTASH_AVX2 void Nvfp4QuantizeAvx2(DType t, const void* src, size_t n, float g_dec, uint8_t* data,
                                    uint8_t* scales) {
  // Outside the contract (g_dec NaN or <= 0) scale codes would carry a sign
  // the vector encoder drops: leave such calls to the reference.
  if (!(g_dec > 0.0f)) return reference::Nvfp4Quantize(t, src, n, g_dec, data, scales);
  switch (t) {
    case DType::kF32:
      return Nvfp4QuantizeT<DType::kF32>(src, n, g_dec, data, scales);
    case DType::kBf16:
      return Nvfp4QuantizeT<DType::kBf16>(src, n, g_dec, data, scales);
    case DType::kF16:
      return Nvfp4QuantizeT<DType::kF16>(src, n, g_dec, data, scales);
  }
}

KVSTASH_AVX2 void Nvfp4DequantizeAvx2(const uint8_t* data, const uint8_t* scales, size_t n,
                                      float g_dec, DType t, void* dst) {
  const Nvfp4RowMaker make_row{g_dec};
  switch (t) {
    case DType::kF32:
      return DequantizeT<DType::kF32, 0>(data, scales, n, make_row, dst);
    case DType::kBf16:
      return DequantizeT<DType::kBf16, 0>(data, scales, n, make_row, dst);
    case DType::kF16:
      return DequantizeT<DType::kF16, 0>(data, scales, n, make_row, dst);
  }
}

KVSTASH_AVX2 void Nvfp4DequantizeToFp8Avx2(const uint8_t* data, const uint8_t* scales, size_t n,
                                           uint8_t* dst) {
  if (UseStreamingStores(dst, n)) {
    DequantizeToFp8<true>(data, scales, n, dst);
    _mm_sfence();
  } else {
    DequantizeToFp8<false>(data, scales, n, dst);
  }
}

KVSTASH_AVX2 void Mxfp4QuantizeAvx2(DType t, const void* src, size_t n, MxScaleMode mode,
                                    uint8_t* data, uint8_t* scales) {
  constexpr MxScaleMode kFloor = MxScaleMode::kFloor, kRceil = MxScaleMode::kRceil;
  const bool floor = mode == kFloor;
  switch (t) {
    case DType::kF32:
      return floor ? Mxfp4QuantizeT<DType::kF32, kFloor>(src, n, data, scales)
                   : Mxfp4QuantizeT<DType::kF32, kRceil>(src, n, data, scales);
    case DType::kBf16:
      return floor ? Mxfp4QuantizeT<DType::kBf16, kFloor>(src, n, data, scales)
                   : Mxfp4QuantizeT<DType::kBf16, kRceil>(src, n, data, scales);
    case DType::kF16:
      return floor ? Mxfp4QuantizeT<DType::kF16, kFloor>(src, n, data, scales)
                   : Mxfp4QuantizeT<DType::kF16, kRceil>(src, n, data, scales);
  }
}

KVSTASH_AVX2 void Mxfp4DequantizeAvx2(const uint8_t* data, const uint8_t* scales, size_t n, DType t,
                                      void* dst) {
  const Mxfp4RowMaker make_row;
  switch (t) {
    case DType::kF32:
      return DequantizeT<DType::kF32, 1>(data, scales, n, make_row, dst);
    case DType::kBf16:
      return DequantizeT<DType::kBf16, 1>(data, scales, n, make_row, dst);
    case DType::kF16:
      return DequantizeT<DType::kF16, 1>(data, scales, n, make_row, dst);
  }
}

}  // namespace kvstash::kernels::fast::internal
