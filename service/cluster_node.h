// ClusterNode: what kvstashd runs in cluster mode (--etcd; issue 6): an etcd
// client, this node's membership (registration under a lease, the member
// view; service/cluster/membership.h) and the shared block space over the
// live members (service/remote/remote_blocks.h), kept in step: every change
// of the view resets the members RemoteBlocks hashes over.
//
// Threading: the daemon's event loop, like the parts it holds.
#ifndef KVSTASH_SERVICE_CLUSTER_NODE_H_
#define KVSTASH_SERVICE_CLUSTER_NODE_H_

#include <kj/async-io.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/cluster/etcd_client.h"
#include "service/cluster/membership.h"
#include "service/options.h"
#include "service/remote/remote_blocks.h"

namespace kvstash::service {

class ClusterNode {
 public:
  // `rpc_address`: where peers reach this node's API (host:port).
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(const DaemonOptions& options,
                                                             const std::string& rpc_address,
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
  // "members": [{"node_id", "rpc", "host_bytes", ...}], "remote": {...}}.
  std::string Json() const;

  remote::RemoteBlocks* remote() { return remote_.get(); }
  // Told the other members (not this node) after every membership change.
  void OnPeers(std::function<void(const std::vector<remote::RemoteMember>&)> callback) {
    on_peers_ = std::move(callback);
  }

 private:
  ClusterNode() = default;

  std::string node_id_, cluster_;
  size_t replicas_ = 1;
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
