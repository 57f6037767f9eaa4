// Test-only: the CUDA kernels' per-thread bodies (block_codec.cuh,
// elementwise.cuh) run sequentially on the host, one "thread" after another,
// choosing the vectorised or scalar body from pointer alignment exactly as
// the launchers do. This checks the kernels' packing, indexing, vector paths
// and the AbsMax bit trick against the CPU reference on machines without a
// GPU; what it cannot check (grid-stride mapping, tails, the sm_100a
// hardware conversion) the GPU tests in tests/gpu cover.
//
// Arguments are host pointers with the preconditions of cuda_codec.h.
#ifndef KVSTASH_KERNELS_CUDA_HOST_EMULATION_H_
#define KVSTASH_KERNELS_CUDA_HOST_EMULATION_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/launch.h"

namespace kvstash::kernels::cuda::emulation {

using internal::Elem;

void Nvfp4Quantize(Elem in, const void* src, size_t n, float g_dec, uint8_t* data, uint8_t* scales);
void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, Elem out,
                     void* dst);
void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst);
void Mxfp4Quantize(Elem in, const void* src, size_t n, bool rceil, uint8_t* data, uint8_t* scales);
void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, Elem out, void* dst);
void Fp8Quantize(Elem in, const void* src, size_t n, float s, uint8_t* dst);
void Fp8Dequantize(const uint8_t* src, size_t n, float s, Elem out, void* dst);
float AbsMax(Elem in, const void* src, size_t n);

}  // namespace kvstash::kernels::cuda::emulation

#endif  // KVSTASH_KERNELS_CUDA_HOST_EMULATION_H_
