#include "kernels/cuda/device_buffer.h"

#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::kernels::cuda {
namespace {

absl::Status CopyStatus(cudaError_t err, const char* what, size_t count) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, " of ", count, " bytes: ", cudaGetErrorString(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceBuffer>> DeviceBuffer::Create(size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cudaMalloc(", bytes, "): ", cudaGetErrorString(err)));
  }
  if (err != cudaSuccess) {
    return absl::UnavailableError(
        absl::StrCat("cudaMalloc(", bytes, "): ", cudaGetErrorString(err)));
  }
  return std::unique_ptr<DeviceBuffer>(new DeviceBuffer(ptr, bytes));
}

DeviceBuffer::~DeviceBuffer() { (void)cudaFree(ptr_); }

absl::Status DeviceBuffer::CopyFromHost(const void* src, size_t count, size_t offset) {
  KVSTASH_CHECK(offset <= size_ && count <= size_ - offset);
  return CopyStatus(cudaMemcpy(bytes() + offset, src, count, cudaMemcpyHostToDevice),
                    "host-to-device copy", count);
}

absl::Status DeviceBuffer::CopyToHost(void* dst, size_t count, size_t offset) const {
  KVSTASH_CHECK(offset <= size_ && count <= size_ - offset);
  return CopyStatus(cudaMemcpy(dst, bytes() + offset, count, cudaMemcpyDeviceToHost),
                    "device-to-host copy", count);
}

absl::Status DeviceBuffer::Fill(uint8_t value) {
  return CopyStatus(cudaMemset(ptr_, value, size_), "cudaMemset", size_);
}

}  // namespace kvstash::kernels::cuda
