// Block recipes on top of element.h, shared by the CPU paths and the CUDA
// kernels so that every implementation computes the same fp32 operations in
// the same order (NVFP4.md "recipe R").
//
// Thread safety: pure functions.
#ifndef KVSTASH_KERNELS_RECIPE_H_
#define KVSTASH_KERNELS_RECIPE_H_

#include <cstdint>

#include "kernels/element.h"

namespace kvstash::kernels {

// NaN-propagating max of magnitudes: a NaN anywhere in a block poisons it.
KVSTASH_HD float MaxAbsNan(float acc, float x) {
  const float a = AbsF(x);
  if (IsNan(a) || IsNan(acc)) return BitsFloat(0x7fc00000u);
  return a > acc ? a : acc;
}

// sf = e4m3_rn_satfinite((vmax / 6) * g_enc). A NaN vmax gives 0x7F.
KVSTASH_HD uint8_t Nvfp4ScaleCode(float vmax, float g_enc) {
  return EncodeE4m3(MulRn(DivRn(vmax, 6.0f), g_enc));
}

// os = 1 / (sfv * g_dec), or 0 for a zero scale (a zero block).
KVSTASH_HD float Nvfp4OutScale(uint8_t sf, float g_dec) {
  const float sfv = DecodeE4m3(sf);
  return sfv == 0.0f ? 0.0f : DivRn(1.0f, MulRn(sfv, g_dec));
}

// x = (e2m1 * sfv) * g_dec; the first product is exact.
KVSTASH_HD float Nvfp4DecodeValue(uint8_t code, float sfv, float g_dec) {
  return MulRn(MulRn(DecodeE2m1(code), sfv), g_dec);
}

// NVFP4 -> FP8: e4m3_rn_satfinite(e2m1 * sfv).
KVSTASH_HD uint8_t Nvfp4DecodeToFp8(uint8_t code, float sfv) {
  return EncodeE4m3(MulRn(DecodeE2m1(code), sfv));
}

}  // namespace kvstash::kernels

#endif  // KVSTASH_KERNELS_RECIPE_H_
