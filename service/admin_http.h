// The admin/ops HTTP endpoint of kvstashd (DESIGN.md "Node service"):
//
//   GET /metrics    Prometheus text (MetricsRegistry::RenderPrometheus),
//                   Content-Type "text/plain; version=0.0.4; charset=utf-8"
//   GET /healthz    200 "ok" while the process runs
//   GET /readyz     200 "ready" when the readiness check returns OK, else
//                   503 "not ready: <message>"
//   GET /v1/stats   JSON from the stats source ("{}" when none is set)
//
// plus routes added with AddRoute/AddAsyncRoute (e.g. POST /v1/placement).
// HEAD is answered for every GET route. Unknown paths get 404, a known path
// with another method 405 with an Allow header, a body over
// max_body_bytes 413, a malformed request 400 (kj-http's parser). A handler
// that throws gets 500 (503 for kj OVERLOADED/DISCONNECTED, 501 for
// UNIMPLEMENTED): kj exceptions are caught here, at the boundary (STYLE.md 8),
// and never escape into the daemon.
//
// Built on kj-http (Cap'n Proto 0.9.2). The server runs on the caller's kj
// event loop; one slow or garbage client holds only its own connection (kj's
// header timeout closes it), never the loop.
//
// Ownership: the caller owns the AdminHttpServer, the kj::Timer and the
// MetricsRegistry, which must outlive it; the server owns its routes and, after
// Start(), its listening socket. Destroying the server cancels its listeners
// and open connections.
//
// Thread safety: not thread-safe. Construct, configure, start and destroy the
// server on the thread that runs its kj event loop; handlers run on that
// thread too and must not block it. The callbacks may read state owned by
// other threads only through that state's own synchronisation.
#ifndef KVSTASH_SERVICE_ADMIN_HTTP_H_
#define KVSTASH_SERVICE_ADMIN_HTTP_H_

#include <kj/async-io.h>
#include <kj/compat/http.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/metrics.h"

namespace kvstash::service {

struct HttpRequest {
  kj::HttpMethod method = kj::HttpMethod::GET;
  std::string path;   // the URL up to '?', not percent-decoded
  std::string query;  // after '?', not decoded; "" when none
  // Lower-case names; repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A JSON error response for a non-OK status, with the HTTP status mapped from
// the code (InvalidArgument 400, NotFound 404, AlreadyExists/FailedPrecondition
// 409, ResourceExhausted 429, Unimplemented 501, Unavailable 503, ...):
//   {"error":{"code":"INVALID_ARGUMENT","message":"..."}}
HttpResponse StatusResponse(const absl::Status& status);
int HttpStatusFor(absl::StatusCode code);
// "\"...\"" with JSON escapes, for handlers that build small JSON bodies.
std::string JsonString(absl::string_view s);

struct AdminHttpOptions {
  size_t max_body_bytes = 1 << 20;
  kj::Duration header_timeout = 15 * kj::SECONDS;  // a client must send headers within this
  kj::Duration relisten_delay = 1 * kj::SECONDS;   // after accept() fails (e.g. EMFILE)
};

class AdminHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using AsyncHandler = std::function<kj::Promise<HttpResponse>(HttpRequest)>;
  using ReadinessCheck = std::function<absl::Status()>;
  using StatsSource = std::function<absl::StatusOr<std::string>()>;

  // REQUIRES: `metrics` is not null.
  AdminHttpServer(kj::Timer& timer, const MetricsRegistry* metrics,
                  AdminHttpOptions options = AdminHttpOptions());
  ~AdminHttpServer();
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  // Until a check is set, /readyz answers 503 "not ready: starting".
  void SetReadinessCheck(ReadinessCheck check);
  // A source returning an error makes /v1/stats answer StatusResponse(error).
  void SetStatsSource(StatsSource source);

  // `path` is matched exactly (no query). AlreadyExists when the method and
  // path are taken; InvalidArgument unless the path starts with '/'.
  absl::Status AddRoute(kj::HttpMethod method, std::string path, Handler handler);
  absl::Status AddAsyncRoute(kj::HttpMethod method, std::string path, AsyncHandler handler);

  // Serves connections from `listener` until the promise is cancelled or
  // accept() fails. The caller keeps `listener` alive while the promise is.
  kj::Promise<void> Listen(kj::ConnectionReceiver& listener);
  // Binds `address`, serves it until the server is destroyed (re-listening
  // after accept() errors), and returns the bound port (useful with port 0).
  // Unavailable when binding fails (e.g. address in use).
  absl::StatusOr<uint32_t> Start(kj::NetworkAddress& address);

  // Requests that failed inside the server itself (a handler exception or an
  // invalid response), for tests and a metric.
  uint64_t internal_errors() const { return internal_errors_; }
  // Requests kj-http could not parse (answered 400 or, without a request
  // line to answer, dropped).
  uint64_t protocol_errors() const { return protocol_errors_; }

 private:
  class Service;
  class ErrorHandler;
  class ListenErrors;
  struct Route {
    AsyncHandler handler;
  };

  // Routes a request: 400 for a URL that is not a path, 404, 405.
  kj::Promise<HttpResponse> Dispatch(kj::HttpMethod method, std::string url,
                                     const kj::HttpHeaders& headers, kj::AsyncInputStream& body);
  // Enforces the body limit (413), runs the handler, maps its exceptions.
  kj::Promise<HttpResponse> ReadBodyAndRun(AsyncHandler handler, HttpRequest request,
                                           kj::AsyncInputStream& body);
  kj::Promise<void> ListenForever(kj::ConnectionReceiver& listener);
  void AddBuiltinRoutes();

  // Constant after construction.
  kj::Timer& timer_;
  const MetricsRegistry* const metrics_;
  const AdminHttpOptions options_;
  kj::Own<kj::HttpHeaderTable> header_table_;

  // Event-loop thread only.
  ReadinessCheck readiness_;
  StatsSource stats_;
  std::map<std::string, std::map<kj::HttpMethod, Route>> routes_;
  uint64_t internal_errors_ = 0;
  uint64_t protocol_errors_ = 0;
  std::unique_ptr<Service> service_;
  std::unique_ptr<ErrorHandler> error_handler_;
  kj::Own<kj::HttpServer> server_;
  std::vector<kj::Own<kj::ConnectionReceiver>> listeners_;
  std::unique_ptr<ListenErrors> listen_errors_;
  kj::Own<kj::TaskSet> tasks_;  // Start()'s listen loops; declared last, destroyed first
};

// Resolves "host:port" (numeric or a name) on `network`, waiting on
// `wait_scope`. REQUIRES: not called from inside a promise callback.
absl::StatusOr<kj::Own<kj::NetworkAddress>> ResolveAddress(kj::Network& network,
                                                           absl::string_view address,
                                                           kj::WaitScope& wait_scope);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_ADMIN_HTTP_H_
