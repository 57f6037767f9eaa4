#include "service/cluster/etcd_http.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/cluster/etcd_json.h"

namespace kvstash::cluster::etcd_internal {
namespace {

// The watch stream: newline-delimited {"result": WatchResponse} objects.
class WatchStream final : public EtcdWatch {
 public:
  WatchStream(kj::Own<HttpConnection> connection, EtcdEndpoint endpoint, size_t max_line_bytes)
      : connection_(kj::mv(connection)),
        endpoint_(std::move(endpoint)),
        max_line_bytes_(max_line_bytes) {}
  // kj::Own's destructor may throw; EtcdWatch's may not.
  ~WatchStream() noexcept override {}

  kj::Promise<absl::StatusOr<EtcdWatchBatch>> Next() override {
    if (!error_.ok()) return absl::StatusOr<EtcdWatchBatch>(error_);
    return ReadMessage().then(
        [this](absl::StatusOr<WatchMessage> m) -> kj::Promise<absl::StatusOr<EtcdWatchBatch>> {
          if (!m.ok()) return Finish(m.status());
          if (m->canceled) return Finish(Cancelled(*m));
          // A progress notification (or a repeated confirmation): nothing to report.
          if (m->events.empty()) return Next();
          return absl::StatusOr<EtcdWatchBatch>(
              EtcdWatchBatch{m->header_revision, std::move(m->events)});
        });
  }

  int64_t compact_revision() const override { return compact_revision_; }
  int64_t created_revision() const override { return created_revision_; }
  const EtcdEndpoint& endpoint() const override { return endpoint_; }

  // Reads the first message, which confirms the watch. Errors unprefixed.
  kj::Promise<absl::Status> WaitCreated() {
    return ReadMessage().then([this](absl::StatusOr<WatchMessage> m) -> absl::Status {
      if (!m.ok()) return m.status();
      if (m->canceled) return Cancelled(*m);
      if (!m->created)
        return absl::InternalError("bad answer: events before the watch was created");
      created_revision_ = m->header_revision;
      return absl::OkStatus();
    });
  }

 private:
  absl::Status Cancelled(const WatchMessage& m) {
    if (m.compact_revision > 0) {
      compact_revision_ = m.compact_revision;
      return absl::OutOfRangeError(absl::StrCat(
          "the start revision was compacted; the oldest revision kept is ", m.compact_revision));
    }
    return absl::UnavailableError(absl::StrCat(
        "etcd cancelled the watch", m.cancel_reason.empty() ? "" : ": ", m.cancel_reason));
  }

  absl::StatusOr<EtcdWatchBatch> Finish(const absl::Status& status) {
    error_ = absl::Status(status.code(),
                          absl::StrCat("etcd watch at ", endpoint_.url, ": ", status.message()));
    return error_;
  }

  // The next non-blank line, decoded.
  kj::Promise<absl::StatusOr<WatchMessage>> ReadMessage() {
    const size_t newline = buffer_.find('\n', scanned_);
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      scanned_ = 0;
      if (absl::StripAsciiWhitespace(line).empty()) return ReadMessage();
      return DecodeWatchLine(line);
    }
    scanned_ = buffer_.size();
    if (buffer_.size() > max_line_bytes_) {
      return absl::StatusOr<WatchMessage>(absl::InternalError(
          absl::StrCat("bad answer: a watch message longer than ", max_line_bytes_, " bytes")));
    }
    return connection_->body->tryRead(chunk_, 1, sizeof(chunk_))
        .then(
            [this](size_t n) -> kj::Promise<absl::StatusOr<WatchMessage>> {
              if (n > 0) {
                buffer_.append(chunk_, n);
                return ReadMessage();
              }
              if (!absl::StripAsciiWhitespace(buffer_).empty()) {  // a last line without '\n'
                std::string line = std::move(buffer_);
                buffer_.clear();
                scanned_ = 0;
                return DecodeWatchLine(line);
              }
              return absl::StatusOr<WatchMessage>(absl::UnavailableError("the watch stream ended"));
            },
            [](kj::Exception&& e) -> absl::StatusOr<WatchMessage> {
              return absl::UnavailableError(
                  absl::StrCat("the watch stream broke: ", e.getDescription().cStr()));
            });
  }

  kj::Own<HttpConnection> connection_;
  const EtcdEndpoint endpoint_;
  const size_t max_line_bytes_;
  std::string buffer_;  // bytes read but not yet returned as lines
  size_t scanned_ = 0;  // buffer_[0, scanned_) holds no '\n'
  int64_t compact_revision_ = 0;
  int64_t created_revision_ = 0;
  absl::Status error_;  // once set, the watch is finished
  char chunk_[16384];
};

}  // namespace

kj::Promise<kj::Own<HttpConnection>> PostHttp(kj::Network& network,
                                              const kj::HttpHeaderTable& header_table,
                                              const EtcdEndpoint& endpoint, const std::string& path,
                                              const std::string& body) {
  return network.parseAddress(endpoint.host_port.c_str())
      .then([](kj::Own<kj::NetworkAddress> address) {
        kj::Promise<kj::Own<kj::AsyncIoStream>> connected = address->connect();
        return connected.attach(kj::mv(address));
      })
      .then([&header_table, &endpoint, &path, &body](kj::Own<kj::AsyncIoStream> stream) {
        auto connection = kj::heap<HttpConnection>();
        connection->stream = kj::mv(stream);
        connection->client = kj::newHttpClient(header_table, *connection->stream);
        kj::HttpHeaders headers(header_table);
        headers.set(kj::HttpHeaderId::HOST, endpoint.host_port.c_str());
        headers.set(kj::HttpHeaderId::CONTENT_TYPE, "application/json");
        kj::HttpClient::Request request = connection->client->request(
            kj::HttpMethod::POST, path.c_str(), headers, uint64_t{body.size()});
        kj::Promise<void> sent =
            request.body->write(body.data(), body.size()).attach(kj::mv(request.body));
        HttpConnection& c = *connection;
        return sent
            .then([response = kj::mv(request.response)]() mutable { return kj::mv(response); })
            .then([&c](kj::HttpClient::Response&& response) {
              c.status = static_cast<int>(response.statusCode);
              c.body = kj::mv(response.body);
            })
            .then([connection = kj::mv(connection)]() mutable { return kj::mv(connection); });
      });
}

kj::Promise<std::string> ReadBody(HttpConnection& connection, size_t limit) {
  return connection.body->readAllText(limit).then(
      [](kj::String text) { return std::string(text.cStr(), text.size()); });
}

kj::Promise<absl::Status> ReadError(kj::Own<HttpConnection> connection, size_t limit) {
  const int status = connection->status;
  kj::Promise<std::string> body = ReadBody(*connection, limit);
  return body.attach(kj::mv(connection))
      .then([status](std::string text) { return ErrorFromAnswer(status, text); },
            [status](kj::Exception&&) { return ErrorFromAnswer(status, ""); });
}

kj::Promise<absl::StatusOr<std::unique_ptr<EtcdWatch>>> StartWatch(
    kj::Own<HttpConnection> connection, EtcdEndpoint endpoint, size_t max_line_bytes) {
  auto watch =
      std::make_unique<WatchStream>(kj::mv(connection), std::move(endpoint), max_line_bytes);
  WatchStream& w = *watch;
  return w.WaitCreated().then(
      [watch =
           std::move(watch)](absl::Status s) mutable -> absl::StatusOr<std::unique_ptr<EtcdWatch>> {
        if (!s.ok()) return s;
        return std::unique_ptr<EtcdWatch>(std::move(watch));
      });
}

}  // namespace kvstash::cluster::etcd_internal
