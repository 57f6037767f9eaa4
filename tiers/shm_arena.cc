#include "tiers/shm_arena.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace kvstash::tiers {
namespace {

absl::Status Errno(absl::string_view what, int err) {
  const std::string msg = absl::StrCat(what, ": ", strerror(err));
  return err == ENOMEM || err == ENOSPC ? absl::ResourceExhaustedError(msg)
                                        : absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShmArena>> ShmArena::Create(const std::string& name, uint64_t bytes,
                                                           bool prefault) {
  if (bytes == 0) return absl::InvalidArgumentError("shared-memory arena size must be positive");
  const int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return Errno("memfd_create", errno);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    close(fd);
    return Errno(absl::StrCat("ftruncate memfd to ", bytes, " bytes"), err);
  }
  const int flags = MAP_SHARED | (prefault ? MAP_POPULATE : 0);
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    close(fd);
    return Errno(absl::StrCat("mmap ", bytes, " bytes of memfd"), err);
  }
  return std::unique_ptr<ShmArena>(new ShmArena(fd, static_cast<char*>(base), bytes));
}

ShmArena::~ShmArena() {
  munmap(base_, size_);
  close(fd_);
}

}  // namespace kvstash::tiers
