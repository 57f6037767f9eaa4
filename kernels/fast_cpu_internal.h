// Internals of the fast CPU codec (fast_cpu.h): the runtime dispatch switch
// and the AVX2 kernels behind it. The kernels have the contracts of the
// functions of the same name in codec.h, and REQUIRE UseAvx2().
//
// Thread safety: ForceScalarForTesting is an atomic switch meant for tests;
// everything else is pure.
#ifndef KVSTASH_KERNELS_FAST_CPU_INTERNAL_H_
#define KVSTASH_KERNELS_FAST_CPU_INTERNAL_H_

#include "kernels/codec.h"

namespace kvstash::kernels::fast::internal {

// True when the CPU (and OS) support AVX2 and F16C; checked once.
bool CpuHasAvx2F16c();
// CpuHasAvx2F16c() and scalar mode is off: the fast:: functions vectorise.
bool UseAvx2();
// Makes every fast:: function take its non-AVX2 fallback (the reference).
void ForceScalarForTesting(bool force);

float AbsMaxAvx2(DType t, const void* src, size_t n);
void Nvfp4QuantizeAvx2(DType t, const void* src, size_t n, float g_dec, uint8_t* data,
                       uint8_t* scales);
void Nvfp4DequantizeAvx2(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                         void* dst);
void Nvfp4DequantizeToFp8Avx2(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst);
void Mxfp4QuantizeAvx2(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                       uint8_t* scales);
void Mxfp4DequantizeAvx2(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst);
void Fp8QuantizeAvx2(DType t, const void* src, size_t n, float s, uint8_t* dst);
void Fp8DequantizeAvx2(const uint8_t* src, size_t n, float s, DType t, void* dst);
void ConvertDTypeAvx2(DType from, const void* src, size_t n, DType to, void* dst);

}  // namespace kvstash::kernels::fast::internal

#endif  // KVSTASH_KERNELS_FAST_CPU_INTERNAL_H_
