// CUDA implementation of the block codec (kernels/codec.h), bit-identical to
// the CPU reference: the kernels call the same KVSTASH_HD element and recipe
// functions (kernels/element.h, kernels/recipe.h) with strict IEEE fp32
// arithmetic (no FMA contraction, no fast-math). On Blackwell arch-specific
// targets (sm_100a and family) the E2M1 encode uses the hardware
// cvt.rn.satfinite.e2m1x2.f32 instruction, whose results equal the software
// encode for every non-NaN input; NaN products are mapped to the software
// result (code 0x7) before the instruction sees them.
//
// Every entry point takes DEVICE pointers, an element count and a CUDA stream
// (a cudaStream_t passed as void*, nullptr = the default stream) so that this
// header includes no CUDA header. Work is enqueued asynchronously on the
// stream; call StreamSynchronize() before reading results on the host.
//
// Arguments are validated before anything touches the device, so a bad call
// returns InvalidArgument (naming the field) even on a machine without a GPU.
// Any CUDA failure becomes a Status: Unavailable when there is no usable
// device or driver, FailedPrecondition when the binary has no code for the
// device, Internal otherwise. Nothing here crashes on an environment error.
//
// Alignment: element buffers need their natural alignment (2 bytes for
// bf16/fp16, 4 for f32); packed data and scale buffers may have any
// alignment. Buffers aligned to 16 bytes (data and FP8 buffers to 8) take the
// vectorised path, anything else a slower scalar path with the same bits.
//
// Thread safety: all functions may be called concurrently; callers own the
// buffers and must not let a kernel's outputs overlap its inputs.
#ifndef KVSTASH_KERNELS_CUDA_CUDA_CODEC_H_
#define KVSTASH_KERNELS_CUDA_CUDA_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/codec.h"

namespace kvstash::kernels::cuda {

// OK when at least one CUDA device is usable, else Unavailable with a message
// "no CUDA device: <reason>" (the cudaGetDeviceCount error, or a zero count).
[[nodiscard]] absl::Status DeviceAvailable();

// "NVIDIA H200, compute capability 9.0, 132 SMs" for the current device.
[[nodiscard]] absl::StatusOr<std::string> DeviceDescription();

// True when the kernels for the current device encode E2M1 with the
// hardware conversion (an arch-specific Blackwell target such as sm_100a),
// false for the software path (sm_90 and everything else).
[[nodiscard]] absl::StatusOr<bool> UsesHardwareE2m1();

// Waits for all work on `stream` and reports any asynchronous kernel error.
[[nodiscard]] absl::Status StreamSynchronize(void* stream);

// ------------------------------------------------------------------ NVFP4 --
// Recipe R (NVFP4.md). REQUIRES: n % 16 == 0; data holds n/2 bytes, scales
// n/16 bytes; g_dec finite and > 0. n == 0 is a no-op (pointers may be null).
[[nodiscard]] absl::Status Nvfp4Quantize(DType in, const void* src, size_t n, float g_dec,
                                         uint8_t* data, uint8_t* scales, void* stream);
// x = (e2m1 * sf) * g_dec rounded to `out` (round to nearest even).
[[nodiscard]] absl::Status Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n,
                                           float g_dec, DType out, void* dst, void* stream);
// e4m3(e2m1 * sf); dst holds n bytes.
[[nodiscard]] absl::Status Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales,
                                                size_t n, uint8_t* dst, void* stream);

// ------------------------------------------------------------------ MXFP4 --
// REQUIRES: n % 32 == 0; data holds n/2 bytes, scales n/32 bytes.
[[nodiscard]] absl::Status Mxfp4Quantize(DType in, const void* src, size_t n, MxScaleMode mode,
                                         uint8_t* data, uint8_t* scales, void* stream);
[[nodiscard]] absl::Status Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n,
                                           DType out, void* dst, void* stream);

// --------------------------------------------------------- FP8 per-tensor --
// q = e4m3(x / s); x' = e4m3 * s. REQUIRES: s finite > 0. Any n.
[[nodiscard]] absl::Status Fp8Quantize(DType in, const void* src, size_t n, float s, uint8_t* dst,
                                       void* stream);
[[nodiscard]] absl::Status Fp8Dequantize(const uint8_t* src, size_t n, float s, DType out,
                                         void* dst, void* stream);

// ----------------------------------------------------------------- AbsMax --
// Largest |x| of n elements (exact; any NaN gives NaN), like kernels::AbsMax.
// Synchronous: waits for `stream` and copies the result back.
[[nodiscard]] absl::StatusOr<float> AbsMax(DType in, const void* src, size_t n, void* stream);

}  // namespace kvstash::kernels::cuda

#endif  // KVSTASH_KERNELS_CUDA_CUDA_CODEC_H_
