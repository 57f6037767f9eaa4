#include "service/daemon.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "proto/status_wire.h"
#include "service/admin_http.h"
#include "service/cluster_node.h"
#include "service/node_service.h"
#include "service/stats_export.h"
#include "service/tier_setup.h"
#include "tiers/host_tier.h"

namespace kvstash::service {
namespace {

// How often this node's KV events are sealed and pushed to subscribers.
constexpr kj::Duration kEventFlushPeriod = 10 * kj::MILLISECONDS;

proto::Tier ProtoTier(router::Medium m) {
  switch (m) {
    case router::Medium::kDevice:
      return proto::Tier::DEVICE;
    case router::Medium::kHost:
      return proto::Tier::HOST;
    case router::Medium::kDisk:
      return proto::Tier::DISK;
  }
  return proto::Tier::NONE;
}

// A socket file left by a dead daemon is removed; one that still answers
// belongs to a live daemon and is an error.
absl::Status PrepareSocketPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--socket: '", path, "' exists and is not a socket"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  if (live) {
    return absl::FailedPreconditionError(
        absl::StrCat("--socket: another kvstashd is serving on '", path, "'"));
  }
  ::unlink(path.c_str());
  return absl::OkStatus();
}

// One RPC connection: its stream, vat network and RPC system (destroyed in
// reverse order). Unix-socket streams carry file descriptors (the host arena's
// memfd for zero-copy gets).
struct Connection {
  Connection(kj::Own<kj::AsyncIoStream> s, capnp::Capability::Client bootstrap,
             capnp::ReaderOptions opts, bool pass_fds)
      : stream(kj::mv(s)) {
    auto* caps = pass_fds ? dynamic_cast<kj::AsyncCapabilityStream*>(stream.get()) : nullptr;
    network = caps != nullptr
                  ? kj::heap<capnp::TwoPartyVatNetwork>(*caps, kMaxFdsPerMessage,
                                                        capnp::rpc::twoparty::Side::SERVER, opts)
                  : kj::heap<capnp::TwoPartyVatNetwork>(*stream, capnp::rpc::twoparty::Side::SERVER,
                                                        opts);
    rpc = kj::heap(capnp::makeRpcServer(*network, kj::mv(bootstrap)));
  }
  static constexpr unsigned kMaxFdsPerMessage = 2;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
};

class RpcListener final : public kj::TaskSet::ErrorHandler {
 public:
  RpcListener(capnp::Capability::Client bootstrap, uint32_t max_connections,
              uint64_t max_message_bytes)
      : bootstrap_(kj::mv(bootstrap)), max_connections_(max_connections), tasks_(*this) {
    opts_.traversalLimitInWords = max_message_bytes / 8;
  }

  // `pass_fds`: a Unix socket, over which file descriptors travel.
  void Listen(kj::ConnectionReceiver& listener, bool pass_fds) {
    tasks_.add(Accept(listener, pass_fds));
  }
  void taskFailed(kj::Exception&& e) override {
    std::cerr << "kvstashd: connection error: " << e.getDescription().cStr() << "\n";
  }

 private:
  kj::Promise<void> Accept(kj::ConnectionReceiver& listener, bool pass_fds) {
    return listener.accept().then([this, &listener, pass_fds](kj::Own<kj::AsyncIoStream> stream) {
      if (open_ >= max_connections_) {
        std::cerr << "kvstashd: refusing a connection: " << open_ << " open (--max-connections)\n";
      } else {
        ++open_;
        auto conn = kj::heap<Connection>(kj::mv(stream), bootstrap_, opts_, pass_fds);
        auto done = conn->network->onDisconnect();
        tasks_.add(done.attach(kj::mv(conn))
                       .then([this] { --open_; }, [this](kj::Exception&&) { --open_; }));
      }
      return Accept(listener, pass_fds);
    });
  }

  capnp::Capability::Client bootstrap_;
  const uint32_t max_connections_;
  capnp::ReaderOptions opts_;
  uint32_t open_ = 0;
  kj::TaskSet tasks_;
};

// The host tier's arena, which cluster mode serves to peers by RMA.
absl::Span<const char> HostArena(tiers::TierManager& manager) {
  for (int i = 0; i < manager.tier_count(); ++i) {
    if (auto* host = dynamic_cast<tiers::HostTier*>(manager.tier(i))) return host->arena();
  }
  return {};
}

}  // namespace

void Daemon::CaptureSignals() {
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  ::signal(SIGPIPE, SIG_IGN);
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Create(const DaemonOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir: cannot create '", options.data_dir, "': ", ec.message()));
  }
  absl::StatusOr<ModelProfile> profile = LoadProfile(options.profile);
  if (!profile.ok()) return profile.status();
  router::RouterServiceOptions ro;
  ro.node_id = options.node_id;
  ro.engine_events = options.engine_events;
  ro.node_events = options.node_events;
  ro.silent_s = options.router_silent_s;
  ro.max_blocks = options.router_max_blocks;
  ro.approximate_ttl_s = options.router_approximate_ttl_s;
  // The tiers BuildTierManager builds, fastest first.
  if (options.device_bytes > 0) ro.tier_media.push_back(router::Medium::kDevice);
  if (options.host_bytes > 0) ro.tier_media.push_back(router::Medium::kHost);
  if (options.disk_bytes > 0) ro.tier_media.push_back(router::Medium::kDisk);
  const std::vector<router::Medium> ro_media = ro.tier_media;
  absl::StatusOr<std::unique_ptr<router::RouterService>> router =
      router::RouterService::Create(std::move(ro));
  if (!router.ok()) return router.status();
  NodeEventLogOptions eo;
  eo.node = options.node_id;
  for (router::Medium m : ro_media) eo.tier_kinds.push_back(ProtoTier(m));
  auto events = std::make_unique<NodeEventLog>(std::move(eo));
  router::RouterService* r = router->get();
  NodeEventLog* e = events.get();
  absl::StatusOr<std::unique_ptr<tiers::TierManager>> manager =
      BuildTierManager(options, *profile, Env::Default(), [r, e](const tiers::CopyChange& c) {
        r->OnCopyChange(c);
        e->OnCopyChange(c);
      });
  if (!manager.ok()) return manager.status();
  return std::unique_ptr<Daemon>(new Daemon(options, *std::move(profile), *std::move(router),
                                            std::move(events), *std::move(manager)));
}

kj::Promise<void> Daemon::FlushEvents(kj::Timer& timer) {
  return timer.afterDelay(kEventFlushPeriod).then([this, &timer]() {
    events_->Flush(SystemClock()->NowNanos());
    return FlushEvents(timer);
  });
}

Daemon::Daemon(const DaemonOptions& options, ModelProfile profile,
               std::unique_ptr<router::RouterService> router, std::unique_ptr<NodeEventLog> events,
               std::unique_ptr<tiers::TierManager> manager)
    : options_(options),
      profile_(std::move(profile)),
      router_(std::move(router)),
      events_(std::move(events)),
      manager_(std::move(manager)) {
  tier_metrics_ =
      metrics_.AddCollector([this](MetricWriter& w) { WriteTierMetrics(manager_->Stats(), w); });
  router_metrics_ = metrics_.AddCollector([this](MetricWriter& w) { router_->Collect(w); });
}

Daemon::~Daemon() = default;

absl::Status Daemon::Run(const std::function<void(const ListenInfo&)>& on_ready) {
  if (absl::Status s = PrepareSocketPath(options_.socket_path); !s.ok()) return s;
  try {
    kj::AsyncIoContext io = kj::setupAsyncIo();
    kj::Network& net = io.provider->getNetwork();
    ListenInfo info;
    auto unix_addr =
        net.parseAddress(kj::str("unix:", options_.socket_path.c_str())).wait(io.waitScope);
    auto unix_listener = unix_addr->listen();
    ::chmod(options_.socket_path.c_str(), 0660);
    info.socket_path = options_.socket_path;
    absl::StatusOr<kj::Own<kj::NetworkAddress>> tcp_addr =
        ResolveAddress(net, options_.listen_address, io.waitScope);
    if (!tcp_addr.ok())
      return absl::InvalidArgumentError(absl::StrCat("--listen: ", tcp_addr.status().message()));
    auto tcp_listener = (*tcp_addr)->listen();
    info.tcp_address =
        absl::StrCat(options_.listen_address.substr(0, options_.listen_address.rfind(':')), ":",
                     tcp_listener->getPort());

    std::unique_ptr<ClusterNode> cluster;  // cluster mode (--etcd)
    if (!options_.etcd.empty()) {
      absl::StatusOr<std::unique_ptr<ClusterNode>> c =
          ClusterNode::Create(options_, info.tcp_address, HostArena(*manager_),
                              io.provider->getNetwork(), io.provider->getTimer());
      if (!c.ok()) return c.status();
      cluster = *std::move(c);
      // The router follows every member's tier events, as --node-events would.
      router::RouterService* r = router_.get();
      cluster->OnPeers([r](const std::vector<remote::RemoteMember>& peers) {
        std::vector<router::NodePeer> nodes;
        for (const remote::RemoteMember& m : peers) nodes.push_back({m.node_id, m.rpc_address});
        r->SetClusterPeers(std::move(nodes));
      });
    }
    CollectorHandle remote_metrics;  // before `cluster` goes
    if (cluster) {
      remote::RemoteBlocks* rb = cluster->remote();
      remote_metrics =
          metrics_.AddCollector([rb](MetricWriter& w) { WriteRemoteMetrics(rb->Stats(), w); });
    }
    NodeLimits limits;
    limits.max_batch_blocks = options_.max_batch_blocks;
    RpcListener rpc(kj::heap<NodeService>(manager_.get(), limits, events_.get(), router_.get(),
                                          cluster ? cluster->remote() : nullptr),
                    options_.max_connections, options_.max_message_bytes);
    kj::Promise<void> flushing = FlushEvents(io.provider->getTimer()).eagerlyEvaluate(nullptr);
    router_->StartNodeEvents(io.provider->getNetwork(), io.provider->getTimer());
    // Capabilities must die on their event loop, which ends with this scope;
    // the router and the event log outlive it.
    KJ_DEFER({
      router_->StopNodeEvents();
      events_->Close();
    });
    rpc.Listen(*unix_listener, true);
    rpc.Listen(*tcp_listener, false);

    AdminHttpServer admin(io.provider->getTimer(), &metrics_);
    ClusterNode* c = cluster.get();
    admin.SetReadinessCheck([c] { return c != nullptr ? c->Ready() : absl::OkStatus(); });
    if (c != nullptr) {
      KVSTASH_CHECK(admin
                        .AddRoute(kj::HttpMethod::GET, "/v1/cluster",
                                  [c](const HttpRequest&) {
                                    HttpResponse r;
                                    r.content_type = "application/json";
                                    r.body = c->Json();
                                    return r;
                                  })
                        .ok());
    }
    admin.SetStatsSource([this]() -> absl::StatusOr<std::string> { return StatsJson(); });
    router_->AddRoutes(admin);
    absl::StatusOr<kj::Own<kj::NetworkAddress>> http_addr =
        ResolveAddress(net, options_.http_address, io.waitScope);
    if (!http_addr.ok())
      return absl::InvalidArgumentError(absl::StrCat("--http: ", http_addr.status().message()));
    absl::StatusOr<uint32_t> http_port = admin.Start(**http_addr);
    if (!http_port.ok()) return http_port.status();
    info.http_address = absl::StrCat(
        options_.http_address.substr(0, options_.http_address.rfind(':')), ":", *http_port);

    if (cluster) {  // serving before registering: peers may call at once
      absl::Status joined = cluster->Start().wait(io.waitScope);
      if (!joined.ok()) {
        ::unlink(options_.socket_path.c_str());
        return absl::Status(
            joined.code(), absl::StrCat("--etcd: cannot join cluster '", options_.cluster, "' as '",
                                        options_.node_id, "': ", joined.message()));
      }
    }
    on_ready(info);
    io.unixEventPort.onSignal(SIGTERM)
        .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
        .wait(io.waitScope);
    std::cerr << "kvstashd: signal received, draining\n";
    if (cluster) {
      absl::Status left = cluster->Leave().wait(io.waitScope);
      if (!left.ok()) std::cerr << "kvstashd: leaving the cluster: " << left.message() << "\n";
    }

  } catch (const kj::Exception& e) {
    ::unlink(options_.socket_path.c_str());
    return proto::StatusFromException(e);
  }
  ::unlink(options_.socket_path.c_str());
  return absl::OkStatus();
}

std::string Daemon::StatsJson() const {
  return StatsToJson(manager_->Stats(), profile_.name,
                     std::string(kernels::FormatName(options_.storage_format)));
}

}  // namespace kvstash::service
