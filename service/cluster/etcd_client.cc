#include "service/cluster/etcd_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/check.h"
#include "service/cluster/etcd_http.h"
#include "service/cluster/etcd_json.h"

namespace kvstash::cluster {
namespace {

namespace ei = etcd_internal;

absl::StatusOr<EtcdEndpoint> ParseOneEndpoint(absl::string_view text) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  const std::string original(rest);
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint \"", original, "\": https is not supported (plain http only)"));
  }
  if (absl::StartsWithIgnoreCase(rest, "http://")) rest.remove_prefix(7);
  absl::ConsumeSuffix(&rest, "/");
  if (rest.empty() || absl::StrContains(rest, "/") || absl::StrContains(rest, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint \"", original, "\": expected http://host:port"));
  }
  // The port: after the last ':' outside an IPv6 literal's brackets.
  std::string host_port(rest);
  const size_t bracket = rest.rfind(']');
  const size_t colon = rest.rfind(':');
  const bool has_port =
      colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket);
  if (has_port) {
    uint32_t port = 0;
    absl::string_view host = rest.substr(0, colon);
    if (!host.empty() && host.front() != '[' && absl::StrContains(host, ":")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd endpoint \"", original, "\": write IPv6 addresses in brackets, [::1]:2379"));
    }
    if (host.empty() || !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint \"", original, "\": expected host:port with port 1..65535"));
    }
  } else {
    if (rest.front() != '[' && absl::StrContains(rest, ":")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd endpoint \"", original, "\": write IPv6 addresses in brackets, [::1]:2379"));
    }
    absl::StrAppend(&host_port, ":2379");
  }
  return EtcdEndpoint{absl::StrCat("http://", host_port), host_port};
}

absl::Status Prefixed(const absl::Status& status, absl::string_view op, absl::string_view url) {
  return absl::Status(status.code(),
                      absl::StrCat("etcd ", op, " at ", url, ": ", status.message()));
}

// A unary answer decoded by `decode`.
template <typename T>
kj::Function<kj::Promise<absl::StatusOr<T>>(kj::Own<ei::HttpConnection>, const EtcdEndpoint&)>
Decoder(absl::StatusOr<T> (*decode)(absl::string_view), size_t limit) {
  return [decode, limit](kj::Own<ei::HttpConnection> conn,
                         const EtcdEndpoint&) -> kj::Promise<absl::StatusOr<T>> {
    if (conn->status != 200) {
      return ei::ReadError(kj::mv(conn), limit).then([](absl::Status s) -> absl::StatusOr<T> {
        return s;
      });
    }
    kj::Promise<std::string> body = ei::ReadBody(*conn, limit);
    return body.attach(kj::mv(conn)).then([decode](std::string text) { return decode(text); });
  };
}

}  // namespace

absl::StatusOr<std::vector<EtcdEndpoint>> ParseEtcdEndpoints(absl::string_view list) {
  std::vector<EtcdEndpoint> out;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    absl::StatusOr<EtcdEndpoint> endpoint = ParseOneEndpoint(part);
    if (!endpoint.ok()) return endpoint.status();
    out.push_back(*std::move(endpoint));
  }
  if (out.empty()) return absl::InvalidArgumentError("etcd endpoints: the list is empty");
  return out;
}

std::string PrefixRangeEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  KVSTASH_CHECK(!end.empty());  // an all-0xff prefix has no end
  return end;
}

// ------------------------------------------------------------------ calls --

struct EtcdClient::Call {
  std::string op;  // "kv/put", for messages
  std::string path;
  std::string body;
  size_t endpoint = 0;  // being tried
  size_t tried = 0;     // endpoints that failed so far
  std::vector<std::string> failures;
};

template <typename T>
struct EtcdClient::TypedCall : Call {
  Finish<T> finish;
};

EtcdClient::EtcdClient(kj::Network& network, kj::Timer& timer, EtcdClientOptions options)
    : network_(network),
      timer_(timer),
      options_(std::move(options)),
      header_table_(kj::heap<kj::HttpHeaderTable>()) {}

EtcdClient::~EtcdClient() = default;

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(kj::Network& network,
                                                               kj::Timer& timer,
                                                               EtcdClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd client: no endpoints");
  if (options.request_timeout <= 0 * kj::NANOSECONDS) {
    return absl::InvalidArgumentError("etcd client: request_timeout must be positive");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(network, timer, std::move(options)));
}

void EtcdClient::Rotate(size_t from) {
  if (current_ == from) current_ = (from + 1) % options_.endpoints.size();
}

template <typename T>
EtcdClient::Result<T> EtcdClient::Run(std::string op, std::string path, std::string body,
                                      Finish<T> finish) {
  auto call = kj::heap<TypedCall<T>>();
  call->op = std::move(op);
  call->path = std::move(path);
  call->body = std::move(body);
  call->endpoint = current_;
  call->finish = kj::mv(finish);
  TypedCall<T>& c = *call;
  const int64_t timeout_ms = options_.request_timeout / kj::MILLISECONDS;
  kj::Promise<absl::StatusOr<T>> deadline =
      timer_.afterDelay(options_.request_timeout)
          .then([this, &c, timeout_ms]() -> absl::StatusOr<T> {
            const std::string& url = options_.endpoints[c.endpoint].url;
            Rotate(c.endpoint);
            std::string message = absl::StrCat("no answer within ", timeout_ms, " ms");
            if (!c.failures.empty()) {
              absl::StrAppend(&message, " (failed before: ", absl::StrJoin(c.failures, "; "), ")");
            }
            return Prefixed(absl::DeadlineExceededError(message), c.op, url);
          });
  return Attempt(c).exclusiveJoin(kj::mv(deadline)).attach(kj::mv(call));
}

template <typename T>
EtcdClient::Result<T> EtcdClient::Attempt(TypedCall<T>& c) {
  const EtcdEndpoint& endpoint = options_.endpoints[c.endpoint];
  return ei::PostHttp(network_, *header_table_, endpoint, c.path, c.body)
      .then([&c, &endpoint](kj::Own<ei::HttpConnection> conn) {
        return c.finish(kj::mv(conn), endpoint);
      })
      .then(
          [this, &c, &endpoint](absl::StatusOr<T> result) -> Result<T> {
            if (result.ok()) return kj::mv(result);
            // etcd's Unavailable (no leader, stopping): another member may serve.
            if (absl::IsUnavailable(result.status())) {
              return TryNext(c, result.status().message());
            }
            return absl::StatusOr<T>(Prefixed(result.status(), c.op, endpoint.url));
          },
          [this, &c](kj::Exception&& e) -> Result<T> {
            return TryNext(c, e.getDescription().cStr());
          });
}

template <typename T>
EtcdClient::Result<T> EtcdClient::TryNext(TypedCall<T>& c, absl::string_view why) {
  const EtcdEndpoint& failed = options_.endpoints[c.endpoint];
  c.failures.push_back(absl::StrCat(failed.url, ": ", why));
  Rotate(c.endpoint);
  if (++c.tried >= options_.endpoints.size()) {
    if (c.failures.size() == 1) {
      return absl::StatusOr<T>(Prefixed(absl::UnavailableError(why), c.op, failed.url));
    }
    return absl::StatusOr<T>(absl::UnavailableError(
        absl::StrCat("etcd ", c.op, ": every endpoint failed: ", absl::StrJoin(c.failures, "; "))));
  }
  c.endpoint = (c.endpoint + 1) % options_.endpoints.size();
  return Attempt(c);
}

// ------------------------------------------------------------ operations --

EtcdClient::Result<EtcdLease> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  return Run<EtcdLease>("lease/grant", "/v3/lease/grant", ei::LeaseGrantRequest(ttl_seconds),
                        Decoder(&ei::DecodeLeaseGrant, options_.max_response_bytes));
}

EtcdClient::Result<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease_id) {
  return Run<int64_t>("lease/keepalive", "/v3/lease/keepalive", ei::LeaseIdRequest(lease_id),
                      Decoder(&ei::DecodeLeaseKeepAlive, options_.max_response_bytes));
}

EtcdClient::Result<EtcdLeaseTimeToLive> EtcdClient::LeaseTimeToLive(int64_t lease_id) {
  return Run<EtcdLeaseTimeToLive>("lease/timetolive", "/v3/lease/timetolive",
                                  ei::LeaseIdRequest(lease_id),
                                  Decoder(&ei::DecodeLeaseTimeToLive, options_.max_response_bytes));
}

kj::Promise<absl::Status> EtcdClient::LeaseRevoke(int64_t lease_id) {
  return Run<int64_t>("lease/revoke", "/v3/lease/revoke", ei::LeaseIdRequest(lease_id),
                      Decoder(&ei::DecodeHeaderRevision, options_.max_response_bytes))
      .then([](absl::StatusOr<int64_t> r) { return r.status(); });
}

EtcdClient::Result<int64_t> EtcdClient::Put(absl::string_view key, absl::string_view value,
                                            int64_t lease) {
  return Run<int64_t>("kv/put", "/v3/kv/put", ei::PutRequest(key, value, lease),
                      Decoder(&ei::DecodeHeaderRevision, options_.max_response_bytes));
}

EtcdClient::Result<EtcdRangeResult> EtcdClient::Range(absl::string_view key,
                                                      absl::string_view range_end) {
  return Run<EtcdRangeResult>("kv/range", "/v3/kv/range", ei::RangeRequest(key, range_end),
                              Decoder(&ei::DecodeRange, options_.max_response_bytes));
}

EtcdClient::Result<int64_t> EtcdClient::DeleteRange(absl::string_view key,
                                                    absl::string_view range_end) {
  return Run<int64_t>("kv/deleterange", "/v3/kv/deleterange",
                      ei::DeleteRangeRequest(key, range_end),
                      Decoder(&ei::DecodeDeleteRange, options_.max_response_bytes));
}

EtcdClient::Result<EtcdCreateResult> EtcdClient::CreateIfAbsent(absl::string_view key,
                                                                absl::string_view value,
                                                                int64_t lease) {
  return Run<EtcdCreateResult>("kv/txn", "/v3/kv/txn", ei::CreateIfAbsentRequest(key, value, lease),
                               Decoder(&ei::DecodeCreateIfAbsent, options_.max_response_bytes));
}

kj::Promise<absl::Status> EtcdClient::Compact(int64_t revision) {
  return Run<int64_t>("kv/compaction", "/v3/kv/compaction", ei::CompactRequest(revision),
                      Decoder(&ei::DecodeHeaderRevision, options_.max_response_bytes))
      .then([](absl::StatusOr<int64_t> r) { return r.status(); });
}

EtcdClient::Result<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(absl::string_view key,
                                                                 absl::string_view range_end,
                                                                 int64_t start_revision) {
  const size_t limit = options_.max_response_bytes;
  Finish<std::unique_ptr<EtcdWatch>> finish =
      [limit](kj::Own<ei::HttpConnection> conn,
              const EtcdEndpoint& endpoint) -> Result<std::unique_ptr<EtcdWatch>> {
    if (conn->status != 200) {
      return ei::ReadError(kj::mv(conn), limit)
          .then([](absl::Status s) -> absl::StatusOr<std::unique_ptr<EtcdWatch>> { return s; });
    }
    return ei::StartWatch(kj::mv(conn), endpoint, limit);
  };
  return Run<std::unique_ptr<EtcdWatch>>(
      "watch", "/v3/watch", ei::WatchCreateRequest(key, range_end, start_revision), kj::mv(finish));
}

}  // namespace kvstash::cluster
