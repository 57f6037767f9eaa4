// Plain scalar reference implementations of kernels/codec.h: one loop per
// recipe, no tricks. Everything else is tested bit-for-bit against these.
// Preconditions are those of codec.h; callers validate.
#ifndef KVSTASH_KERNELS_REFERENCE_H_
#define KVSTASH_KERNELS_REFERENCE_H_

#include "kernels/codec.h"

namespace kvstash::kernels::reference {

float AbsMax(DType t, const void* src, size_t n);
void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data, uint8_t* scales);
void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst);
void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst);
void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales);
void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst);
void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst);
void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst);
void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst);

}  // namespace kvstash::kernels::reference

#endif  // KVSTASH_KERNELS_REFERENCE_H_
