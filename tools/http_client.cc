#include "tools/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kvstash::tools {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

absl::StatusOr<int> Connect(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
  }
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve '", address, "': ", gai_strerror(rc)));
  }
  int fd = -1;
  int err = 0;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address, ": ", strerror(err)));
  }
  return fd;
}

absl::Status WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  const int rc = ::poll(&p, 1, timeout_ms);
  if (rc == 0) return absl::DeadlineExceededError("kvstashd did not answer in time");
  if (rc < 0) return absl::UnavailableError(strerror(errno));
  return absl::OkStatus();
}

// Whether `raw` holds a whole reply: headers plus Content-Length bytes.
bool Complete(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const std::string head = absl::AsciiStrToLower(raw.substr(0, head_end));
  const size_t at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) return false;  // read to EOF
  size_t length = 0;
  const size_t from = at + 17;
  const std::string digits =
      std::string(absl::StripAsciiWhitespace(head.substr(from, head.find("\r\n", from) - from)));
  return absl::SimpleAtoi(digits, &length) && raw.size() - head_end - 4 >= length;
}

absl::StatusOr<HttpReply> ParseReply(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (!absl::StartsWith(raw, "HTTP/1.") || head_end == std::string::npos || raw.size() < 12) {
    return absl::UnavailableError("malformed HTTP reply from kvstashd");
  }
  HttpReply r;
  if (!absl::SimpleAtoi(raw.substr(9, 3), &r.status)) {
    return absl::UnavailableError("malformed HTTP status line from kvstashd");
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

}  // namespace

absl::StatusOr<HttpReply> HttpCall(const std::string& address, absl::string_view method,
                                   absl::string_view path, absl::string_view body, int timeout_ms) {
  absl::StatusOr<int> fd_or = Connect(address);
  if (!fd_or.ok()) return fd_or.status();
  Fd fd(*fd_or);
  std::string req =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", address, "\r\nConnection: close\r\n");
  if (!body.empty() || method == "POST") {
    absl::StrAppend(&req, "Content-Type: application/json\r\nContent-Length: ", body.size(),
                    "\r\n");
  }
  absl::StrAppend(&req, "\r\n", body);
  for (size_t sent = 0; sent < req.size();) {
    if (absl::Status s = WaitFor(fd.get(), POLLOUT, timeout_ms); !s.ok()) return s;
    const ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("sending to ", address, ": ", strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    if (absl::Status s = WaitFor(fd.get(), POLLIN, timeout_ms); !s.ok()) return s;
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("reading from ", address, ": ", strerror(errno)));
    }
    raw.append(buf, static_cast<size_t>(n));
    if (Complete(raw)) break;
  }
  return ParseReply(raw);
}

}  // namespace kvstash::tools
