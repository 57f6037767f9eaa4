// Transport over UCX (UCP): one-sided get/put of host memory between
// processes on this node or others, with a UCP context + worker per
// transport. Device buffers (MemoryKind::kDevice, CUDA builds with a GPU) are
// staged through pinned host memory, since Debian's UCX has no CUDA
// transports; they can be the local side of a transfer only.
//
// Threading model: one progress thread per transport owns the UCP worker,
// its endpoints and unpacked remote keys; callers hand it connects, posts and
// disconnects through a queue and an eventfd, and it publishes completions
// under the transport's mutex. It busy-polls while transfers are in flight
// and sleeps on the worker's event fd otherwise. Registration (ucp_mem_map,
// ucp_rkey_pack) runs on the caller's thread against the shared context.
//
// Failure model: endpoints use UCP_ERR_HANDLING_MODE_PEER. A dead or
// unreachable peer (connection reset, keepalive timeout) makes UCX fail that
// endpoint's requests; the progress thread then force-closes the endpoint,
// fails the peer's later transfers at once with Unavailable, and leaves every
// other peer alone.
//
// Ownership: Create() returns the sole owner. Registrations may outlive the
// transport (they keep the UCP context alive); transfer ids die with it.
#ifndef KVSTASH_TRANSPORT_UCX_TRANSPORT_H_
#define KVSTASH_TRANSPORT_UCX_TRANSPORT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "transport/transport.h"

namespace kvstash::transport {

struct UcxTransportOptions {
  // UCP's TLS setting (what UCX_TLS would say): "tcp" between nodes; "sm"
  // (posix + sysv + cma) or "posix,cma" between processes on one node. See
  // Profile() below for the two named profiles.
  std::string tls = "tcp";
  // How often an idle endpoint checks that its peer is alive (UCX keepalive);
  // bounds how long a transfer to a silently dead peer can hang. A reset TCP
  // connection or a vanished process is noticed sooner.
  absl::Duration keepalive_interval = absl::Seconds(2);
  // Further UCX configuration, applied last with ucp_config_modify, which
  // names a transport's setting relative to the table that defines it:
  // {"NET_DEVICES", "lo"} for UCX_NET_DEVICES, {"TX_SEG_SIZE", "256k"} for
  // UCX_TCP_TX_SEG_SIZE, {"MM_ERROR_HANDLING", "y"} for
  // UCX_POSIX_ERROR_HANDLING. A name UCX does not know is not an error: UCX
  // warns "invalid configuration" when the worker starts.
  std::map<std::string, std::string> config;
  // Short name for caps().name ("ucx/<label>"); defaults to `tls`.
  std::string label;

  // The profiles the benchmarks and tests compare: "tcp" (loopback or NIC
  // TCP sockets) and "shm" (shared memory: posix for control, cma for bulk).
  static absl::StatusOr<UcxTransportOptions> Profile(const std::string& name);

  // The same settings as UCX_* environment assignments ("UCX_TLS=tcp", ...),
  // for running UCX's own tools (ucx_perftest) under the same configuration.
  std::vector<std::string> Environment() const;
};

// Creates the UCP context and worker and starts the progress thread.
// Unavailable when UCX cannot be initialised with `options` (the message
// carries UCX's reason).
absl::StatusOr<std::unique_ptr<Transport>> CreateUcxTransport(const UcxTransportOptions& options);

}  // namespace kvstash::transport

#endif  // KVSTASH_TRANSPORT_UCX_TRANSPORT_H_
