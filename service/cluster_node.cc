#include "service/cluster_node.h"

#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "transport/ucx_transport.h"

namespace kvstash::service {

std::string AdvertisedAddress(const std::string& bound) {
  const size_t colon = bound.rfind(':');
  const std::string host = bound.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "*") return bound;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return bound;
  return absl::StrCat(name, bound.substr(colon));
}

absl::Status ClusterNode::StartUcx(const std::string& tls, absl::Span<const char> host_arena,
                                   cluster::Member& self) {
  if (tls == "none") return absl::OkStatus();
  absl::StatusOr<transport::UcxTransportOptions> profile =
      transport::UcxTransportOptions::Profile(tls);
  if (!profile.ok())
    return absl::InvalidArgumentError(absl::StrCat("--ucx-tls: ", profile.status().message()));
  absl::StatusOr<std::unique_ptr<transport::Transport>> t = transport::CreateUcxTransport(*profile);
  if (!t.ok()) {
    return absl::UnavailableError(absl::StrCat("--ucx-tls ", tls, ": cannot start UCX (",
                                               t.status().message(),
                                               "); --ucx-tls none moves blocks without it"));
  }
  transport_ = *std::move(t);
  self.ucx = transport_->LocalAddress();
  if (host_arena.empty()) return absl::OkStatus();
  // Peers only ever get from it (RMA reads); the tier alone writes it.
  absl::StatusOr<std::unique_ptr<transport::Registration>> r = transport_->Register(
      const_cast<char*>(host_arena.data()), host_arena.size(), transport::MemoryKind::kHost);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("--ucx-tls ", tls, ": cannot register the host arena (",
                                     host_arena.size(), " bytes): ", r.status().message()));
  }
  arena_ = *std::move(r);
  self.ucx_rkey = arena_->remote_key();
  self.ucx_base = reinterpret_cast<uintptr_t>(arena_->base());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(const DaemonOptions& o,
                                                                 const std::string& rpc_address,
                                                                 absl::Span<const char> host_arena,
                                                                 kj::Network& network,
                                                                 kj::Timer& timer) {
  auto n = std::unique_ptr<ClusterNode>(new ClusterNode());
  n->node_id_ = o.node_id;
  n->cluster_ = o.cluster;
  n->replicas_ = o.replicas;
  absl::StatusOr<std::vector<cluster::EtcdEndpoint>> endpoints =
      cluster::ParseEtcdEndpoints(o.etcd);
  if (!endpoints.ok())
    return absl::InvalidArgumentError(absl::StrCat("--etcd: ", endpoints.status().message()));
  cluster::EtcdClientOptions eo;
  eo.endpoints = *std::move(endpoints);
  eo.request_timeout = static_cast<int64_t>(o.remote_timeout_s * 1000) * kj::MILLISECONDS;
  absl::StatusOr<std::unique_ptr<cluster::EtcdClient>> etcd =
      cluster::EtcdClient::Create(network, timer, std::move(eo));
  if (!etcd.ok()) return etcd.status();
  n->etcd_ = *std::move(etcd);

  cluster::Member self;
  if (absl::Status s = n->StartUcx(o.ucx_tls, host_arena, self); !s.ok()) return s;
  remote::RemoteOptions ro;
  ro.self = o.node_id;
  ro.replicas = o.replicas;
  ro.timeout = static_cast<int64_t>(o.remote_timeout_s * 1000) * kj::MILLISECONDS;
  ro.max_message_bytes = o.max_message_bytes;
  ro.transport = n->transport_.get();
  n->remote_ = std::make_unique<remote::RemoteBlocks>(std::move(ro), network, timer);

  self.node_id = o.node_id;
  self.rpc = AdvertisedAddress(rpc_address);
  self.host_bytes = o.host_bytes;
  self.disk_bytes = o.disk_bytes;
  self.device_bytes = o.device_bytes;
  self.started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  cluster::MembershipOptions mo;
  mo.cluster = o.cluster;
  mo.ttl_seconds = std::max<int64_t>(1, static_cast<int64_t>(o.lease_ttl_s + 0.5));
  absl::StatusOr<std::unique_ptr<cluster::Membership>> m =
      cluster::Membership::Create(n->etcd_.get(), &timer, std::move(self), mo);
  if (!m.ok()) return m.status();
  n->membership_ = *std::move(m);
  ClusterNode* self_node = n.get();
  n->membership_->SetChangeCallback([self_node](const cluster::MembershipView& view) {
    std::vector<remote::RemoteMember> members, peers;
    for (const cluster::Member& m : view.members) {
      members.push_back({m.node_id, m.rpc, m.ucx, m.ucx_rkey, m.ucx_base});
      if (m.node_id != self_node->node_id_) peers.push_back(members.back());
    }
    self_node->remote_->SetMembers(members);
    if (self_node->on_peers_) self_node->on_peers_(peers);
  });
  return n;
}

ClusterNode::~ClusterNode() {
  membership_ = nullptr;  // before the client it calls
  remote_ = nullptr;
  etcd_ = nullptr;
  arena_ = nullptr;  // no longer published; then the transport goes
  transport_ = nullptr;
}

kj::Promise<absl::Status> ClusterNode::Start() { return membership_->Start(); }

kj::Promise<absl::Status> ClusterNode::Leave() { return membership_->Leave(); }

std::string ClusterNode::Json() const {
  const std::shared_ptr<const cluster::MembershipView> view = membership_->View();
  const remote::RemoteStats rs = remote_->Stats();
  const absl::Status health = membership_->health();
  std::string out = absl::StrCat(
      "{\"node_id\":", JsonQuote(node_id_), ",\"cluster\":", JsonQuote(cluster_),
      ",\"replicas\":", replicas_, ",\"registered\":", membership_->registered() ? "true" : "false",
      ",\"health\":", JsonQuote(health.ok() ? "ok" : health.message()), ",\"members\":[");
  for (size_t i = 0; i < view->members.size(); ++i) {
    const cluster::Member& m = view->members[i];
    absl::StrAppend(&out, i ? "," : "", "{\"node_id\":", JsonQuote(m.node_id),
                    ",\"rpc\":", JsonQuote(m.rpc), ",\"host_bytes\":", m.host_bytes,
                    ",\"disk_bytes\":", m.disk_bytes, ",\"device_bytes\":", m.device_bytes,
                    ",\"started_ns\":", m.started_ns,
                    ",\"ucx_rma\":", m.ucx_rkey.empty() ? "false" : "true", "}");
  }
  absl::StrAppend(&out, "],\"remote\":{\"hits\":", rs.hits, ",\"misses\":", rs.misses,
                  ",\"bytes_in\":", rs.bytes_in, ",\"lookups\":", rs.lookups,
                  ",\"pushes\":", rs.pushes, ",\"push_errors\":", rs.push_errors,
                  ",\"pushes_dropped\":", rs.pushes_dropped, ",\"peer_errors\":", rs.peer_errors,
                  ",\"ucx\":", JsonQuote(transport_ ? transport_->caps().name : "none"),
                  ",\"ucx_pulls\":", rs.ucx_pulls, ",\"ucx_bytes\":", rs.ucx_bytes,
                  ",\"ucx_fallbacks\":", rs.ucx_fallbacks, ",\"ucx_errors\":", rs.ucx_errors, "}}");
  return out;
}

}  // namespace kvstash::service
