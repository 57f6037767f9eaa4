// What a kvstashd publishes about itself in etcd, and where (README.md here
// has the key layout and the value format).
//
//   key:   /kvstash/<cluster>/members/<node-id>
//   value: {"node_id":"a","rpc":"10.0.0.5:7070","ucx":"<base64>",
//           "ucx_rkey":"<base64>","ucx_base":N,"host_bytes":N,"disk_bytes":N,"device_bytes":N,
//           "gpus":[{"device":0,"uuid":"GPU-...","name":"NVIDIA H200","memory_bytes":N}],
//           "started_ns":N}
//
// Decoding ignores members it does not know, so a newer daemon may add
// fields without breaking older readers.
//
// Thread safety: plain values and pure functions.
#ifndef KVSTASH_SERVICE_CLUSTER_MEMBER_H_
#define KVSTASH_SERVICE_CLUSTER_MEMBER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::cluster {

struct MemberGpu {
  int32_t device = 0;  // CUDA ordinal on its node
  std::string uuid;    // "GPU-..." when known
  std::string name;
  uint64_t memory_bytes = 0;

  friend bool operator==(const MemberGpu&, const MemberGpu&) = default;
};

struct Member {
  std::string node_id;
  std::string rpc;  // host:port of the node's Cap'n Proto RPC listener
  std::string ucx;  // the UCX worker address, opaque bytes (base64 in JSON)
  // The host arena as registered with that UCX transport, for peers' RMA
  // gets: its remote key (opaque, base64 in JSON) and its address in this
  // node's process (a SlotRef offset is relative to it). Empty / 0 when the
  // node has no UCX or no host tier; a key requires `ucx`.
  std::string ucx_rkey;
  uint64_t ucx_base = 0;
  uint64_t host_bytes = 0;
  uint64_t disk_bytes = 0;
  uint64_t device_bytes = 0;
  std::vector<MemberGpu> gpus;
  int64_t started_ns = 0;  // Unix time the process started; tells restarts apart

  // Filled from etcd when read back; not part of the value.
  int64_t lease = 0;
  int64_t mod_revision = 0;

  // Compares the published fields only.
  bool SameRegistration(const Member& other) const;
};

// Node ids and cluster names: 1..128 of [A-Za-z0-9._:-], not "." or "..".
// InvalidArgument naming `what` ("node-id", "cluster") otherwise.
absl::Status ValidateName(absl::string_view what, absl::string_view name);
// The node id; the rpc address and GPU uuids and names in printable ASCII
// (names may hold spaces; any may be empty); a UCX remote key only with a UCX
// address.
absl::Status ValidateMember(const Member& member);

std::string MembersPrefix(absl::string_view cluster);  // "/kvstash/<cluster>/members/"
std::string MemberKey(absl::string_view cluster, absl::string_view node_id);

std::string EncodeMember(const Member& member);
// InvalidArgument with the field path on a malformed value.
absl::StatusOr<Member> DecodeMember(absl::string_view json);

}  // namespace kvstash::cluster

#endif  // KVSTASH_SERVICE_CLUSTER_MEMBER_H_
