// Host-side runs of the kernel bodies (see host_emulation.h). Compiled with
// the kernels' strict floating-point flags; only the host pass matters.
#include "kernels/cuda/block_codec.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/host_emulation.h"

namespace kvstash::kernels::cuda::emulation {
namespace {

using namespace internal;  // NOLINT: the bodies under test

template <class Recipe>
void Quantize(const Recipe& r, Elem in, const void* src, size_t n, uint8_t* data, uint8_t* scales) {
  const bool vec = QuantizeVectorised<Recipe>(src, data);
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    for (size_t b = 0; b < n / (8 * Recipe::kItems); ++b) {
      vec ? QuantizeBlock<Recipe, E, true>(src, b, r, data, scales)
          : QuantizeBlock<Recipe, E, false>(src, b, r, data, scales);
    }
  });
}

template <class Recipe>
void Dequantize(const Recipe& r, const uint8_t* data, const uint8_t* scales, size_t n, Elem out,
                void* dst) {
  const bool vec = DequantizeVectorised(data, dst);
  ForElem(out, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    for (size_t u = 0; u < n / kDequantizeUnit<Recipe, E>; ++u) {
      vec ? DequantizeUnit<Recipe, E, true>(data, scales, u, r, dst)
          : DequantizeUnit<Recipe, E, false>(data, scales, u, r, dst);
    }
  });
}

}  // namespace

void Nvfp4Quantize(Elem in, const void* src, size_t n, float g_dec, uint8_t* data,
                   uint8_t* scales) {
  Quantize(Nvfp4Recipe{g_dec, 1.0f / g_dec}, in, src, n, data, scales);
}

void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, Elem out,
                     void* dst) {
  Dequantize(Nvfp4Recipe{g_dec, 1.0f / g_dec}, data, scales, n, out, dst);
}

void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst) {
  const bool vec = DequantizeToFp8Vectorised(data, dst);
  for (size_t b = 0; b < n / 16; ++b) {
    vec ? DequantizeBlockToFp8<true>(data, scales, b, dst)
        : DequantizeBlockToFp8<false>(data, scales, b, dst);
  }
}

void Mxfp4Quantize(Elem in, const void* src, size_t n, bool rceil, uint8_t* data, uint8_t* scales) {
  Quantize(Mxfp4Recipe{rceil}, in, src, n, data, scales);
}

void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, Elem out, void* dst) {
  Dequantize(Mxfp4Recipe{false}, data, scales, n, out, dst);
}

void Fp8Quantize(Elem in, const void* src, size_t n, float s, uint8_t* dst) {
  const bool vec = Fp8QuantizeVectorised(src, dst);
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    for (size_t h = 0; h < n / 8; ++h) {
      vec ? Fp8QuantizeItem<E, true>(src, h, s, dst) : Fp8QuantizeItem<E, false>(src, h, s, dst);
    }
    for (size_t i = n / 8 * 8; i < n; ++i) Fp8QuantizeOne<E>(src, i, s, dst);
  });
}

void Fp8Dequantize(const uint8_t* src, size_t n, float s, Elem out, void* dst) {
  const bool vec = Fp8DequantizeVectorised(src, dst);
  ForElem(out, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    for (size_t h = 0; h < n / 8; ++h) {
      vec ? Fp8DequantizeItem<E, true>(src, h, s, dst)
          : Fp8DequantizeItem<E, false>(src, h, s, dst);
    }
    for (size_t i = n / 8 * 8; i < n; ++i) Fp8DequantizeOne<E>(src, i, s, dst);
  });
}

float AbsMax(Elem in, const void* src, size_t n) {
  const bool vec = Aligned(src, 16);
  uint32_t m = 0;
  ForElem(in, [&](auto e) {
    constexpr Elem E = decltype(e)::value;
    for (size_t h = 0; h < n / 8; ++h) {
      m = MaxU32(m, vec ? AbsBitsItem<E, true>(src, h) : AbsBitsItem<E, false>(src, h));
    }
    for (size_t i = n / 8 * 8; i < n; ++i) m = MaxU32(m, AbsBitsOne<E>(src, i));
  });
  return AbsMaxFromBits(m);
}

}  // namespace kvstash::kernels::cuda::emulation
