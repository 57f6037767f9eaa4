// GPU memory behind the device tier, with no CUDA type in sight: one
// cudaMalloc'd arena per GPU, copies in and out, and the CUDA IPC handle
// another process on the same GPU opens (cudaIpcOpenMemHandle) to read a
// block at its slot offset. Built from device_arena_cuda.cc when CUDA is
// available, else from device_arena_none.cc, whose factory reports why not.
//
// Ownership: the arena owns its allocation and frees it on destruction.
// Thread safety: methods may be called concurrently; each sets the device
// for the calling thread first.
#ifndef KVSTASH_TIERS_DEVICE_ARENA_H_
#define KVSTASH_TIERS_DEVICE_ARENA_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvstash::tiers {

class DeviceArena {
 public:
  virtual ~DeviceArena() = default;
  virtual int device() const = 0;
  virtual uint64_t size() const = 0;
  // Synchronous copies between host memory and [offset, offset + n).
  virtual absl::Status CopyIn(uint64_t offset, const void* src, uint64_t n) = 0;
  virtual absl::Status CopyOut(uint64_t offset, void* dst, uint64_t n) = 0;
  // Device address of the arena's first byte (for kernels on this GPU).
  virtual void* device_base() const = 0;
  // The opaque cudaIpcMemHandle_t of the whole arena (64 bytes).
  virtual std::string ipc_handle() const = 0;
};

// Unavailable, with the reason, on a machine or build without a usable GPU.
absl::StatusOr<std::unique_ptr<DeviceArena>> CreateDeviceArena(int device, uint64_t bytes);

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_DEVICE_ARENA_H_
