#include "service/admin_http.h"

#include <kj/debug.h>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"

namespace kvstash::service {
namespace {

kj::StringPtr ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 500 ? "Client Error" : "Server Error";
  }
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The boundary where kj exceptions become responses (STYLE.md 8).
HttpResponse FromException(const kj::Exception& e) {
  int status = 500;
  switch (e.getType()) {
    case kj::Exception::Type::OVERLOADED:
    case kj::Exception::Type::DISCONNECTED:
      status = 503;
      break;
    case kj::Exception::Type::UNIMPLEMENTED:
      status = 501;
      break;
    default:
      break;
  }
  return Text(status, absl::StrCat("internal error: ", e.getDescription().cStr(), "\n"));
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

// kj computes these itself; a handler setting them would corrupt the framing.
bool IsReservedHeader(absl::string_view name) {
  for (absl::string_view r : {"connection", "content-length", "content-type", "keep-alive", "te",
                              "trailer", "transfer-encoding", "upgrade"}) {
    if (absl::EqualsIgnoreCase(name, r)) return true;
  }
  return false;
}

// Whether kj will accept the response as it is; handlers are code, but a bad
// header must not turn into an exception while the response is half sent.
bool IsSendable(const HttpResponse& r) {
  if (r.status < 200 || r.status > 599) return false;
  if (!kj::HttpHeaders::isValidHeaderValue(r.content_type.c_str())) return false;
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || IsReservedHeader(name)) return false;
    for (char c : name) {
      if (!IsTokenChar(c)) return false;
    }
    if (value.find('\0') != std::string::npos) return false;
    if (!kj::HttpHeaders::isValidHeaderValue(value.c_str())) return false;
  }
  return true;
}

// Reads a request body of at most `limit` bytes; resolves to false as soon as
// the body turns out to be longer.
class BodyReader {
 public:
  BodyReader(kj::AsyncInputStream& in, size_t limit) : in_(in), limit_(limit) {}

  kj::Promise<bool> Read() {
    return in_.tryRead(buf_, 1, sizeof(buf_)).then([this](size_t n) -> kj::Promise<bool> {
      if (n == 0) return true;
      if (data_.size() + n > limit_) return false;
      data_.append(buf_, n);
      return Read();
    });
  }
  std::string Take() { return std::move(data_); }

 private:
  kj::AsyncInputStream& in_;
  const size_t limit_;
  std::string data_;
  char buf_[16384];
};

}  // namespace

// Adapts kj's HttpService interface to Dispatch() and writes the response.
class AdminHttpServer::Service final : public kj::HttpService {
 public:
  explicit Service(AdminHttpServer& server) : server_(server) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                            Response& response) override {
    return server_.Dispatch(method, std::string(url.cStr()), headers, body)
        .then([this, &response](HttpResponse r) { return Send(std::move(r), response); });
  }

 private:
  kj::Promise<void> Send(HttpResponse r, Response& response) {
    if (!IsSendable(r)) {
      ++server_.internal_errors_;
      r = Text(500, "internal error: the handler produced an invalid response\n");
    }
    auto headers = kj::heap<kj::HttpHeaders>(*server_.header_table_);
    headers->set(kj::HttpHeaderId::CONTENT_TYPE, kj::heapString(r.content_type.c_str()));
    for (const auto& [name, value] : r.headers) {
      headers->add(kj::heapString(name.c_str()), kj::heapString(value.c_str()));
    }
    auto body = kj::heap<std::string>(std::move(r.body));
    kj::Own<kj::AsyncOutputStream> stream =
        response.send(static_cast<uint>(r.status), ReasonPhrase(r.status), *headers, body->size());
    kj::Promise<void> write = stream->write(body->data(), body->size());
    return write.attach(kj::mv(stream), kj::mv(body), kj::mv(headers));
  }

  AdminHttpServer& server_;
};

// Requests kj-http rejects before (or while) handing them to Service: a bad
// request line or header, an invalid Content-Length, a body cut short. Every
// exception thrown by a handler is caught in Dispatch, so what arrives here
// is the client's fault and gets 400; a client that is gone gets nothing.
class AdminHttpServer::ErrorHandler final : public kj::HttpServerErrorHandler {
 public:
  explicit ErrorHandler(AdminHttpServer& server) : server_(server) {}

  kj::Promise<void> handleClientProtocolError(kj::HttpHeaders::ProtocolError error,
                                              kj::HttpService::Response& response) override {
    return BadRequest(error.description, response);
  }

  kj::Promise<void> handleApplicationError(
      kj::Exception exception, kj::Maybe<kj::HttpService::Response&> response) override {
    if (exception.getType() == kj::Exception::Type::DISCONNECTED) return kj::READY_NOW;
    KJ_IF_MAYBE (r, response) {
      return BadRequest(exception.getDescription(), *r);
    }
    ++server_.protocol_errors_;  // e.g. headers over kj's limit: no request to answer
    return kj::READY_NOW;
  }

 private:
  kj::Promise<void> BadRequest(kj::StringPtr why, kj::HttpService::Response& response) {
    ++server_.protocol_errors_;
    auto headers = kj::heap<kj::HttpHeaders>(*server_.header_table_);
    headers->set(kj::HttpHeaderId::CONTENT_TYPE, "text/plain; charset=utf-8");
    auto body = kj::heap(kj::str("bad request: ", why, "\n"));
    kj::Own<kj::AsyncOutputStream> stream =
        response.send(400, "Bad Request", *headers, body->size());
    kj::Promise<void> write = stream->write(body->begin(), body->size());
    return write.attach(kj::mv(stream), kj::mv(body), kj::mv(headers));
  }

  AdminHttpServer& server_;
};

class AdminHttpServer::ListenErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& e) override {
    ABSL_RAW_LOG(ERROR, "admin HTTP listener stopped: %s", e.getDescription().cStr());
  }
};

AdminHttpServer::AdminHttpServer(kj::Timer& timer, const MetricsRegistry* metrics,
                                 AdminHttpOptions options)
    : timer_(timer),
      metrics_(metrics),
      options_(options),
      header_table_(kj::heap<kj::HttpHeaderTable>()),
      service_(std::make_unique<Service>(*this)),
      error_handler_(std::make_unique<ErrorHandler>(*this)),
      listen_errors_(std::make_unique<ListenErrors>()),
      tasks_(kj::heap<kj::TaskSet>(*listen_errors_)) {
  KVSTASH_CHECK(metrics_ != nullptr);
  kj::HttpServerSettings settings;
  settings.headerTimeout = options_.header_timeout;
  settings.errorHandler = *error_handler_;
  server_ = kj::heap<kj::HttpServer>(timer_, *header_table_, *service_, settings);
  AddBuiltinRoutes();
}

AdminHttpServer::~AdminHttpServer() = default;

void AdminHttpServer::AddBuiltinRoutes() {
  const auto get = kj::HttpMethod::GET;
  KVSTASH_CHECK(AddRoute(get, "/metrics", [this](const HttpRequest&) {
                  HttpResponse r;
                  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                  r.body = metrics_->RenderPrometheus();
                  return r;
                }).ok());
  KVSTASH_CHECK(AddRoute(get, "/healthz", [](const HttpRequest&) { return Text(200, "ok"); }).ok());
  KVSTASH_CHECK(
      AddRoute(get, "/readyz", [this](const HttpRequest&) {
        const absl::Status s = readiness_ ? readiness_() : absl::UnavailableError("starting");
        return s.ok() ? Text(200, "ready") : Text(503, absl::StrCat("not ready: ", s.message()));
      }).ok());
  KVSTASH_CHECK(AddRoute(get, "/v1/stats", [this](const HttpRequest&) {
                  absl::StatusOr<std::string> json = stats_ ? stats_() : std::string("{}");
                  if (!json.ok()) return StatusResponse(json.status());
                  HttpResponse r;
                  r.content_type = "application/json";
                  r.body = *std::move(json);
                  return r;
                }).ok());
}

void AdminHttpServer::SetReadinessCheck(ReadinessCheck check) { readiness_ = std::move(check); }

void AdminHttpServer::SetStatsSource(StatsSource source) { stats_ = std::move(source); }

absl::Status AdminHttpServer::AddRoute(kj::HttpMethod method, std::string path, Handler handler) {
  KVSTASH_CHECK(handler != nullptr);
  return AddAsyncRoute(method, std::move(path),
                       [handler = std::move(handler)](HttpRequest request) {
                         return kj::Promise<HttpResponse>(handler(request));
                       });
}

absl::Status AdminHttpServer::AddAsyncRoute(kj::HttpMethod method, std::string path,
                                            AsyncHandler handler) {
  KVSTASH_CHECK(handler != nullptr);
  if (path.empty() || path.front() != '/' || path.find('?') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("route path '", path, "' must start with '/' and have no query"));
  }
  auto [it, inserted] = routes_[path].try_emplace(method, Route{std::move(handler)});
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("route ", kj::str(method).cStr(), " ", path, " is already registered"));
  }
  return absl::OkStatus();
}

kj::Promise<HttpResponse> AdminHttpServer::Dispatch(kj::HttpMethod method, std::string url,
                                                    const kj::HttpHeaders& headers,
                                                    kj::AsyncInputStream& body) {
  if (url.empty() || url.front() != '/') {
    return Text(400, "bad request: expected a path such as /metrics\n");
  }
  HttpRequest request;
  request.method = method;
  const size_t q = url.find('?');
  request.path = url.substr(0, q);
  if (q != std::string::npos) request.query = url.substr(q + 1);
  headers.forEach([&request](kj::StringPtr name, kj::StringPtr value) {
    std::string& v = request.headers[absl::AsciiStrToLower(name.cStr())];
    absl::StrAppend(&v, v.empty() ? "" : ", ", value.cStr());  // RFC 9110 5.3
  });

  auto path = routes_.find(request.path);
  if (path == routes_.end()) return Text(404, absl::StrCat("not found: ", request.path, "\n"));
  auto route = path->second.find(method);
  if (route == path->second.end() && method == kj::HttpMethod::HEAD) {
    route = path->second.find(kj::HttpMethod::GET);  // kj sends only the headers
  }
  if (route == path->second.end()) {
    std::vector<std::string> allowed;
    for (const auto& [m, r] : path->second) allowed.push_back(kj::str(m).cStr());
    if (path->second.count(kj::HttpMethod::GET)) allowed.push_back("HEAD");
    HttpResponse r = Text(405, absl::StrCat("method ", kj::str(method).cStr(), " not allowed for ",
                                            request.path, "\n"));
    r.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
    return r;
  }
  // A copy of the handler: the route table may change while the body arrives.
  return ReadBodyAndRun(route->second.handler, std::move(request), body);
}

kj::Promise<HttpResponse> AdminHttpServer::ReadBodyAndRun(AsyncHandler handler, HttpRequest request,
                                                          kj::AsyncInputStream& body) {
  const size_t limit = options_.max_body_bytes;
  HttpResponse too_large = Text(413, absl::StrCat("request body over ", limit, " bytes\n"));
  KJ_IF_MAYBE (length, body.tryGetLength()) {
    if (*length > limit) return too_large;  // refuse before reading any of it
  }
  auto reader = kj::heap<BodyReader>(body, limit);
  kj::Promise<bool> read = reader->Read();
  return read
      .then([this, reader = reader.get(), request = std::move(request),
             handler = std::move(handler),
             too_large = std::move(too_large)](bool complete) mutable -> kj::Promise<HttpResponse> {
        if (!complete) return std::move(too_large);
        request.body = reader->Take();
        // The boundary: whatever the handler throws, synchronously or later,
        // becomes a response here.
        return kj::evalNow([&] { return handler(std::move(request)); })
            .catch_([this](kj::Exception&& e) {
              ++internal_errors_;
              return FromException(e);
            });
      })
      .attach(kj::mv(reader));
}

kj::Promise<void> AdminHttpServer::Listen(kj::ConnectionReceiver& listener) {
  return server_->listenHttp(listener);
}

kj::Promise<void> AdminHttpServer::ListenForever(kj::ConnectionReceiver& listener) {
  return server_->listenHttp(listener).catch_(
      [this, &listener](kj::Exception&& e) -> kj::Promise<void> {
        ABSL_RAW_LOG(WARNING, "admin HTTP accept failed, listening again: %s",
                     e.getDescription().cStr());
        return timer_.afterDelay(options_.relisten_delay).then([this, &listener] {
          return ListenForever(listener);
        });
      });
}

absl::StatusOr<uint32_t> AdminHttpServer::Start(kj::NetworkAddress& address) {
  kj::Own<kj::ConnectionReceiver> listener;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] { listener = address.listen(); })) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address.toString().cStr(), ": ",
                                               e->getDescription().cStr()));
  }
  const uint32_t port = listener->getPort();
  tasks_->add(ListenForever(*listener));
  listeners_.push_back(kj::mv(listener));
  return port;
}

absl::StatusOr<kj::Own<kj::NetworkAddress>> ResolveAddress(kj::Network& network,
                                                           absl::string_view address,
                                                           kj::WaitScope& wait_scope) {
  const kj::String text = kj::heapString(address.data(), address.size());
  kj::Own<kj::NetworkAddress> out;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions(
                      [&] { out = network.parseAddress(text).wait(wait_scope); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve '", address, "': ", e->getDescription().cStr()));
  }
  return out;
}

}  // namespace kvstash::service
