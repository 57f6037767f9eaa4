// The JSON forms of the etcd v3 gateway requests and answers EtcdClient uses
// (internal to service/cluster; the wire format is described in README.md).
//
// Requests: keys and values are base64 (standard alphabet, padded); int64
// fields are written as JSON strings, as the gateway's own answers do.
// Answers: proto3 JSON omits zero values, so every field is optional and an
// absent one reads as 0 / "" / false; int64 fields are accepted as strings or
// numbers. Decoders fail with Internal "bad answer: <field path>: <problem>".
//
// Thread safety: pure functions.
#ifndef KVSTASH_SERVICE_CLUSTER_ETCD_JSON_H_
#define KVSTASH_SERVICE_CLUSTER_ETCD_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/cluster/etcd_client.h"

namespace kvstash::cluster::etcd_internal {

// ------------------------------------------------------------- requests --
std::string LeaseGrantRequest(int64_t ttl_seconds);
// keepalive, revoke, timetolive: {"ID":"<id>"}
std::string LeaseIdRequest(int64_t lease_id);
std::string PutRequest(absl::string_view key, absl::string_view value, int64_t lease);
std::string RangeRequest(absl::string_view key, absl::string_view range_end);
std::string DeleteRangeRequest(absl::string_view key, absl::string_view range_end);
// txn: compare create_revision(key) == 0; success: put; failure: range key.
std::string CreateIfAbsentRequest(absl::string_view key, absl::string_view value, int64_t lease);
std::string CompactRequest(int64_t revision);
std::string WatchCreateRequest(absl::string_view key, absl::string_view range_end,
                               int64_t start_revision);

// -------------------------------------------------------------- answers --
absl::StatusOr<EtcdLease> DecodeLeaseGrant(absl::string_view body);
// The TTL after the refresh; 0 when the lease is unknown.
absl::StatusOr<int64_t> DecodeLeaseKeepAlive(absl::string_view body);
absl::StatusOr<EtcdLeaseTimeToLive> DecodeLeaseTimeToLive(absl::string_view body);
// The store revision from the answer's header (put, revoke, compact).
absl::StatusOr<int64_t> DecodeHeaderRevision(absl::string_view body);
absl::StatusOr<EtcdRangeResult> DecodeRange(absl::string_view body);
absl::StatusOr<int64_t> DecodeDeleteRange(absl::string_view body);  // keys deleted
absl::StatusOr<EtcdCreateResult> DecodeCreateIfAbsent(absl::string_view body);

// One line of the watch stream.
struct WatchMessage {
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  int64_t header_revision = 0;
  std::vector<EtcdWatchEvent> events;
};
absl::StatusOr<WatchMessage> DecodeWatchLine(absl::string_view line);

// The status of a non-200 answer: the gRPC code and message from the
// gateway's {"error","message","code"} body, or, when the body is not that
// (a proxy, a wrong path), a code from the HTTP status and the body's start.
absl::Status ErrorFromAnswer(int http_status, absl::string_view body);

}  // namespace kvstash::cluster::etcd_internal

#endif  // KVSTASH_SERVICE_CLUSTER_ETCD_JSON_H_
