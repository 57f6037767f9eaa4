#include "tiers/shm_arena.h"

#include <errno.h>
#include <fcntl.h>
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
  const int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Errno("memfd_create", errno);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    close(fd);
    return Errno(absl::StrCat("ftruncate memfd to ", bytes, " bytes"), err);
  }
  // Whoever receives the fd must not be able to resize it: shrinking it would
  // make this process's reads of the mapping fault (SIGBUS).
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    const int err = errno;
    close(fd);
    return Errno("sealing the memfd's size", err);
  }
  // A second open file description without write access, for readers in
  // other processes: they cannot map it writable.
  const int ro = open(absl::StrCat("/proc/self/fd/", fd).c_str(), O_RDONLY | O_CLOEXEC);
  if (ro < 0) {
    const int err = errno;
    close(fd);
    return Errno("reopening the memfd read-only", err);
  }
  const int flags = MAP_SHARED | (prefault ? MAP_POPULATE : 0);
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    close(ro);
    close(fd);
    return Errno(absl::StrCat("mmap ", bytes, " bytes of memfd"), err);
  }
  return std::unique_ptr<ShmArena>(new ShmArena(fd, ro, static_cast<char*>(base), bytes));
}

ShmArena::~ShmArena() {
  munmap(base_, size_);
  close(read_only_fd_);
  close(fd_);
}

}  // namespace kvstash::tiers
