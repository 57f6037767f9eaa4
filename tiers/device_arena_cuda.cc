#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"
#include "tiers/device_arena.h"

namespace kvstash::tiers {
namespace {

absl::Status CudaError(absl::string_view what, cudaError_t err) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

class CudaArena final : public DeviceArena {
 public:
  CudaArena(int device, char* base, uint64_t size, const cudaIpcMemHandle_t& handle)
      : device_(device), base_(base), size_(size), handle_(handle) {}
  ~CudaArena() override {
    cudaSetDevice(device_);
    cudaFree(base_);
  }
  CudaArena(const CudaArena&) = delete;
  CudaArena& operator=(const CudaArena&) = delete;

  int device() const override { return device_; }
  uint64_t size() const override { return size_; }
  void* device_base() const override { return base_; }
  std::string ipc_handle() const override {
    return std::string(reinterpret_cast<const char*>(&handle_), sizeof(handle_));
  }

  absl::Status CopyIn(uint64_t offset, const void* src, uint64_t n) override {
    if (cudaError_t e = cudaSetDevice(device_); e != cudaSuccess) return CudaError("set", e);
    cudaError_t e = cudaMemcpy(base_ + offset, src, n, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? absl::OkStatus() : CudaError("cudaMemcpy to device", e);
  }
  absl::Status CopyOut(uint64_t offset, void* dst, uint64_t n) override {
    if (cudaError_t e = cudaSetDevice(device_); e != cudaSuccess) return CudaError("set", e);
    cudaError_t e = cudaMemcpy(dst, base_ + offset, n, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? absl::OkStatus() : CudaError("cudaMemcpy to host", e);
  }

 private:
  const int device_;
  char* const base_;
  const uint64_t size_;
  const cudaIpcMemHandle_t handle_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceArena>> CreateDeviceArena(int device, uint64_t bytes) {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky launch error, if any
    return CudaError("device tier unavailable: no usable GPU (cudaGetDeviceCount)", e);
  }
  if (device < 0 || device >= count) {
    return absl::UnavailableError(
        absl::StrCat("device tier unavailable: GPU ", device, " requested, ", count, " present"));
  }
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return CudaError("cudaSetDevice", e);
  void* base = nullptr;
  if (cudaError_t e = cudaMalloc(&base, bytes); e != cudaSuccess) {
    return CudaError(absl::StrCat("cudaMalloc of ", bytes, " bytes on GPU ", device), e);
  }
  cudaIpcMemHandle_t handle;
  if (cudaError_t e = cudaIpcGetMemHandle(&handle, base); e != cudaSuccess) {
    cudaFree(base);
    return CudaError("cudaIpcGetMemHandle", e);
  }
  return std::unique_ptr<DeviceArena>(
      new CudaArena(device, static_cast<char*>(base), bytes, handle));
}

}  // namespace kvstash::tiers
