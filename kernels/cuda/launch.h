// Internal: plain kernel launchers behind kernels/cuda/cuda_codec.h. They
// live in .cu files compiled by nvcc, which must not see Abseil, so they
// speak cudaError_t; cuda_codec.cc validates arguments first and turns the
// errors into absl::Status. REQUIRES (checked by the caller): the
// preconditions of cuda_codec.h, n > 0 and non-null pointers.
#ifndef KVSTASH_KERNELS_CUDA_LAUNCH_H_
#define KVSTASH_KERNELS_CUDA_LAUNCH_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace kvstash::kernels::cuda::internal {

// Same values as kernels::DType.
enum class Elem : uint8_t { kF32 = 0, kBf16 = 1, kF16 = 2 };

cudaError_t LaunchNvfp4Quantize(Elem in, const void* src, size_t n, float g_dec, uint8_t* data,
                                uint8_t* scales, cudaStream_t stream);
cudaError_t LaunchNvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec,
                                  Elem out, void* dst, cudaStream_t stream);
cudaError_t LaunchNvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n,
                                       uint8_t* dst, cudaStream_t stream);

cudaError_t LaunchMxfp4Quantize(Elem in, const void* src, size_t n, bool rceil, uint8_t* data,
                                uint8_t* scales, cudaStream_t stream);
cudaError_t LaunchMxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, Elem out,
                                  void* dst, cudaStream_t stream);

cudaError_t LaunchFp8Quantize(Elem in, const void* src, size_t n, float s, uint8_t* dst,
                              cudaStream_t stream);
cudaError_t LaunchFp8Dequantize(const uint8_t* src, size_t n, float s, Elem out, void* dst,
                                cudaStream_t stream);

// Zeroes *bits, then atomically maxes in the bit pattern of every |x|: for
// non-negative floats the integer order is the float order and NaN patterns
// sort above Inf, so the result is the NaN-propagating AbsMax (its NaN
// payload still needs canonicalising).
cudaError_t LaunchAbsMaxBits(Elem in, const void* src, size_t n, uint32_t* bits,
                             cudaStream_t stream);

// True when this binary contains the hardware E2M1 path for the current
// device (an arch-specific Blackwell target such as sm_100a).
cudaError_t HardwareE2m1ForCurrentDevice(bool* hardware);

}  // namespace kvstash::kernels::cuda::internal

#endif  // KVSTASH_KERNELS_CUDA_LAUNCH_H_
