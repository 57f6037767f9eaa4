// Test helpers for the admin HTTP server: a blocking raw-socket client that
// sees exactly the bytes on the wire, and a server running on its own thread
// and kj event loop. Test-only; included by admin_http*_test.cc.
#ifndef KVSTASH_SERVICE_ADMIN_HTTP_TESTING_H_
#define KVSTASH_SERVICE_ADMIN_HTTP_TESTING_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <kj/debug.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/admin_http.h"

namespace kvstash::service::admin_http_testing {

class RawConnection {
 public:
  explicit RawConnection(uint32_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    EXPECT_GE(fd_, 0);
    timeval tv{30, 0};  // a safety net against a hung test, not a timing assertion
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~RawConnection() { close(fd_); }

  void Send(absl::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early (e.g. after 413); reading tells
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  void CloseWrite() { shutdown(fd_, SHUT_WR); }
  // Everything until the server closes the connection.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  const int fd_;
};

struct Reply {
  std::string status_line;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int status() const {
    std::vector<std::string> parts = absl::StrSplit(status_line, ' ');
    return parts.size() > 1 ? std::stoi(parts[1]) : 0;
  }
};

inline Reply ParseReply(const std::string& raw) {
  Reply r;
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  r.status_line = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  r.body = raw.substr(end + 4);
  return r;
}

// Sends one request, half-closes, and reads the whole answer.
inline Reply Exchange(uint32_t port, absl::string_view request) {
  RawConnection c(port);
  c.Send(request);
  c.CloseWrite();
  return ParseReply(c.ReadAll());
}

inline Reply Get(uint32_t port, absl::string_view path) {
  return Exchange(port, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n\r\n"));
}

// ------------------------------------------------ a server on its own thread --

class ServerThread {
 public:
  using Configure = std::function<void(AdminHttpServer&, kj::Timer&)>;

  explicit ServerThread(Configure configure = nullptr, AdminHttpOptions options = {})
      : thread_([this, configure, options] { Run(configure, options); }) {
    port_ = started_.get_future().get();
  }
  ~ServerThread() {
    stop_->fulfill();
    thread_.join();
  }
  uint32_t port() const { return port_; }
  MetricsRegistry& metrics() { return metrics_; }

 private:
  void Run(const Configure& configure, const AdminHttpOptions& options) {
    kj::AsyncIoContext io = kj::setupAsyncIo();
    AdminHttpServer server(io.provider->getTimer(), &metrics_, options);
    if (configure) configure(server, io.provider->getTimer());
    absl::StatusOr<kj::Own<kj::NetworkAddress>> addr =
        ResolveAddress(io.provider->getNetwork(), "127.0.0.1:0", io.waitScope);
    KJ_ASSERT(addr.ok());
    absl::StatusOr<uint32_t> port = server.Start(**addr);
    KJ_ASSERT(port.ok());
    auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
    stop_ = kj::mv(stop.fulfiller);
    started_.set_value(*port);
    stop.promise.wait(io.waitScope);
  }

  MetricsRegistry metrics_;
  std::promise<uint32_t> started_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  uint32_t port_ = 0;
  std::thread thread_;  // last: starts after the members above exist
};

// POST /v1/echo answers "query|body[|X-Test header]"; GET /v1/later answers
// asynchronously with 201.
inline void AddEchoRoutes(AdminHttpServer& s, kj::Timer& timer) {
  ASSERT_TRUE(s.AddRoute(kj::HttpMethod::POST, "/v1/echo", [](const HttpRequest& req) {
                 HttpResponse r;
                 r.content_type = "application/octet-stream";
                 auto test_header = req.headers.find("x-test");
                 r.body = absl::StrCat(req.query, "|", req.body,
                                       test_header == req.headers.end() ? "" : "|",
                                       test_header == req.headers.end() ? "" : test_header->second);
                 r.headers.emplace_back("X-Body-Bytes", std::to_string(req.body.size()));
                 return r;
               }).ok());
  // An asynchronous handler that answers on a later turn of the event loop.
  ASSERT_TRUE(s.AddAsyncRoute(kj::HttpMethod::GET, "/v1/later", [&timer](HttpRequest req) {
                 return timer.afterDelay(1 * kj::MILLISECONDS).then([req = std::move(req)] {
                   return HttpResponse{201, "text/plain", "later:" + req.query, {}};
                 });
               }).ok());
}

}  // namespace kvstash::service::admin_http_testing

#endif  // KVSTASH_SERVICE_ADMIN_HTTP_TESTING_H_
