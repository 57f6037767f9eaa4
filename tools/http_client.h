// A blocking HTTP/1.1 client for the CLI's calls to kvstashd's admin port
// (POST /v1/placement, GET /v1/workers): one request per connection,
// "Connection: close", body read to EOF (or Content-Length).
#ifndef KVSTASH_TOOLS_HTTP_CLIENT_H_
#define KVSTASH_TOOLS_HTTP_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::tools {

struct HttpReply {
  int status = 0;
  std::string body;
};

// `address`: host:port (IPv4 or a name). `body` empty sends no body.
// Unavailable when the connection fails or the reply is malformed;
// DeadlineExceeded after `timeout_ms` without progress.
absl::StatusOr<HttpReply> HttpCall(const std::string& address, absl::string_view method,
                                   absl::string_view path, absl::string_view body,
                                   int timeout_ms = 10000);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_HTTP_CLIENT_H_
