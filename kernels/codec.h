// The kvstash block codec: NVFP4 (recipe R of NVFP4.md), MXFP4 (OCP MX, floor
// or RCEIL scales), FP8 E4M3 with a per-tensor scale, and bf16/fp16 <-> fp32.
//
// All entry points take a flat row-major tensor whose quantisation blocks run
// along rows (16 elements for NVFP4, 32 for MXFP4). Since a row length must be
// a multiple of the block, blocks never straddle rows and the flat element
// count is all the codec needs; ValidateShape() checks rows x cols at the edge.
//
// Two CPU implementations produce identical bits: Impl::kReference (plain
// scalar loops, the readable specification) and Impl::kFast (AVX2 with
// runtime dispatch, falling back to the reference on older CPUs). The CUDA
// kernels (kernels/cuda/cuda_codec.h) produce the same bits again.
//
// Thread safety: all functions are pure; callers own every buffer.
#ifndef KVSTASH_KERNELS_CODEC_H_
#define KVSTASH_KERNELS_CODEC_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::kernels {

// Element type of an unquantised tensor.
enum class DType : uint8_t { kF32 = 0, kBf16 = 1, kF16 = 2 };

// Storage format of a block.
enum class Format : uint8_t { kBf16 = 0, kFp16 = 1, kFp8E4M3 = 2, kNvfp4 = 3, kMxfp4 = 4 };

enum class MxScaleMode : uint8_t { kFloor = 0, kRceil = 1 };

enum class Impl : uint8_t { kReference = 0, kFast = 1 };

inline constexpr size_t kNvfp4Block = 16;
inline constexpr size_t kMxfp4Block = 32;

size_t DTypeSize(DType t);
absl::string_view DTypeName(DType t);
absl::StatusOr<DType> ParseDType(absl::string_view name);
absl::string_view FormatName(Format f);
absl::StatusOr<Format> ParseFormat(absl::string_view name);

// Block size along a row for `f` (1 for element formats).
size_t FormatBlock(Format f);
// Bytes of packed data and of scales for `n` elements in format `f`.
size_t DataBytes(Format f, size_t n);
size_t ScaleBytes(Format f, size_t n);

// Checks that a rows x cols tensor of `total_elements` is valid for `f`.
absl::Status ValidateShape(Format f, size_t total_elements, size_t cols);

// Largest |x| (exact). NaN anywhere makes the result NaN.
float AbsMax(DType t, const void* src, size_t n, Impl impl = Impl::kFast);

// Global decode scales from a tensor amax. A zero amax gives 1.0 so that an
// all-zero tensor still encodes (to zeros). NaN/Inf amax is an error.
absl::StatusOr<float> GDecFromAmax(float amax, float divisor);  // amax / divisor
inline constexpr float kNvfp4Amax2688 = 2688.0f;                // 6 * 448
inline constexpr float kNvfp4Amax448 = 448.0f;

// ------------------------------------------------------------------ NVFP4 --
// REQUIRES: n % 16 == 0; data has n/2 bytes, scales n/16 bytes; g_dec finite > 0.
// A block holding a NaN is "poisoned": scale 0x7F (E4M3 NaN), codes 0x7, and
// it dequantises to NaN. Inf saturates.
void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data, uint8_t* scales,
                   Impl impl = Impl::kFast);
// Writes n elements of dtype `t` to dst: x = (e2m1 * sf) * g_dec, rounded once
// to fp32, then to bf16/fp16 (round to nearest even).
void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst, Impl impl = Impl::kFast);
// NVFP4 -> FP8 E4M3 for an FP8 attention MMA: e4m3(e2m1 * sf); the FP8 tensor's
// per-tensor scale is g_dec (choose g_dec = amax/448 so nothing saturates).
void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst,
                          Impl impl = Impl::kFast);

// ------------------------------------------------------------------ MXFP4 --
// REQUIRES: n % 32 == 0; data has n/2 bytes, scales n/32 bytes.
void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales, Impl impl = Impl::kFast);
void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst,
                     Impl impl = Impl::kFast);

// --------------------------------------------------------- FP8 per-tensor --
// q = e4m3(x / s); x' = e4m3 * s. REQUIRES: s finite > 0.
void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst,
                 Impl impl = Impl::kFast);
void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst,
                   Impl impl = Impl::kFast);

// -------------------------------------------------------------- bf16/fp16 --
// Any dtype to any dtype (rounding to nearest even; NaN -> canonical 0x7FFF).
void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst,
                  Impl impl = Impl::kFast);

// True when the fast path runs vectorised code on this CPU.
bool FastPathIsVectorised();

}  // namespace kvstash::kernels

#endif  // KVSTASH_KERNELS_CODEC_H_
