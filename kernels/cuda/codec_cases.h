// Test-only: the inputs every CUDA codec test runs (KV-shaped tensors, every
// bf16/fp16 pattern, special blocks, extreme global scales) and a byte
// comparison that names the first differing elements. Shared by the host
// emulation test (kernels/cuda) and the GPU test (tests/gpu).
#ifndef KVSTASH_KERNELS_CUDA_CODEC_CASES_H_
#define KVSTASH_KERNELS_CUDA_CODEC_CASES_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/codec.h"

namespace kvstash::kernels::cuda::cases {

inline constexpr DType kDTypes[] = {DType::kF32, DType::kBf16, DType::kF16};

// KV-like data [heads][tokens][head_dim]: N(0,1) with every 37th channel x20
// (the outlier channels keys have), so block scales vary widely.
std::vector<float> KvData(uint64_t seed, size_t heads, size_t tokens, size_t head_dim);

// 12 blocks of 16 (192 elements, also whole MXFP4 blocks): zeros, negative
// zeros, a NaN, Infs, FLT_MAX, subnormals, E2M1 decision points, mixed
// magnitudes.
std::vector<float> SpecialBlocks();

// Global scales from ordinary to absurd: overflowing and underflowing
// sfv * g_dec make the reference's os Inf or 0, which it defines too.
std::vector<float> ExtremeScales();

// All 65536 bf16 or fp16 bit patterns as floats, in order or shuffled.
std::vector<float> EveryHalfPattern(DType t, bool shuffled);
// Uniformly random f32 bit patterns (NaN, Inf and subnormals included).
std::vector<float> RandomBits(uint64_t seed, size_t n);

// NVFP4 bytes where each of the 256 scale bytes (NaN 0x7F/0xFF, negative
// and zero scales included) sees all 16 codes: 256 blocks of 16 elements.
void EveryScaleAndCode(std::vector<uint8_t>* data, std::vector<uint8_t>* scales);

// x converted to dtype t (round to nearest even), as raw bytes.
std::vector<uint8_t> AsDType(DType t, const std::vector<float>& x);
// amax(x) / divisor as a global scale (1.0 for an all-zero x).
float GDec(const std::vector<float>& x, float divisor);

// Equality in elements of `width` bytes. With f32_nan_any, two f32 NaNs match
// whatever their payload: GPUs produce the canonical 0x7FFFFFFF, x86 keeps
// the operand's NaN, and the codec defines only "NaN" for f32 outputs.
::testing::AssertionResult SameBytes(const std::vector<uint8_t>& want,
                                     const std::vector<uint8_t>& got, size_t width,
                                     bool f32_nan_any = false);

}  // namespace kvstash::kernels::cuda::cases

#endif  // KVSTASH_KERNELS_CUDA_CODEC_CASES_H_
