// DeviceBuffer: an owned block of CUDA device memory (cudaMalloc / cudaFree)
// with synchronous host copies, for tests, benchmarks and tools that drive
// the kernels in cuda_codec.h without including CUDA headers themselves.
//
// Thread safety: a DeviceBuffer is not synchronised; distinct buffers are
// independent. Copies use the legacy default stream and block the host.
#ifndef KVSTASH_KERNELS_CUDA_DEVICE_BUFFER_H_
#define KVSTASH_KERNELS_CUDA_DEVICE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvstash::kernels::cuda {

class DeviceBuffer {
 public:
  // Allocates `bytes` (at least 1) of device memory; Unavailable without a
  // device, ResourceExhausted when the device is out of memory.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DeviceBuffer>> Create(size_t bytes);

  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  size_t size() const { return size_; }
  void* get() const { return ptr_; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(ptr_); }

  // REQUIRES: offset + count <= size().
  [[nodiscard]] absl::Status CopyFromHost(const void* src, size_t count, size_t offset = 0);
  [[nodiscard]] absl::Status CopyToHost(void* dst, size_t count, size_t offset = 0) const;
  // Sets every byte to `value` (tests poison outputs to catch unwritten bytes).
  [[nodiscard]] absl::Status Fill(uint8_t value);

 private:
  DeviceBuffer(void* ptr, size_t size) : ptr_(ptr), size_(size) {}

  void* const ptr_;
  const size_t size_;
};

}  // namespace kvstash::kernels::cuda

#endif  // KVSTASH_KERNELS_CUDA_DEVICE_BUFFER_H_
