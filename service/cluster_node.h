// ClusterNode: what kvstashd runs in cluster mode (--etcd; issue 6): an etcd
// client, this node's membership (registration under a lease, the member
// view; service/cluster/membership.h) and the shared block space over the
// live members (service/remote/remote_blocks.h), kept in step: every change
// of the view resets the members RemoteBlocks hashes over.
//
// Data path (--ucx-tls, default tcp): one UCX transport per node, with the
// host tier's arena registered on it; its address, the arena's remote key and
// base are published in this node's member record, so that peers pull blocks
// by RMA straight from the arena. `--ucx-tls none`: no transport, nothing
// published, every pull inline over Cap'n Proto.
//
// Ownership: the transport and the registration live as long as the node;
// the host arena must outlive it (the daemon's tiers do).//
// Threading: the daemon's event loop, like the parts it holds.
#ifndef KVSTASH_SERVICE_CLUSTER_NODE_H_
#define KVSTASH_SERVICE_CLUSTER_NODE_H_

#include <kj/async-io.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "service/cluster/etcd_client.h"
#include "service/cluster/membership.h"
#include "service/options.h"
#include "service/remote/remote_blocks.h"
#include "transport/transport.h"

namespace kvstash::service {

class ClusterNode {
 public:
  // `rpc_address`: where peers reach this node's API (host:port).
  // `host_arena`: the host tier's arena, served to peers' RMA gets (empty
  // without a host tier). Unavailable naming --ucx-tls when UCX cannot start.
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(const DaemonOptions& options,
                                                             const std::string& rpc_address,
                                                             absl::Span<const char> host_arena,
                                                             kj::Network& network,
                                                             kj::Timer& timer);
  ~ClusterNode();

  // Registers in etcd and starts following the members.
  kj::Promise<absl::Status> Start();
  // Leaves the cluster (revokes the lease: the others see it at once).
  kj::Promise<absl::Status> Leave();
  // OK while registered (for /readyz).
  absl::Status Ready() const { return membership_->health(); }
  // GET /v1/cluster: {"node_id", "cluster", "replicas", "registered",
  // "members": [{"node_id", "rpc", "host_bytes", ..., "ucx_rma"}],
  // "remote": {..., "ucx", "ucx_pulls", "ucx_bytes", "ucx_fallbacks", "ucx_errors"}}.
  // ucx_rma: the member serves its host arena to RMA pulls; ucx: this node's
  // transport ("ucx/tcp", or "none").
  std::string Json() const;

  remote::RemoteBlocks* remote() { return remote_.get(); }
  // Told the other members (not this node) after every membership change.
  void OnPeers(std::function<void(const std::vector<remote::RemoteMember>&)> callback) {
    on_peers_ = std::move(callback);
  }

 private:
  ClusterNode() = default;

  // Sets up transport_ and arena_ and fills self's UCX fields.
  absl::Status StartUcx(const std::string& tls, absl::Span<const char> host_arena,
                        cluster::Member& self);

  std::string node_id_, cluster_;
  size_t replicas_ = 1;
  // Before remote_, which uses them, so that they are destroyed after it.
  std::unique_ptr<transport::Transport> transport_;  // null with --ucx-tls none
  std::unique_ptr<transport::Registration> arena_;   // null without a host tier
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<remote::RemoteBlocks> remote_;
  std::unique_ptr<cluster::Membership> membership_;
  std::function<void(const std::vector<remote::RemoteMember>&)> on_peers_;
};

// This node's address as peers should dial it: a wildcard listen host
// (0.0.0.0, [::]) becomes the host name.
std::string AdvertisedAddress(const std::string& bound_address);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_CLUSTER_NODE_H_
