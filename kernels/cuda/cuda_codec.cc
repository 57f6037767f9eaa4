// Host side of kernels/cuda/cuda_codec.h: argument validation (before any CUDA
// call, so it works without a GPU), launch through kernels/cuda/launch.h and
// the mapping of cudaError_t to absl::Status.
#include "kernels/cuda/cuda_codec.h"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kernels/cuda/launch.h"

#ifndef KVSTASH_CUDA_ARCHS
#define KVSTASH_CUDA_ARCHS "unknown"
#endif

#define KVSTASH_CUDA_RETURN_IF_ERROR(expr)    \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (0)

namespace kvstash::kernels::cuda {
namespace {

using internal::Elem;

absl::Status FromCuda(cudaError_t err, absl::string_view what) {
  if (err == cudaSuccess) return absl::OkStatus();
  const std::string detail =
      absl::StrCat(what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
  switch (err) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorSystemNotReady:
    case cudaErrorInitializationError:
      return absl::UnavailableError(absl::StrCat("no usable CUDA device: ", detail));
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorInvalidPtx:
      return absl::FailedPreconditionError(
          absl::StrCat(detail, " (kernels built for CUDA architectures ", KVSTASH_CUDA_ARCHS, ")"));
    default:
      return absl::InternalError(detail);
  }
}

cudaStream_t ToStream(void* stream) { return static_cast<cudaStream_t>(stream); }

absl::Status CheckDType(DType t, absl::string_view field) {
  switch (t) {
    case DType::kF32:
    case DType::kBf16:
    case DType::kF16:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": unknown dtype ", static_cast<int>(t)));
}

Elem ToElem(DType t) { return static_cast<Elem>(static_cast<uint8_t>(t)); }

absl::Status CheckScale(float s, absl::string_view field) {
  if (std::isfinite(s) && s > 0.0f) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " = ", s, " must be finite and > 0"));
}

absl::Status CheckBlock(size_t n, Format f) {
  const size_t block = FormatBlock(f);
  if (n % block == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("n = ", n, " is not a multiple of the ", FormatName(f), " block size ", block));
}

absl::Status CheckPointer(const void* p, size_t alignment, absl::string_view field) {
  if (p == nullptr) return absl::InvalidArgumentError(absl::StrCat(field, " is null"));
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not aligned to its element size (", alignment, " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status CheckBlockBuffers(const void* elems, DType t, absl::string_view elems_field,
                               const void* data, const void* scales) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(elems, DTypeSize(t), elems_field));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(data, 1, "data"));
  return CheckPointer(scales, 1, "scales");
}

struct StreamFree {
  cudaStream_t stream;
  void operator()(void* p) const { (void)cudaFreeAsync(p, stream); }
};

}  // namespace

absl::Status DeviceAvailable() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return absl::UnavailableError(absl::StrCat("no CUDA device: ", cudaGetErrorString(err)));
  }
  if (count == 0) {
    return absl::UnavailableError("no CUDA device: cudaGetDeviceCount found 0 devices");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DeviceDescription() {
  int device = 0;
  KVSTASH_CUDA_RETURN_IF_ERROR(FromCuda(cudaGetDevice(&device), "cudaGetDevice"));
  cudaDeviceProp prop;
  std::memset(&prop, 0, sizeof(prop));
  KVSTASH_CUDA_RETURN_IF_ERROR(
      FromCuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"));
  return absl::StrCat(prop.name, ", compute capability ", prop.major, ".", prop.minor, ", ",
                      prop.multiProcessorCount, " SMs, ", prop.totalGlobalMem >> 30, " GiB");
}

absl::StatusOr<bool> UsesHardwareE2m1() {
  bool hardware = false;
  KVSTASH_CUDA_RETURN_IF_ERROR(
      FromCuda(internal::HardwareE2m1ForCurrentDevice(&hardware), "e2m1 probe"));
  return hardware;
}

absl::Status StreamSynchronize(void* stream) {
  return FromCuda(cudaStreamSynchronize(ToStream(stream)), "cudaStreamSynchronize");
}

absl::Status Nvfp4Quantize(DType in, const void* src, size_t n, float g_dec, uint8_t* data,
                           uint8_t* scales, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(in, "in"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckScale(g_dec, "g_dec"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlock(n, Format::kNvfp4));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlockBuffers(src, in, "src", data, scales));
  return FromCuda(
      internal::LaunchNvfp4Quantize(ToElem(in), src, n, g_dec, data, scales, ToStream(stream)),
      "nvfp4 quantize");
}

absl::Status Nvfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, float g_dec,
                             DType out, void* dst, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(out, "out"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckScale(g_dec, "g_dec"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlock(n, Format::kNvfp4));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlockBuffers(dst, out, "dst", data, scales));
  return FromCuda(
      internal::LaunchNvfp4Dequantize(data, scales, n, g_dec, ToElem(out), dst, ToStream(stream)),
      "nvfp4 dequantize");
}

absl::Status Nvfp4DequantizeToFp8(const uint8_t* data, const uint8_t* scales, size_t n,
                                  uint8_t* dst, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlock(n, Format::kNvfp4));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(dst, 1, "dst"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(data, 1, "data"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(scales, 1, "scales"));
  return FromCuda(internal::LaunchNvfp4DequantizeToFp8(data, scales, n, dst, ToStream(stream)),
                  "nvfp4 dequantize to fp8");
}

absl::Status Mxfp4Quantize(DType in, const void* src, size_t n, MxScaleMode mode, uint8_t* data,
                           uint8_t* scales, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(in, "in"));
  if (mode != MxScaleMode::kFloor && mode != MxScaleMode::kRceil) {
    return absl::InvalidArgumentError(
        absl::StrCat("mode: unknown MX scale mode ", static_cast<int>(mode)));
  }
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlock(n, Format::kMxfp4));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlockBuffers(src, in, "src", data, scales));
  return FromCuda(internal::LaunchMxfp4Quantize(ToElem(in), src, n, mode == MxScaleMode::kRceil,
                                                data, scales, ToStream(stream)),
                  "mxfp4 quantize");
}

absl::Status Mxfp4Dequantize(const uint8_t* data, const uint8_t* scales, size_t n, DType out,
                             void* dst, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(out, "out"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlock(n, Format::kMxfp4));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckBlockBuffers(dst, out, "dst", data, scales));
  return FromCuda(
      internal::LaunchMxfp4Dequantize(data, scales, n, ToElem(out), dst, ToStream(stream)),
      "mxfp4 dequantize");
}

absl::Status Fp8Quantize(DType in, const void* src, size_t n, float s, uint8_t* dst, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(in, "in"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckScale(s, "s"));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(src, DTypeSize(in), "src"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(dst, 1, "dst"));
  return FromCuda(internal::LaunchFp8Quantize(ToElem(in), src, n, s, dst, ToStream(stream)),
                  "fp8 quantize");
}

absl::Status Fp8Dequantize(const uint8_t* src, size_t n, float s, DType out, void* dst,
                           void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(out, "out"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckScale(s, "s"));
  if (n == 0) return absl::OkStatus();
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(src, 1, "src"));
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(dst, DTypeSize(out), "dst"));
  return FromCuda(internal::LaunchFp8Dequantize(src, n, s, ToElem(out), dst, ToStream(stream)),
                  "fp8 dequantize");
}

absl::StatusOr<float> AbsMax(DType in, const void* src, size_t n, void* stream) {
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckDType(in, "in"));
  if (n == 0) return 0.0f;
  KVSTASH_CUDA_RETURN_IF_ERROR(CheckPointer(src, DTypeSize(in), "src"));
  const cudaStream_t s = ToStream(stream);
  void* raw = nullptr;
  KVSTASH_CUDA_RETURN_IF_ERROR(FromCuda(cudaMallocAsync(&raw, sizeof(uint32_t), s), "absmax"));
  const std::unique_ptr<void, StreamFree> scratch(raw, StreamFree{s});
  uint32_t bits = 0;
  auto* dev_bits = static_cast<uint32_t*>(raw);
  KVSTASH_CUDA_RETURN_IF_ERROR(
      FromCuda(internal::LaunchAbsMaxBits(ToElem(in), src, n, dev_bits, s), "absmax"));
  KVSTASH_CUDA_RETURN_IF_ERROR(FromCuda(
      cudaMemcpyAsync(&bits, dev_bits, sizeof(bits), cudaMemcpyDeviceToHost, s), "absmax"));
  KVSTASH_CUDA_RETURN_IF_ERROR(FromCuda(cudaStreamSynchronize(s), "absmax"));
  if (bits > 0x7f800000u) bits = 0x7fc00000u;  // the canonical NaN, as MaxAbsNan returns
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

}  // namespace kvstash::kernels::cuda
