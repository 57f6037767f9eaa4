#include "tools/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kvstash::tools {
namespace {

absl::Status Errno(const std::string& what, const std::string& path, const std::string& flag) {
  return absl::InvalidArgumentError(
      absl::StrCat("cannot ", what, " ", flag, " '", path, "': ", std::strerror(errno)));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path,
                                                   const std::string& flag) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("open", path, flag);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("stat", path, flag);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " '", path, "' is not a regular file"));
  }
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t r = ::read(fd.get(), out.data() + done, out.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("read", path, flag);
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  out.resize(done);
  return out;
}

absl::Status WriteWholeFile(const std::string& path, const std::string& flag, const void* data,
                            size_t size) {
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Errno("create", tmp, flag);
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(fd.get(), p + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      ::unlink(tmp.c_str());
      return Errno("write", tmp, flag);
    }
    done += static_cast<size_t>(w);
  }
  if (::close(fd.Release()) != 0) return Errno("close", tmp, flag);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Errno("rename into", path, flag);
  }
  return absl::OkStatus();
}

}  // namespace kvstash::tools
