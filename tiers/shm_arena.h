// A shared-memory arena: an anonymous memfd of a fixed size, mapped
// read-write into this process. Another process that receives the fd (over a
// Unix socket, or by inheritance) maps the same bytes with
//   mmap(nullptr, size(), PROT_READ, MAP_SHARED, fd, 0)
// and reads a block at its slot offset without a copy.
//
// Ownership: the arena owns the fd and the mapping and releases both on
// destruction. Not copyable or movable: hand out pointers to it.
// Thread safety: the accessors are const; callers coordinate access to bytes.
#ifndef KVSTASH_TIERS_SHM_ARENA_H_
#define KVSTASH_TIERS_SHM_ARENA_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kvstash::tiers {

class ShmArena {
 public:
  // `prefault` touches every page now (MAP_POPULATE) instead of on first use.
  static absl::StatusOr<std::unique_ptr<ShmArena>> Create(const std::string& name, uint64_t bytes,
                                                          bool prefault);
  ~ShmArena();
  ShmArena(const ShmArena&) = delete;
  ShmArena& operator=(const ShmArena&) = delete;

  // Read-write; its size is sealed (nobody can shrink or grow it).
  int fd() const { return fd_; }
  // The same memory through a read-only open file description: what readers
  // in other processes get, so that they cannot map it writable.
  int read_only_fd() const { return read_only_fd_; }
  uint64_t size() const { return size_; }
  char* base() const { return base_; }

 private:
  ShmArena(int fd, int read_only_fd, char* base, uint64_t size)
      : fd_(fd), read_only_fd_(read_only_fd), base_(base), size_(size) {}

  const int fd_;
  const int read_only_fd_;
  char* const base_;
  const uint64_t size_;
};

}  // namespace kvstash::tiers

#endif  // KVSTASH_TIERS_SHM_ARENA_H_
