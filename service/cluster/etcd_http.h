// One HTTP exchange with an etcd gateway, and the watch stream built on one
// (internal to service/cluster: EtcdClient's plumbing).
//
// Connection errors surface as kj exceptions here; EtcdClient turns them
// into failover and absl::Status at its boundary (STYLE.md 8).
//
// Thread safety: none; the event-loop thread only.
#ifndef KVSTASH_SERVICE_CLUSTER_ETCD_HTTP_H_
#define KVSTASH_SERVICE_CLUSTER_ETCD_HTTP_H_

#include <kj/async-io.h>
#include <kj/compat/http.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/cluster/etcd_client.h"

namespace kvstash::cluster::etcd_internal {

// A connection with a request sent and the answer's headers read. Members
// are destroyed body first, then the client, then the stream they use.
struct HttpConnection {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<kj::HttpClient> client;
  int status = 0;
  kj::Own<kj::AsyncInputStream> body;
};

// Resolves and connects to `endpoint`, POSTs `body` (application/json) to
// `path` and waits for the answer's status line and headers. The strings
// must outlive the promise. Throws (kj) on connection errors.
kj::Promise<kj::Own<HttpConnection>> PostHttp(kj::Network& network,
                                              const kj::HttpHeaderTable& header_table,
                                              const EtcdEndpoint& endpoint, const std::string& path,
                                              const std::string& body);

// The whole answer body. Throws (kj) on read errors or past `limit` bytes.
// REQUIRES: `connection` outlives the promise.
kj::Promise<std::string> ReadBody(HttpConnection& connection, size_t limit);

// The status of a non-200 answer (etcd_json.h ErrorFromAnswer), reading its
// body first.
kj::Promise<absl::Status> ReadError(kj::Own<HttpConnection> connection, size_t limit);

// After a 200 answer to POST /v3/watch: reads the stream until etcd confirms
// the watch ("created"), then hands the stream over as an EtcdWatch. Errors
// are not prefixed (EtcdClient does that); a stream that ends or breaks
// before the confirmation is Unavailable.
kj::Promise<absl::StatusOr<std::unique_ptr<EtcdWatch>>> StartWatch(
    kj::Own<HttpConnection> connection, EtcdEndpoint endpoint, size_t max_line_bytes);

}  // namespace kvstash::cluster::etcd_internal

#endif  // KVSTASH_SERVICE_CLUSTER_ETCD_HTTP_H_
