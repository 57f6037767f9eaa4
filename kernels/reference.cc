#include "kernels/reference.h"

#include "kernels/element.h"
#include "kernels/recipe.h"

namespace kvstash::kernels::reference {
namespace {

float Load(DType t, const void* src, size_t i) {
  switch (t) {
    case DType::kF32:
      return static_cast<const float*>(src)[i];
    case DType::kBf16:
      return Bf16ToFloat(static_cast<const uint16_t*>(src)[i]);
    case DType::kF16:
      return HalfToFloat(static_cast<const uint16_t*>(src)[i]);
  }
  return 0.0f;
}

void Store(DType t, void* dst, size_t i, float x) {
  switch (t) {
    case DType::kF32:
      static_cast<float*>(dst)[i] = x;
      return;
    case DType::kBf16:
      static_cast<uint16_t*>(dst)[i] = FloatToBf16(x);
      return;
    case DType::kF16:
      static_cast<uint16_t*>(dst)[i] = FloatToHalf(x);
      return;
  }
}

// Element 2i goes to the low nibble of byte i, element 2i+1 to the high one.
void PutNibble(uint8_t* data, size_t i, uint8_t code) {
  if (i % 2 == 0) {
    data[i / 2] = code;
  } else {
    data[i / 2] = static_cast<uint8_t>(data[i / 2] | (code << 4));
  }
}

uint8_t GetNibble(const uint8_t* data, size_t i) {
  return (i % 2 == 0) ? (data[i / 2] & 0xf) : (data[i / 2] >> 4);
}

}  // namespace

float AbsMax(DType t, const void* src, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) m = MaxAbsNan(m, Load(t, src, i));
  return m;
}

void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data,
                   uint8_t* scales) {
  const float g_enc = 1.0f / g_dec;
  for (size_t b = 0; b < n / kNvfp4Block; ++b) {
    const size_t base = b * kNvfp4Block;
    float vmax = 0.0f;
    for (size_t i = 0; i < kNvfp4Block; ++i) vmax = MaxAbsNan(vmax, Load(t, src, base + i));
    const uint8_t sf = Nvfp4ScaleCode(vmax, g_enc);
    const float os = Nvfp4OutScale(sf, g_dec);
    scales[b] = sf;
    for (size_t i = 0; i < kNvfp4Block; ++i) {
      PutNibble(data, base + i, EncodeE2m1(Load(t, src, base + i) * os));
    }
  }
}

void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst) {
  for (size_t i = 0; i < n; ++i) {
    const float sfv = DecodeE4m3(scales[i / kNvfp4Block]);
    Store(t, dst, i, Nvfp4DecodeValue(GetNibble(data, i), sfv, g_dec));
  }
}

void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    const float sfv = DecodeE4m3(scales[i / kNvfp4Block]);
    dst[i] = Nvfp4DecodeToFp8(GetNibble(data, i), sfv);
  }
}

void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales) {
  for (size_t b = 0; b < n / kMxfp4Block; ++b) {
    const size_t base = b * kMxfp4Block;
    float amax = 0.0f;
    for (size_t i = 0; i < kMxfp4Block; ++i) amax = MaxAbsNan(amax, Load(t, src, base + i));
    const uint8_t sb = mode == MxScaleMode::kFloor ? MxScaleFloor(amax) : MxScaleRceil(amax);
    const float inv = InverseE8m0(sb);
    scales[b] = sb;
    for (size_t i = 0; i < kMxfp4Block; ++i) {
      PutNibble(data, base + i, EncodeE2m1(Load(t, src, base + i) * inv));
    }
  }
}

void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst) {
  for (size_t i = 0; i < n; ++i) {
    const float scale = DecodeE8m0(scales[i / kMxfp4Block]);
    Store(t, dst, i, DecodeE2m1(GetNibble(data, i)) * scale);
  }
}

void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = EncodeE4m3(Load(t, src, i) / s);
}

void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst) {
  for (size_t i = 0; i < n; ++i) Store(t, dst, i, DecodeE4m3(src[i]) * s);
}

void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst) {
  for (size_t i = 0; i < n; ++i) Store(to, dst, i, Load(from, src, i));
}

}  // namespace kvstash::kernels::reference
