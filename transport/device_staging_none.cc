// device_staging.h without CUDA: nothing is staged, and every call says why.
#include "transport/device_staging.h"

namespace kvstash::transport::staging {
namespace {

absl::Status NoCuda() {
  return absl::UnavailableError("device memory: kvstash was built without CUDA");
}

}  // namespace

absl::Status Available() { return NoCuda(); }
absl::StatusOr<std::unique_ptr<PinnedBuffer>> AllocatePinned(size_t) { return NoCuda(); }
absl::Status CopyToDevice(void*, const void*, size_t) { return NoCuda(); }
absl::Status CopyToHost(void*, const void*, size_t) { return NoCuda(); }

}  // namespace kvstash::transport::staging
