// Pinned host memory and synchronous copies between it and GPU memory, for
// transports that move device buffers through host memory (Debian's UCX has
// no CUDA transports; DESIGN.md "Cluster"). Built from device_staging_cuda.cc
// when CUDA is available, else from device_staging_none.cc, which reports why
// not. No CUDA type appears here.
//
// Thread safety: every function may be called from any thread.
#ifndef KVSTASH_TRANSPORT_DEVICE_STAGING_H_
#define KVSTASH_TRANSPORT_DEVICE_STAGING_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvstash::transport::staging {

// Page-locked host memory; freed on destruction.
class PinnedBuffer {
 public:
  virtual ~PinnedBuffer() = default;
  virtual void* data() const = 0;
  virtual size_t size() const = 0;
};

// OK when this build has CUDA and the process sees a device, else
// Unavailable with the reason. Cached after the first call.
absl::Status Available();

absl::StatusOr<std::unique_ptr<PinnedBuffer>> AllocatePinned(size_t bytes);

// Synchronous copies (the caller is a transport's thread; a block is small).
absl::Status CopyToDevice(void* device_dst, const void* host_src, size_t n);
absl::Status CopyToHost(void* host_dst, const void* device_src, size_t n);

}  // namespace kvstash::transport::staging

#endif  // KVSTASH_TRANSPORT_DEVICE_STAGING_H_
