// Fast CPU implementations of kernels/codec.h: AVX2 code selected at run time
// (__builtin_cpu_supports), bit-identical to kernels/reference.h, which they
// call on CPUs without AVX2. Preconditions are those of codec.h.
#ifndef KVSTASH_KERNELS_FAST_CPU_H_
#define KVSTASH_KERNELS_FAST_CPU_H_

#include "kernels/codec.h"

namespace kvstash::kernels::fast {

bool HasAvx2();

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

}  // namespace kvstash::kernels::fast

#endif  // KVSTASH_KERNELS_FAST_CPU_H_
