// CPU-only builds (KVSTASH_HAVE_CUDA=OFF): there is no device tier.
#include "tiers/device_arena.h"

namespace kvstash::tiers {

absl::StatusOr<std::unique_ptr<DeviceArena>> CreateDeviceArena(int device, uint64_t bytes) {
  return absl::UnavailableError(
      "device tier unavailable: kvstash was built without CUDA (KVSTASH_WITH_CUDA=OFF or no nvcc)");
}

}  // namespace kvstash::tiers
