// Internal: per-thread bodies of the element-wise codecs, FP8 E4M3 with a
// per-tensor scale (q = e4m3(x / s), x' = e4m3 * s, as kernels/reference.cc)
// and the AbsMax partial maximum. Any n: an item is 8 elements, and the
// n % 8 tail elements go through the *One bodies.
#ifndef KVSTASH_KERNELS_CUDA_ELEMENTWISE_CUH_
#define KVSTASH_KERNELS_CUDA_ELEMENTWISE_CUH_

#include "kernels/cuda/device.cuh"

namespace kvstash::kernels::cuda::internal {

template <Elem E, bool kVec>
KVSTASH_CUDA_HD void Fp8QuantizeItem(const void* src, size_t h, float s, uint8_t* dst) {
  float x[8];
  Load8<E, kVec>(src, h, x);
  uint32_t out[2] = {0, 0};
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    out[i / 4] |= static_cast<uint32_t>(EncodeE4m3(DivRn(x[i], s))) << (8 * (i % 4));
  }
  StoreBytes8<kVec>(dst, h, make_uint2(out[0], out[1]));
}

template <Elem E>
KVSTASH_CUDA_HD void Fp8QuantizeOne(const void* src, size_t i, float s, uint8_t* dst) {
  dst[i] = EncodeE4m3(DivRn(LoadOne<E>(src, i), s));
}

template <Elem E, bool kVec>
KVSTASH_CUDA_HD void Fp8DequantizeItem(const uint8_t* src, size_t h, float s, void* dst) {
  const uint2 q = LoadBytes8<kVec>(src, h);
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t word = i < 4 ? q.x : q.y;
    v[i] = MulRn(DecodeE4m3(static_cast<uint8_t>(word >> (8 * (i % 4)))), s);
  }
  Store8<E, kVec>(dst, h, v);
}

template <Elem E>
KVSTASH_CUDA_HD void Fp8DequantizeOne(const uint8_t* src, size_t i, float s, void* dst) {
  StoreOne<E>(dst, i, MulRn(DecodeE4m3(Ldg(src + i)), s));
}

// max over |x| bit patterns of item h (see AbsBitsMax8).
template <Elem E, bool kVec>
KVSTASH_CUDA_HD uint32_t AbsBitsItem(const void* src, size_t h) {
  float x[8];
  Load8<E, kVec>(src, h, x);
  return AbsBitsMax8(x);
}

template <Elem E>
KVSTASH_CUDA_HD uint32_t AbsBitsOne(const void* src, size_t i) {
  return FloatBits(LoadOne<E>(src, i)) & 0x7fffffffu;
}

// Alignment the vectorised bodies need (the launchers and the host
// emulation pick bodies with these).
inline bool Fp8QuantizeVectorised(const void* src, const uint8_t* dst) {
  return Aligned(src, 16) && Aligned(dst, 8);
}
inline bool Fp8DequantizeVectorised(const uint8_t* src, const void* dst) {
  return Aligned(src, 8) && Aligned(dst, 16);
}

}  // namespace kvstash::kernels::cuda::internal

#endif  // KVSTASH_KERNELS_CUDA_ELEMENTWISE_CUH_
