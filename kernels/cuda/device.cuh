// Internal helpers shared by the codec kernels: 8-element loads and stores
// (vectorised 16-byte accesses, or a scalar fallback for buffers that are not
// 16-byte aligned), the E2M1 packers (software from element.h, or the
// Blackwell hardware conversion), the AbsMax bit trick and the grid-stride
// launch geometry.
//
// Everything a thread computes is a KVSTASH_CUDA_HD function, so the same
// per-thread bodies also run on the host (host_emulation.cu), where the
// tests check them against the CPU reference without a GPU.
//
// Work item: loads and stores move 8 consecutive elements ("item" h covers
// elements 8h .. 8h+7, one 16-byte access for bf16/fp16). A quantiser thread
// owns a whole block (2 items for NVFP4, 4 for MXFP4) so that the block
// scale, the costly part, is computed once; dequantisers take one item.
#ifndef KVSTASH_KERNELS_CUDA_DEVICE_CUH_
#define KVSTASH_KERNELS_CUDA_DEVICE_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/launch.h"
#include "kernels/element.h"
#include "kernels/recipe.h"

#define KVSTASH_CUDA_HD __host__ __device__ __forceinline__

// Hardware E2M1 conversion: Blackwell arch-specific targets only (the same
// condition cuda_fp8.h uses for __CUDA_FP8_INTERNAL_CAN_RELY_ON_PTX_FOR_SHORTTYPESCVT__).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 1000 && defined(__CUDA_ARCH_FAMILY_SPECIFIC__) && \
    __CUDA_ARCH_FAMILY_SPECIFIC__ >= 1000 && __CUDA_ARCH_FAMILY_SPECIFIC__ < 1300
#define KVSTASH_CUDA_HW_E2M1 1
#else
#define KVSTASH_CUDA_HW_E2M1 0
#endif

namespace kvstash::kernels::cuda::internal {

inline constexpr int kThreads = 256;

// Read-only global load (the non-coherent cache path on the device).
template <class T>
KVSTASH_CUDA_HD T Ldg(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

KVSTASH_CUDA_HD uint32_t MaxU32(uint32_t a, uint32_t b) { return a > b ? a : b; }

// Byte i of the result is byte (s >> 4i) & 7 of the 8-byte value {y:x}.
KVSTASH_CUDA_HD uint32_t BytePerm(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    r |= static_cast<uint32_t>((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
  }
  return r;
#endif
}

// ----------------------------------------------------------- elements -----
template <Elem E>
KVSTASH_CUDA_HD float ToFloat16Bits(uint32_t h) {
  return E == Elem::kBf16 ? Bf16ToFloat(static_cast<uint16_t>(h))
                          : HalfToFloat(static_cast<uint16_t>(h));
}

template <Elem E>
KVSTASH_CUDA_HD uint32_t From16(float x) {
  return E == Elem::kBf16 ? FloatToBf16(x) : FloatToHalf(x);
}

// Element i of `src` / `dst` one at a time (tails and scalar paths).
template <Elem E>
KVSTASH_CUDA_HD float LoadOne(const void* src, size_t i) {
  if constexpr (E == Elem::kF32) {
    return Ldg(static_cast<const float*>(src) + i);
  } else {
    return ToFloat16Bits<E>(Ldg(static_cast<const uint16_t*>(src) + i));
  }
}

template <Elem E>
KVSTASH_CUDA_HD void StoreOne(void* dst, size_t i, float v) {
  if constexpr (E == Elem::kF32) {
    static_cast<float*>(dst)[i] = v;
  } else {
    static_cast<uint16_t*>(dst)[i] = static_cast<uint16_t>(From16<E>(v));
  }
}

// Loads elements 8h .. 8h+7 of `src` as floats.
template <Elem E, bool kVec>
KVSTASH_CUDA_HD void Load8(const void* src, size_t h, float (&x)[8]) {
  if constexpr (!kVec) {
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = LoadOne<E>(src, 8 * h + i);
  } else if constexpr (E == Elem::kF32) {
    const float4* p = static_cast<const float4*>(src) + 2 * h;
    const float4 a = Ldg(p), b = Ldg(p + 1);
    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
    x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
  } else {
    const uint4 v = Ldg(static_cast<const uint4*>(src) + h);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      x[2 * i] = ToFloat16Bits<E>(w[i] & 0xffffu);
      x[2 * i + 1] = ToFloat16Bits<E>(w[i] >> 16);
    }
  }
}

// Stores v[0..7] as elements 8h .. 8h+7 of `dst`, rounding to E.
template <Elem E, bool kVec>
KVSTASH_CUDA_HD void Store8(void* dst, size_t h, const float (&v)[8]) {
  if constexpr (!kVec) {
#pragma unroll
    for (int i = 0; i < 8; ++i) StoreOne<E>(dst, 8 * h + i, v[i]);
  } else if constexpr (E == Elem::kF32) {
    float4* p = static_cast<float4*>(dst) + 2 * h;
    p[0] = make_float4(v[0], v[1], v[2], v[3]);
    p[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = From16<E>(v[2 * i]) | (From16<E>(v[2 * i + 1]) << 16);
    static_cast<uint4*>(dst)[h] = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

// ------------------------------------------------------ packed bytes -----
// 4 bytes (8 E2M1 codes) of item h, little-endian; byte-wise unless kVec.
template <bool kVec>
KVSTASH_CUDA_HD uint32_t LoadPacked4(const uint8_t* data, size_t h) {
  if constexpr (kVec) {
    return Ldg(reinterpret_cast<const uint32_t*>(data) + h);
  } else {
    const uint8_t* p = data + 4 * h;
    return Ldg(p) | (Ldg(p + 1) << 8) | (Ldg(p + 2) << 16) |
           (static_cast<uint32_t>(Ldg(p + 3)) << 24);
  }
}

template <bool kVec>
KVSTASH_CUDA_HD void StorePacked4(uint8_t* data, size_t h, uint32_t w) {
  if constexpr (kVec) {
    reinterpret_cast<uint32_t*>(data)[h] = w;
  } else {
    uint8_t* p = data + 4 * h;
#pragma unroll
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(w >> (8 * i));
  }
}

// 4 * kItems bytes (8 * kItems E2M1 codes) of block b: one 8- or 16-byte
// store when kVec, else byte stores.
template <int kItems, bool kVec>
KVSTASH_CUDA_HD void StorePacked(uint8_t* data, size_t b, const uint32_t (&w)[kItems]) {
  if constexpr (kVec && kItems == 2) {
    reinterpret_cast<uint2*>(data)[b] = make_uint2(w[0], w[1]);
  } else if constexpr (kVec && kItems == 4) {
    reinterpret_cast<uint4*>(data)[b] = make_uint4(w[0], w[1], w[2], w[3]);
  } else {
#pragma unroll
    for (int k = 0; k < kItems; ++k) StorePacked4<kVec>(data, b * kItems + k, w[k]);
  }
}

// 8 bytes (8 FP8 values) of item h.
template <bool kVec>
KVSTASH_CUDA_HD uint2 LoadBytes8(const uint8_t* src, size_t h) {
  if constexpr (kVec) {
    return Ldg(reinterpret_cast<const uint2*>(src) + h);
  } else {
    return make_uint2(LoadPacked4<false>(src, 2 * h), LoadPacked4<false>(src, 2 * h + 1));
  }
}

template <bool kVec>
KVSTASH_CUDA_HD void StoreBytes8(uint8_t* dst, size_t h, uint2 w) {
  if constexpr (kVec) {
    reinterpret_cast<uint2*>(dst)[h] = w;
  } else {
    StorePacked4<false>(dst, 2 * h, w.x);
    StorePacked4<false>(dst, 2 * h + 1, w.y);
  }
}

// ------------------------------------------------------------- AbsMax -----
// The reference folds MaxAbsNan over a block. For non-negative floats the
// integer order of the bit patterns is the float order and every NaN pattern
// sorts above Inf, so an unsigned max over |x| bits followed by
// AbsMaxFromBits gives exactly the same float (the canonical NaN if any
// element is NaN) at two integer operations per element.
KVSTASH_CUDA_HD uint32_t AbsBitsMax8(const float (&x)[8]) {
  uint32_t m = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) m = MaxU32(m, FloatBits(x[i]) & 0x7fffffffu);
  return m;
}

KVSTASH_CUDA_HD float AbsMaxFromBits(uint32_t m) {
  return BitsFloat(m > 0x7f800000u ? 0x7fc00000u : m);
}

// --------------------------------------------------------------- E2M1 -----
// Encodes x[i] * mul for i = 0..7 into 8 nibbles, element i in bits 4i..4i+3
// (element 2k in the low nibble of byte k).
KVSTASH_CUDA_HD uint32_t PackE2m1x8(const float (&x)[8], float mul) {
  uint32_t packed = 0;
#if KVSTASH_CUDA_HW_E2M1
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float lo = MulRn(x[2 * k], mul);
    float hi = MulRn(x[2 * k + 1], mul);
    // NaN (a poisoned block, or 0 * Inf from an extreme g_dec) encodes as
    // +6 = 0x7 in software; hand the hardware +6 so its NaN rule never matters.
    lo = IsNan(lo) ? 6.0f : lo;
    hi = IsNan(hi) ? 6.0f : hi;
    uint16_t byte;
    // cvt.rn.satfinite.e2m1x2.f32 d, a, b puts a in the upper nibble.
    asm("{\n\t.reg .b8 t;\n\t"
        "cvt.rn.satfinite.e2m1x2.f32 t, %1, %2;\n\t"
        "mov.b16 %0, {t, 0};\n\t}"
        : "=h"(byte)
        : "f"(hi), "f"(lo));
    packed |= static_cast<uint32_t>(byte & 0xffu) << (8 * k);
  }
#else
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    packed |= static_cast<uint32_t>(EncodeE2m1(MulRn(x[i], mul))) << (4 * i);
  }
#endif
  return packed;
}

// ---------------------------------------------------------- geometry -----
// Blocks for a grid-stride loop over `items` work items: enough to fill every
// SM several times over, never more than the work needs.
inline cudaError_t GridFor(size_t items, unsigned* blocks) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  int sms = 0;
  err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) return err;
  const size_t needed = (items + kThreads - 1) / kThreads;
  const size_t cap = static_cast<size_t>(sms) * 16;
  *blocks = static_cast<unsigned>(needed < cap ? needed : cap);
  if (*blocks == 0) *blocks = 1;
  return cudaSuccess;
}

__device__ __forceinline__ size_t GlobalThread() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ size_t GridThreads() {
  return static_cast<size_t>(gridDim.x) * blockDim.x;
}

// Calls f(std::integral_constant<Elem, E>{}) for the runtime element type.
template <class F>
void ForElem(Elem e, F&& f) {
  switch (e) {
    case Elem::kF32:
      f(std::integral_constant<Elem, Elem::kF32>{});
      break;
    case Elem::kBf16:
      f(std::integral_constant<Elem, Elem::kBf16>{});
      break;
    case Elem::kF16:
      f(std::integral_constant<Elem, Elem::kF16>{});
      break;
  }
}

inline bool Aligned(const void* p, size_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

}  // namespace kvstash::kernels::cuda::internal

#endif  // KVSTASH_KERNELS_CUDA_DEVICE_CUH_
