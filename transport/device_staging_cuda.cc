// device_staging.h over the CUDA runtime.
#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"
#include "transport/device_staging.h"

namespace kvstash::transport::staging {
namespace {

absl::Status CudaError(cudaError_t e, const char* what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")"));
}

class CudaPinnedBuffer final : public PinnedBuffer {
 public:
  CudaPinnedBuffer(void* p, size_t n) : p_(p), n_(n) {}
  ~CudaPinnedBuffer() override { cudaFreeHost(p_); }
  CudaPinnedBuffer(const CudaPinnedBuffer&) = delete;
  CudaPinnedBuffer& operator=(const CudaPinnedBuffer&) = delete;
  void* data() const override { return p_; }
  size_t size() const override { return n_; }

 private:
  void* const p_;
  const size_t n_;
};

}  // namespace

absl::Status Available() {
  static const absl::Status* status = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return new absl::Status(CudaError(e, "device memory: no usable GPU"));
    if (n == 0) return new absl::Status(absl::UnavailableError("device memory: no GPU visible"));
    return new absl::Status();
  }();
  return *status;
}

absl::StatusOr<std::unique_ptr<PinnedBuffer>> AllocatePinned(size_t bytes) {
  if (absl::Status s = Available(); !s.ok()) return s;
  void* p = nullptr;
  if (const cudaError_t e = cudaHostAlloc(&p, bytes, cudaHostAllocPortable); e != cudaSuccess) {
    return CudaError(e, absl::StrCat("cudaHostAlloc of ", bytes, " bytes").c_str());
  }
  return std::unique_ptr<PinnedBuffer>(new CudaPinnedBuffer(p, bytes));
}

absl::Status CopyToDevice(void* device_dst, const void* host_src, size_t n) {
  if (const cudaError_t e = cudaMemcpy(device_dst, host_src, n, cudaMemcpyHostToDevice);
      e != cudaSuccess) {
    return CudaError(e, "staging copy to the device");
  }
  return absl::OkStatus();
}

absl::Status CopyToHost(void* host_dst, const void* device_src, size_t n) {
  if (const cudaError_t e = cudaMemcpy(host_dst, device_src, n, cudaMemcpyDeviceToHost);
      e != cudaSuccess) {
    return CudaError(e, "staging copy from the device");
  }
  return absl::OkStatus();
}

}  // namespace kvstash::transport::staging
