#include "bench/redis_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kvstash::bench {
namespace {

constexpr size_t kBufferBytes = 64 << 10;
constexpr size_t kMaxIov = 512;  // well under IOV_MAX (1024)

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("redis: ", what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(const std::string& host,
                                                                  int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("redis: '", host, "' is not an IPv4 address"));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  auto client = std::unique_ptr<RedisClient>(new RedisClient(fd));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno(absl::StrCat("connect to ", host, ":", port));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  client->buf_.resize(kBufferBytes);
  return client;
}

RedisClient::~RedisClient() { close(fd_); }

absl::Status RedisClient::Send(absl::Span<const absl::string_view> args) {
  // RESP: *<argc>\r\n then $<len>\r\n<bytes>\r\n per argument. The headers
  // are formatted into one string; the argument bytes are sent in place.
  std::string headers = absl::StrCat("*", args.size(), "\r\n");
  std::vector<size_t> header_end;
  for (absl::string_view a : args) {
    absl::StrAppend(&headers, "$", a.size(), "\r\n");
    header_end.push_back(headers.size());
    headers += "\r\n";
  }
  std::vector<iovec> iov;
  size_t from = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    iov.push_back({headers.data() + from, header_end[i] - from});
    iov.push_back({const_cast<char*>(args[i].data()), args[i].size()});
    from = header_end[i];
  }
  iov.push_back({headers.data() + from, headers.size() - from});
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min(iov.size() - first, kMaxIov));
    const ssize_t n = writev(fd_, &iov[first], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::Status RedisClient::Fill() {
  if (pos_ == end_) pos_ = end_ = 0;
  if (end_ == buf_.size()) {  // a line longer than the buffer: keep what is unread
    buf_.erase(0, pos_);
    end_ -= pos_;
    pos_ = 0;
    buf_.resize(std::max(buf_.size(), end_ * 2));
  }
  for (;;) {
    const ssize_t n = read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return absl::OkStatus();
    }
    if (n == 0) return absl::UnavailableError("redis: connection closed by the server");
    if (errno != EINTR) return Errno("read");
  }
}

absl::Status RedisClient::ReadLine(std::string* line) {
  for (;;) {
    const void* cr = std::memchr(buf_.data() + pos_, '\r', end_ - pos_);
    if (cr != nullptr) {
      const size_t at = static_cast<const char*>(cr) - buf_.data();
      if (at + 1 < end_) {
        line->assign(buf_, pos_, at - pos_);
        pos_ = at + 2;  // past \r\n
        return absl::OkStatus();
      }
    }
    if (absl::Status s = Fill(); !s.ok()) return s;
  }
}

absl::Status RedisClient::ReadExact(char* dst, size_t n) {
  const size_t buffered = std::min(n, end_ - pos_);
  if (dst != nullptr) std::memcpy(dst, buf_.data() + pos_, buffered);
  pos_ += buffered;
  size_t done = buffered;
  while (done < n) {
    if (dst == nullptr) {  // discard through the buffer
      if (absl::Status s = Fill(); !s.ok()) return s;
      const size_t take = std::min(n - done, end_ - pos_);
      pos_ += take;
      done += take;
      continue;
    }
    const ssize_t r = read(fd_, dst + done, n - done);  // large values: straight in
    if (r > 0) {
      done += static_cast<size_t>(r);
    } else if (r == 0) {
      return absl::UnavailableError("redis: connection closed by the server");
    } else if (errno != EINTR) {
      return Errno("read");
    }
  }
  return absl::OkStatus();
}

absl::Status RedisClient::Receive(Reply* reply, std::string* bulk) {
  if (absl::Status s = ReadLine(&reply->line); !s.ok()) return s;
  if (reply->line.empty()) return absl::DataLossError("redis: empty reply line");
  reply->type = reply->line[0];
  reply->line.erase(0, 1);
  switch (reply->type) {
    case '+':
    case ':':
      return absl::OkStatus();
    case '-':
      return absl::InternalError(absl::StrCat("redis: ", reply->line));
    case '$': {
      int64_t n = 0;
      if (!absl::SimpleAtoi(reply->line, &n) || n < -1) {
        return absl::DataLossError(absl::StrCat("redis: bad bulk length '", reply->line, "'"));
      }
      reply->is_nil = n < 0;
      if (reply->is_nil) return absl::OkStatus();
      char* dst = nullptr;
      if (bulk != nullptr) {
        bulk->resize(static_cast<size_t>(n));
        dst = bulk->data();
      }
      if (absl::Status s = ReadExact(dst, static_cast<size_t>(n)); !s.ok()) return s;
      char crlf[2];
      return ReadExact(crlf, 2);
    }
    default:
      return absl::DataLossError(
          absl::StrCat("redis: unexpected reply type '", std::string(1, reply->type), "'"));
  }
}

absl::Status RedisClient::Ping() {
  const absl::string_view args[] = {"PING"};
  if (absl::Status s = Send(args); !s.ok()) return s;
  Reply r;
  return Receive(&r, nullptr);
}

absl::Status RedisClient::Set(absl::string_view key, absl::string_view value) {
  const absl::string_view args[] = {"SET", key, value};
  if (absl::Status s = Send(args); !s.ok()) return s;
  Reply r;
  return Receive(&r, nullptr);
}

absl::Status RedisClient::Get(absl::string_view key, std::string* value) {
  const absl::string_view args[] = {"GET", key};
  if (absl::Status s = Send(args); !s.ok()) return s;
  Reply r;
  if (absl::Status s = Receive(&r, value); !s.ok()) return s;
  if (r.type != '$') return absl::DataLossError("redis: GET did not answer a bulk string");
  if (r.is_nil) return absl::NotFoundError(absl::StrCat("redis: no key '", key, "'"));
  return absl::OkStatus();
}

absl::Status RedisClient::SetMany(absl::Span<const std::string> keys,
                                  absl::Span<const absl::string_view> values) {
  for (size_t i = 0; i < keys.size(); ++i) {
    const absl::string_view args[] = {"SET", keys[i], values[i]};
    if (absl::Status s = Send(args); !s.ok()) return s;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    Reply r;
    if (absl::Status s = Receive(&r, nullptr); !s.ok()) return s;
    if (r.type != '+') return absl::DataLossError(absl::StrCat("redis: SET failed: ", r.line));
  }
  return absl::OkStatus();
}

absl::Status RedisClient::GetMany(absl::Span<const std::string> keys,
                                  std::vector<std::string>* values) {
  values->resize(keys.size());
  for (const std::string& k : keys) {
    const absl::string_view args[] = {"GET", k};
    if (absl::Status s = Send(args); !s.ok()) return s;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    Reply r;
    if (absl::Status s = Receive(&r, &(*values)[i]); !s.ok()) return s;
    if (r.type != '$') return absl::DataLossError("redis: GET did not answer a bulk string");
    if (r.is_nil) return absl::NotFoundError(absl::StrCat("redis: no key '", keys[i], "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RedisClient::Del(absl::Span<const std::string> keys) {
  std::vector<absl::string_view> args = {"DEL"};
  for (const std::string& k : keys) args.push_back(k);
  if (absl::Status s = Send(args); !s.ok()) return s;
  Reply r;
  if (absl::Status s = Receive(&r, nullptr); !s.ok()) return s;
  int64_t n = 0;
  if (r.type != ':' || !absl::SimpleAtoi(r.line, &n)) {
    return absl::DataLossError("redis: DEL did not answer an integer");
  }
  return n;
}

}  // namespace kvstash::bench
