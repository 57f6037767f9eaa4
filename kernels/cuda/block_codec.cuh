// Internal: the block-scaled E2M1 codecs (NVFP4 and MXFP4). Per-thread bodies
// are KVSTASH_CUDA_HD templates over a recipe policy, so both formats share
// one load / amax / encode / store skeleton, differ only in how a block's
// scale is chosen and applied, and run unchanged on the host in tests.
//
// A recipe provides, each computed exactly as kernels/reference.cc does:
//   uint8_t ScaleCode(float amax)  the block's scale byte
//   float   Multiplier(uint8_t sf) what x is multiplied by before EncodeE2m1
//   float   ScaleValue(uint8_t sf) per-block value handed to Decode
//   float   Decode(uint8_t code, float scale_value)
#ifndef KVSTASH_KERNELS_CUDA_BLOCK_CODEC_CUH_
#define KVSTASH_KERNELS_CUDA_BLOCK_CODEC_CUH_

#include "kernels/cuda/device.cuh"

namespace kvstash::kernels::cuda::internal {

// ------------------------------------------------------------ recipes -----
struct Nvfp4Recipe {
  static constexpr int kItems = 2;  // 8-element items per 16-element block
  float g_dec;
  float g_enc;  // 1.0f / g_dec, one IEEE division on the host, as the reference

  KVSTASH_CUDA_HD uint8_t ScaleCode(float amax) const { return Nvfp4ScaleCode(amax, g_enc); }
  KVSTASH_CUDA_HD float Multiplier(uint8_t sf) const { return Nvfp4OutScale(sf, g_dec); }
  KVSTASH_CUDA_HD float ScaleValue(uint8_t sf) const { return DecodeE4m3(sf); }
  KVSTASH_CUDA_HD float Decode(uint8_t code, float sfv) const {
    return Nvfp4DecodeValue(code, sfv, g_dec);
  }
};

struct Mxfp4Recipe {
  static constexpr int kItems = 4;  // 8-element items per 32-element block
  bool rceil;

  KVSTASH_CUDA_HD uint8_t ScaleCode(float amax) const {
    return rceil ? MxScaleRceil(amax) : MxScaleFloor(amax);
  }
  KVSTASH_CUDA_HD float Multiplier(uint8_t sb) const { return InverseE8m0(sb); }
  KVSTASH_CUDA_HD float ScaleValue(uint8_t sb) const { return DecodeE8m0(sb); }
  KVSTASH_CUDA_HD float Decode(uint8_t code, float scale) const {
    return MulRn(DecodeE2m1(code), scale);
  }
};

// ------------------------------------------------------------- bodies -----
// Quantises block b (elements kItems*8*b ...): scale once, then the codes in
// one 4 * kItems byte store.
template <class Recipe, Elem E, bool kVec>
KVSTASH_CUDA_HD void QuantizeBlock(const void* src, size_t b, const Recipe& r, uint8_t* data,
                                   uint8_t* scales) {
  constexpr int kItems = Recipe::kItems;
  float x[kItems][8];
#pragma unroll
  for (int k = 0; k < kItems; ++k) Load8<E, kVec>(src, b * kItems + k, x[k]);
  uint32_t amax_bits = 0;
#pragma unroll
  for (int k = 0; k < kItems; ++k) amax_bits = MaxU32(amax_bits, AbsBitsMax8(x[k]));
  const uint8_t sf = r.ScaleCode(AbsMaxFromBits(amax_bits));
  const float mul = r.Multiplier(sf);
  uint32_t packed[kItems];
#pragma unroll
  for (int k = 0; k < kItems; ++k) packed[k] = PackE2m1x8(x[k], mul);
  StorePacked<kItems, kVec>(data, b, packed);
  scales[b] = sf;
}

// Dequantises item h (elements 8h .. 8h+7) to E.
template <class Recipe, Elem E, bool kVec>
KVSTASH_CUDA_HD void DequantizeItem(const uint8_t* data, const uint8_t* scales, size_t h,
                                    const Recipe& r, void* dst) {
  const uint32_t codes = LoadPacked4<kVec>(data, h);
  const float sv = r.ScaleValue(Ldg(scales + h / Recipe::kItems));
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = r.Decode(static_cast<uint8_t>((codes >> (4 * i)) & 0xfu), sv);
  Store8<E, kVec>(dst, h, v);
}

// Four byte-wise magnitudes (0..7) -> one 16-bit BytePerm selector.
KVSTASH_CUDA_HD uint32_t Selector(uint32_t idx) { return BytePerm(idx | (idx >> 4), 0, 0x4420); }

// 8 codes (one packed word) to 8 bf16/fp16 values by table lookup: lo/hi
// hold the low and high bytes of the 16-bit decoded value for magnitudes
// m = 0..7. A negative code flips bit 15, which is exact because the decode
// products and the rounding to bf16/fp16 are sign-symmetric for non-NaN
// values; `sign` is 0 for a NaN scale (every output the canonical NaN).
KVSTASH_CUDA_HD uint4 Half8FromCodes(uint32_t w, const uint32_t (&lo)[2], const uint32_t (&hi)[2],
                                     uint32_t sign) {
  const uint32_t sel_even = Selector(w & 0x07070707u);        // elements 0, 2, 4, 6
  const uint32_t sel_odd = Selector((w >> 4) & 0x07070707u);  // elements 1, 3, 5, 7
  const uint32_t elo = BytePerm(lo[0], lo[1], sel_even);
  const uint32_t ehi = BytePerm(hi[0], hi[1], sel_even) ^ ((w << 4) & sign);
  const uint32_t olo = BytePerm(lo[0], lo[1], sel_odd);
  const uint32_t ohi = BytePerm(hi[0], hi[1], sel_odd) ^ (w & sign);
  const uint32_t e02 = BytePerm(elo, ehi, 0x5140), e46 = BytePerm(elo, ehi, 0x7362);
  const uint32_t o13 = BytePerm(olo, ohi, 0x5140), o57 = BytePerm(olo, ohi, 0x7362);
  return make_uint4(BytePerm(e02, o13, 0x5410), BytePerm(e02, o13, 0x7632),
                    BytePerm(e46, o57, 0x5410), BytePerm(e46, o57, 0x7632));
}

// Dequantises block b to bf16/fp16: the block's 8 possible magnitudes are
// decoded and rounded once (with the recipe's own Decode), then every
// element is a table lookup.
template <class Recipe, Elem E, bool kVec>
KVSTASH_CUDA_HD void DequantizeBlock16(const uint8_t* data, const uint8_t* scales, size_t b,
                                       const Recipe& r, void* dst) {
  static_assert(E != Elem::kF32);
  const float sv = r.ScaleValue(Ldg(scales + b));
  uint32_t lo[2] = {0, 0}, hi[2] = {0, 0};
#pragma unroll
  for (int m = 0; m < 8; ++m) {
    const uint32_t v = From16<E>(r.Decode(static_cast<uint8_t>(m), sv));
    lo[m / 4] |= (v & 0xffu) << (8 * (m % 4));
    hi[m / 4] |= (v >> 8) << (8 * (m % 4));
  }
  const uint32_t sign = IsNan(sv) ? 0u : 0x80808080u;
#pragma unroll
  for (int k = 0; k < Recipe::kItems; ++k) {
    const size_t h = b * Recipe::kItems + k;
    const uint4 out = Half8FromCodes(LoadPacked4<kVec>(data, h), lo, hi, sign);
    if constexpr (kVec) {
      static_cast<uint4*>(dst)[h] = out;
    } else {
      uint16_t* p = static_cast<uint16_t*>(dst) + 8 * h;
      const uint32_t words[4] = {out.x, out.y, out.z, out.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        p[2 * i] = static_cast<uint16_t>(words[i]);
        p[2 * i + 1] = static_cast<uint16_t>(words[i] >> 16);
      }
    }
  }
}

// A dequantiser thread's unit of work: one 8-element item for f32 output
// (direct decode is cheap), a whole block for 16-bit output (table lookup).
template <class Recipe, Elem E>
inline constexpr size_t kDequantizeUnit = E == Elem::kF32 ? 8 : 8 * Recipe::kItems;

template <class Recipe, Elem E, bool kVec>
KVSTASH_CUDA_HD void DequantizeUnit(const uint8_t* data, const uint8_t* scales, size_t u,
                                    const Recipe& r, void* dst) {
  if constexpr (E == Elem::kF32) {
    DequantizeItem<Recipe, E, kVec>(data, scales, u, r, dst);
  } else {
    DequantizeBlock16<Recipe, E, kVec>(data, scales, u, r, dst);
  }
}

// 8 NVFP4 codes (one packed word) to 8 FP8 bytes by table lookup: t_lo/t_hi
// hold e4m3(e2m1(m) * sfv) for magnitudes m = 0..7, selected with byte
// permutes; a negative code flips the sign bit, which is exact because both
// the product and EncodeE4m3 are sign-symmetric for non-NaN values. `sign`
// is 0 for a NaN scale (every output 0x7F, as the reference).
KVSTASH_CUDA_HD uint2 Fp8FromCodes(uint32_t w, uint32_t t_lo, uint32_t t_hi, uint32_t sign) {
  const uint32_t even = w & 0x07070707u;        // |code| of elements 0, 2, 4, 6 by byte
  const uint32_t odd = (w >> 4) & 0x07070707u;  // elements 1, 3, 5, 7
  // Four byte-wise indices -> one 16-bit selector (nibble i picks byte i).
  const uint32_t sel_even = BytePerm(even | (even >> 4), 0, 0x4420);
  const uint32_t sel_odd = BytePerm(odd | (odd >> 4), 0, 0x4420);
  const uint32_t e = BytePerm(t_lo, t_hi, sel_even) ^ ((w << 4) & sign);
  const uint32_t o = BytePerm(t_lo, t_hi, sel_odd) ^ (w & sign);
  return make_uint2(BytePerm(e, o, 0x5140), BytePerm(e, o, 0x7362));  // interleave
}

// NVFP4 block b (16 elements) to FP8: e4m3(e2m1 * sf) for each element.
template <bool kVec>
KVSTASH_CUDA_HD void DequantizeBlockToFp8(const uint8_t* data, const uint8_t* scales, size_t b,
                                          uint8_t* dst) {
  const float sfv = DecodeE4m3(Ldg(scales + b));
  uint32_t t_lo = 0, t_hi = 0;
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    t_lo |= static_cast<uint32_t>(Nvfp4DecodeToFp8(static_cast<uint8_t>(m), sfv)) << (8 * m);
    t_hi |= static_cast<uint32_t>(Nvfp4DecodeToFp8(static_cast<uint8_t>(m + 4), sfv)) << (8 * m);
  }
  const uint32_t sign = IsNan(sfv) ? 0u : 0x80808080u;
  const uint2 codes = LoadBytes8<kVec>(data, b);
  const uint2 lo = Fp8FromCodes(codes.x, t_lo, t_hi, sign);
  const uint2 hi = Fp8FromCodes(codes.y, t_lo, t_hi, sign);
  if constexpr (kVec) {
    reinterpret_cast<uint4*>(dst)[b] = make_uint4(lo.x, lo.y, hi.x, hi.y);
  } else {
    StoreBytes8<false>(dst, 2 * b, lo);
    StoreBytes8<false>(dst, 2 * b + 1, hi);
  }
}

// ------------------------------------------------------------ kernels -----
template <class Recipe, Elem E, bool kVec>
__global__ void __launch_bounds__(kThreads)
    QuantizeKernel(const void* src, size_t blocks, Recipe r, uint8_t* data, uint8_t* scales) {
  for (size_t b = GlobalThread(); b < blocks; b += GridThreads()) {
    QuantizeBlock<Recipe, E, kVec>(src, b, r, data, scales);
  }
}

template <class Recipe, Elem E, bool kVec>
__global__ void __launch_bounds__(kThreads)
    DequantizeKernel(const uint8_t* data, const uint8_t* scales, size_t units, Recipe r,
                     void* dst) {
  for (size_t u = GlobalThread(); u < units; u += GridThreads()) {
    DequantizeUnit<Recipe, E, kVec>(data, scales, u, r, dst);
  }
}

// ------------------------------------------------------------ launch ------
// Vectorised access needs 16-byte element buffers and packed data aligned to
// its store width; anything else takes the scalar path (same bits).
template <class Recipe>
bool QuantizeVectorised(const void* src, const uint8_t* data) {
  return Aligned(src, 16) && Aligned(data, 4 * Recipe::kItems);
}
inline bool DequantizeVectorised(const uint8_t* data, const void* dst) {
  return Aligned(data, 4) && Aligned(dst, 16);
}
inline bool DequantizeToFp8Vectorised(const uint8_t* data, const uint8_t* dst) {
  return Aligned(data, 8) && Aligned(dst, 16);
}

template <class Recipe>
cudaError_t LaunchQuantize(const Recipe& r, Elem in, const void* src, size_t n, uint8_t* data,
                           uint8_t* scales, cudaStream_t stream) {
  const size_t blocks = n / (8 * Recipe::kItems);  // one quantisation block per thread
  unsigned grid = 0;
  if (cudaError_t err = GridFor(blocks, &grid); err != cudaSuccess) return err;
  const bool vec = QuantizeVectorised<Recipe>(src, data);
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    if (vec) {
      QuantizeKernel<Recipe, E, true><<<grid, kThreads, 0, stream>>>(src, blocks, r, data, scales);
    } else {
      QuantizeKernel<Recipe, E, false><<<grid, kThreads, 0, stream>>>(src, blocks, r, data, scales);
    }
  });
  return cudaGetLastError();
}

template <class Recipe>
cudaError_t LaunchDequantize(const Recipe& r, const uint8_t* data, const uint8_t* scales, size_t n,
                             Elem out, void* dst, cudaStream_t stream) {
  const bool vec = DequantizeVectorised(data, dst);
  cudaError_t err = cudaSuccess;
  ForElem(out, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    const size_t units = n / kDequantizeUnit<Recipe, E>;
    unsigned grid = 0;
    if ((err = GridFor(units, &grid)) != cudaSuccess) return;
    if (vec) {
      DequantizeKernel<Recipe, E, true><<<grid, kThreads, 0, stream>>>(data, scales, units, r, dst);
    } else {
      DequantizeKernel<Recipe, E, false>
          <<<grid, kThreads, 0, stream>>>(data, scales, units, r, dst);
    }
  });
  return err != cudaSuccess ? err : cudaGetLastError();
}

}  // namespace kvstash::kernels::cuda::internal

#endif  // KVSTASH_KERNELS_CUDA_BLOCK_CODEC_CUH_
