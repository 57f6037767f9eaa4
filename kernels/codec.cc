#include "kernels/codec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "kernels/fast_cpu.h"
#include "kernels/reference.h"

namespace kvstash::kernels {

size_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

absl::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kBf16:
      return "bf16";
    case DType::kF16:
      return "f16";
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return DType::kF32;
  if (name == "bf16" || name == "bfloat16") return DType::kBf16;
  if (name == "f16" || name == "fp16" || name == "float16") return DType::kF16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", name, "' (expected f32, bf16 or f16)"));
}

absl::string_view FormatName(Format f) {
  switch (f) {
    case Format::kBf16:
      return "bf16";
    case Format::kFp16:
      return "fp16";
    case Format::kFp8E4M3:
      return "fp8_e4m3";
    case Format::kNvfp4:
      return "nvfp4";
    case Format::kMxfp4:
      return "mxfp4";
  }
  return "?";
}

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  if (name == "bf16") return Format::kBf16;
  if (name == "fp16" || name == "f16") return Format::kFp16;
  if (name == "fp8_e4m3" || name == "fp8") return Format::kFp8E4M3;
  if (name == "nvfp4") return Format::kNvfp4;
  if (name == "mxfp4") return Format::kMxfp4;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", name, "' (expected nvfp4, mxfp4, fp8_e4m3, bf16 or fp16)"));
}

size_t FormatBlock(Format f) {
  switch (f) {
    case Format::kNvfp4:
      return kNvfp4Block;
    case Format::kMxfp4:
      return kMxfp4Block;
    default:
      return 1;
  }
}

size_t DataBytes(Format f, size_t n) {
  switch (f) {
    case Format::kBf16:
    case Format::kFp16:
      return 2 * n;
    case Format::kFp8E4M3:
      return n;
    case Format::kNvfp4:
    case Format::kMxfp4:
      return n / 2;
  }
  return 0;
}

size_t ScaleBytes(Format f, size_t n) {
  const size_t block = FormatBlock(f);
  return block > 1 ? n / block : 0;
}

absl::Status ValidateShape(Format f, size_t total_elements, size_t cols) {
  const size_t block = FormatBlock(f);
  if (cols == 0) return absl::InvalidArgumentError("cols must be positive");
  if (total_elements == 0) return absl::InvalidArgumentError("tensor is empty");
  if (total_elements % cols != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("element count ", total_elements, " is not a multiple of cols ", cols));
  }
  if (cols % block != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cols ", cols, " is not a multiple of the ",
                                                   FormatName(f), " block size ", block));
  }
  return absl::OkStatus();
}

absl::StatusOr<float> GDecFromAmax(float amax, float divisor) {
  if (!std::isfinite(amax)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor amax is ", amax, ": inputs must be finite to derive a global scale"));
  }
  if (amax == 0.0f) return 1.0f;
  const float g = amax / divisor;
  if (!(g > 0.0f) || !std::isfinite(g)) {
    return absl::InvalidArgumentError(
        absl::StrCat("global scale ", g, " from amax ", amax, " is not a positive finite float"));
  }
  return g;
}

bool FastPathIsVectorised() { return fast::HasAvx2(); }

float AbsMax(DType t, const void* src, size_t n, Impl impl) {
  return impl == Impl::kFast ? fast::AbsMax(t, src, n) : reference::AbsMax(t, src, n);
}

void Nvfp4Quantize(DType t, const void* src, size_t n, float g_dec, uint8_t* data, uint8_t* scales,
                   Impl impl) {
  if (impl == Impl::kFast) return fast::Nvfp4Quantize(t, src, n, g_dec, data, scales);
  reference::Nvfp4Quantize(t, src, n, g_dec, data, scales);
}

void Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec, DType t,
                     void* dst, Impl impl) {
  if (impl == Impl::kFast) return fast::Nvfp4Dequantize(data, scales, n, g_dec, t, dst);
  reference::Nvfp4Dequantize(data, scales, n, g_dec, t, dst);
}

void Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n, uint8_t* dst,
                          Impl impl) {
  if (impl == Impl::kFast) return fast::Nvfp4DequantizeToFp8(data, scales, n, dst);
  reference::Nvfp4DequantizeToFp8(data, scales, n, dst);
}

void Mxfp4Quantize(DType t, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                   uint8_t* scales, Impl impl) {
  if (impl == Impl::kFast) return fast::Mxfp4Quantize(t, src, n, mode, data, scales);
  reference::Mxfp4Quantize(t, src, n, mode, data, scales);
}

void Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType t, void* dst,
                     Impl impl) {
  if (impl == Impl::kFast) return fast::Mxfp4Dequantize(data, scales, n, t, dst);
  reference::Mxfp4Dequantize(data, scales, n, t, dst);
}

void Fp8Quantize(DType t, const void* src, size_t n, float s, uint8_t* dst, Impl impl) {
  if (impl == Impl::kFast) return fast::Fp8Quantize(t, src, n, s, dst);
  reference::Fp8Quantize(t, src, n, s, dst);
}

void Fp8Dequantize(const uint8_t* src, size_t n, float s, DType t, void* dst, Impl impl) {
  if (impl == Impl::kFast) return fast::Fp8Dequantize(src, n, s, t, dst);
  reference::Fp8Dequantize(src, n, s, t, dst);
}

void ConvertDType(DType from, const void* src, size_t n, DType to, void* dst, Impl impl) {
  if (impl == Impl::kFast) return fast::ConvertDType(from, src, n, to, dst);
  reference::ConvertDType(from, src, n, to, dst);
}

}  // namespace kvstash::kernels
