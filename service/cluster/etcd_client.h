// An etcd v3 client over etcd's HTTP/JSON gateway (grpc-gateway), built on
// kj-http so that it runs on kvstashd's kj event loop without threads.
//
// Debian 12's etcd-server 3.4.23 serves every unary RPC used here as
// `POST /v3/<service>/<method>` with a JSON body and answers JSON; keys and
// values are base64 and int64 fields are JSON strings (zero-valued fields are
// omitted). Errors come back as {"error","message","code"} with a gRPC code,
// which maps one to one onto absl::StatusCode. The watch is a streaming
// response: one JSON object per line, each {"result": WatchResponse}. The
// wire details are in README.md; the encoding is in etcd_json.h.
//
// Endpoints and failover: the client holds a list of endpoints
// ("http://h1:2379,http://h2:2379") and a current one. A call goes to the
// current endpoint; on a connection error (refused, reset, closed before the
// answer) or an HTTP 503 (etcd's Unavailable: no leader, shutting down) it
// moves to the next endpoint and tries again, each endpoint at most once per
// call. A call whose deadline passes also moves the current endpoint on, so
// the next call tries another member. Any other error answer from etcd
// (NotFound, FailedPrecondition, ...) is returned as is.
//
// Deadlines: every unary call finishes within options.request_timeout (name
// resolution, connect, request and answer together, over all endpoints it
// tries); a call that runs out fails with DeadlineExceeded. Watch() has the
// same deadline for opening the stream; the stream itself has none (an idle
// watch is normal). Error messages name the operation and the endpoint:
//   "etcd lease/keepalive at http://10.0.0.5:2379: no answer within 1000 ms"
// Deadlines run on the kj::Timer, whose now() advances when the loop polls:
// after the loop thread blocked for a while, a deadline can fire early, never
// late.
//
// Each unary call uses its own TCP connection: membership sends a handful of
// small requests per lease TTL, and a fresh connection cannot be a stale
// pooled one left over from before an etcd restart.
//
// A call that must not be applied twice should not be retried blindly: after
// a connection error a request may or may not have reached etcd before the
// failover sends it again. Put, DeleteRange and the keep-alive are idempotent;
// LeaseGrant may leave an unused lease behind (it expires on its own);
// CreateIfAbsent may report the key as existing with the caller's own lease
// (callers compare the lease, as Membership does).
//
// Ownership: the caller owns the EtcdClient, the kj::Network and the
// kj::Timer; both must outlive the client, and the client must outlive every
// promise and EtcdWatch it returned. Dropping a promise cancels the call.
//
// Thread safety: none. Use a client only on the thread running the kj event
// loop of the network and timer it was made with.
#ifndef KVSTASH_SERVICE_CLUSTER_ETCD_CLIENT_H_
#define KVSTASH_SERVICE_CLUSTER_ETCD_CLIENT_H_

#include <kj/async-io.h>
#include <kj/compat/http.h>
#include <kj/timer.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::cluster {
namespace etcd_internal {
struct HttpConnection;
}  // namespace etcd_internal

struct EtcdEndpoint {
  std::string url;        // "http://127.0.0.1:2379", for messages
  std::string host_port;  // "127.0.0.1:2379", for connect() and the Host header
};

// Parses "http://h1:2379,http://h2:2379" (also a bare "h1:2379"). A missing
// port is 2379. InvalidArgument for an empty list, https:// (TLS is not
// supported), a path after the port or a malformed entry.
[[nodiscard]] absl::StatusOr<std::vector<EtcdEndpoint>> ParseEtcdEndpoints(absl::string_view list);

// The range end that makes [prefix, end) every key starting with `prefix`
// (etcd's GetPrefixRangeEnd). REQUIRES: prefix is not empty and not all 0xff.
std::string PrefixRangeEnd(absl::string_view prefix);

struct EtcdClientOptions {
  std::vector<EtcdEndpoint> endpoints;  // REQUIRES: not empty
  kj::Duration request_timeout = 2 * kj::SECONDS;
  // Larger answers (or longer watch lines) fail the call.
  size_t max_response_bytes = size_t{16} << 20;
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0: no lease
};

struct EtcdRangeResult {
  int64_t revision = 0;  // the store revision the range was read at
  std::vector<EtcdKeyValue> kvs;
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // as granted; etcd raises a too-short TTL to its minimum
};

struct EtcdLeaseTimeToLive {
  int64_t ttl_seconds = 0;  // remaining; -1 when the lease does not exist
  int64_t granted_ttl_seconds = 0;
};

struct EtcdCreateResult {
  bool created = false;
  int64_t revision = 0;
  // When !created: the key as it is (its lease says who holds it).
  std::optional<EtcdKeyValue> existing;
};

struct EtcdWatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for kDelete only key and mod_revision are set
};

struct EtcdWatchBatch {
  int64_t header_revision = 0;
  std::vector<EtcdWatchEvent> events;  // in revision order; never empty
};

// One open watch stream (see EtcdClient::Watch). Destroying it closes the
// connection, which cancels the watch in etcd.
class EtcdWatch {
 public:
  virtual ~EtcdWatch() = default;
  // The next batch of events; progress notifications are skipped. Fails with
  // OutOfRange when etcd cancelled the watch because its start revision was
  // compacted (compact_revision() tells the oldest revision still kept: range
  // again), Unavailable when the stream broke or ended, Internal on an answer
  // that does not parse. After an error the watch is finished.
  // REQUIRES: no other Next() pending.
  virtual kj::Promise<absl::StatusOr<EtcdWatchBatch>> Next() = 0;
  virtual int64_t compact_revision() const = 0;
  // The store revision when etcd confirmed the watch. Less than a revision
  // the caller saw before means etcd's store went back (restored or wiped).
  virtual int64_t created_revision() const = 0;
  virtual const EtcdEndpoint& endpoint() const = 0;
};

class EtcdClient {
 public:
  template <typename T>
  using Result = kj::Promise<absl::StatusOr<T>>;

  // InvalidArgument when options.endpoints is empty or the timeout is not
  // positive.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(kj::Network& network, kj::Timer& timer,
                                                            EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Leases.
  Result<EtcdLease> LeaseGrant(int64_t ttl_seconds);
  // The remaining TTL after the refresh; 0 when the lease no longer exists
  // (etcd answers a keep-alive of an unknown lease with TTL 0, not an error).
  Result<int64_t> LeaseKeepAlive(int64_t lease_id);
  Result<EtcdLeaseTimeToLive> LeaseTimeToLive(int64_t lease_id);
  // Deletes the lease and every key attached to it. NotFound when the lease
  // is already gone.
  kj::Promise<absl::Status> LeaseRevoke(int64_t lease_id);

  // Keys. An empty range_end means the single key.
  Result<int64_t> Put(absl::string_view key, absl::string_view value, int64_t lease = 0);
  Result<EtcdRangeResult> Range(absl::string_view key, absl::string_view range_end = "");
  Result<int64_t> DeleteRange(absl::string_view key, absl::string_view range_end = "");
  // A transaction: if `key` does not exist (create_revision == 0) put it with
  // `lease`, else read it. One round trip, atomic in etcd.
  Result<EtcdCreateResult> CreateIfAbsent(absl::string_view key, absl::string_view value,
                                          int64_t lease);
  // Compacts the key history up to `revision` (tests use it to force a watch
  // past its start revision).
  kj::Promise<absl::Status> Compact(int64_t revision);

  // Opens a watch on [key, range_end) delivering events from start_revision
  // (0: from now on). Resolves once etcd confirmed the watch.
  Result<std::unique_ptr<EtcdWatch>> Watch(absl::string_view key, absl::string_view range_end,
                                           int64_t start_revision);

  const EtcdEndpoint& current_endpoint() const { return options_.endpoints[current_]; }
  const EtcdClientOptions& options() const { return options_; }

 private:
  struct Call;
  template <typename T>
  struct TypedCall;

  EtcdClient(kj::Network& network, kj::Timer& timer, EtcdClientOptions options);

  // POSTs `body` to `path` ("/v3/kv/put"), moving between endpoints on
  // connection errors and Unavailable, within the deadline; `finish` reads
  // the answer (see etcd_http.h). Errors are prefixed "etcd <op> at <url>: ".
  template <typename T>
  using Finish = kj::Function<kj::Promise<absl::StatusOr<T>>(kj::Own<etcd_internal::HttpConnection>,
                                                             const EtcdEndpoint&)>;
  template <typename T>
  Result<T> Run(std::string op, std::string path, std::string body, Finish<T> finish);
  template <typename T>
  Result<T> Attempt(TypedCall<T>& call);
  template <typename T>
  Result<T> TryNext(TypedCall<T>& call, absl::string_view why);
  // Moves current_ past endpoint `from` unless another call already did.
  void Rotate(size_t from);

  // Constant after construction.
  kj::Network& network_;
  kj::Timer& timer_;
  const EtcdClientOptions options_;
  kj::Own<kj::HttpHeaderTable> header_table_;

  size_t current_ = 0;  // index into options_.endpoints
};

}  // namespace kvstash::cluster

#endif  // KVSTASH_SERVICE_CLUSTER_ETCD_CLIENT_H_
