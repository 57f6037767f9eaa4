#include "service/router/node_event_subscriber.h"

#include <capnp/rpc-twoparty.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/node.capnp.h"
#include "service/router/wire_hash.h"

namespace kvstash::router {
namespace {

constexpr double kFirstBackoffS = 0.2;
constexpr double kMaxBackoffS = 5.0;
constexpr uint64_t kMaxMessageBytes = uint64_t{256} << 20;

std::optional<Medium> MediumOf(proto::Tier t) {
  switch (t) {
    case proto::Tier::DEVICE:
      return Medium::kDevice;
    case proto::Tier::HOST:
      return Medium::kHost;
    case proto::Tier::DISK:
      return Medium::kDisk;
    default:
      return std::nullopt;
  }
}

std::vector<uint64_t> Hashes(capnp::List<proto::BlockKey>::Reader keys) {
  std::vector<uint64_t> out;
  out.reserve(keys.size());
  for (proto::BlockKey::Reader k : keys) {
    const auto d = k.getDigest();
    if (d.size() > 0) out.push_back(WireHashOfDigest(d.begin(), d.size()));
  }
  return out;
}

// One RPC connection to a peer, torn down in reverse order.
struct Connection {
  explicit Connection(kj::Own<kj::AsyncIoStream> s) : stream(kj::mv(s)) {
    capnp::ReaderOptions opts;
    opts.traversalLimitInWords = kMaxMessageBytes / 8;
    network =
        kj::heap<capnp::TwoPartyVatNetwork>(*stream, capnp::rpc::twoparty::Side::CLIENT, opts);
    rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network));
  }
  proto::Node::Client Bootstrap() {
    capnp::MallocMessageBuilder vat;
    auto id = vat.initRoot<capnp::rpc::twoparty::VatId>();
    id.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc->bootstrap(id).castAs<proto::Node>();
  }
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
};

}  // namespace

absl::StatusOr<NodePeer> ParseNodePeer(absl::string_view spec) {
  const size_t eq = spec.find('=');
  const size_t colon = spec.rfind(':');
  if (eq == 0 || eq == absl::string_view::npos || colon == absl::string_view::npos || colon < eq ||
      colon + 1 == spec.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", spec, "' is not NODE=HOST:PORT (e.g. node-b=10.0.0.6:7411)"));
  }
  return NodePeer{std::string(spec.substr(0, eq)), std::string(spec.substr(eq + 1))};
}

struct NodeEventSubscriber::Peer {
  NodePeer config;
  NodePeerStats stats;
  double backoff_s = kFirstBackoffS;
  std::optional<proto::Subscription::Client> handle;  // keeps the node pushing
  std::optional<kj::Promise<void>> loop;              // dropping it cancels the session
};

// Applies the pushed batches of one peer.
class NodeEventSubscriber::Sink final : public proto::EventSink::Server {
 public:
  Sink(NodeEventSubscriber* owner, Peer* peer) : owner_(owner), peer_(peer) {}

 protected:
  kj::Promise<void> push(PushContext context) override {
    const proto::EventBatch::Reader b = context.getParams().getBatch();
    Peer& p = *peer_;
    if (b.getNode() != p.config.node) {
      p.stats.last_error =
          absl::StrCat("the peer at ", p.config.address, " calls itself '", b.getNode().cStr(),
                       "', not '", p.config.node, "' (check --node-events and its --node-id)");
      return kj::READY_NOW;
    }
    EventBatch batch;
    batch.holder = HolderId{p.config.node, kNodeRank};
    batch.seq = b.getSeq();
    for (proto::KvEvent::Reader e : b.getEvents()) Convert(e, &batch);
    ++p.stats.batches;
    p.stats.events += batch.events.size();
    p.stats.snapshots += b.getSnapshot();
    p.stats.last_seq = b.getSeq();
    absl::Status s = owner_->index_->Apply(batch, owner_->now_());
    if (!s.ok()) p.stats.last_error = std::string(s.message());
    return kj::READY_NOW;
  }

 private:
  static void Convert(proto::KvEvent::Reader e, EventBatch* out) {
    KvEvent k;
    if (e.isCleared()) {
      k.kind = KvEvent::Kind::kCleared;
      out->events.push_back(std::move(k));
      return;
    }
    k.medium = MediumOf(e.getTier());
    if (!k.medium) return;  // not a tier a router places by
    if (e.isStored()) {
      k.kind = KvEvent::Kind::kStored;
      k.block_hashes = Hashes(e.getStored().getKeys());
      if (e.getStored().hasParent() && e.getStored().getParent().getDigest().size() > 0) {
        const auto d = e.getStored().getParent().getDigest();
        k.parent_hash = WireHashOfDigest(d.begin(), d.size());
      }
    } else {
      k.kind = KvEvent::Kind::kRemoved;
      k.block_hashes = Hashes(e.getRemoved().getKeys());
    }
    if (!k.block_hashes.empty()) out->events.push_back(std::move(k));
  }

  NodeEventSubscriber* const owner_;
  Peer* const peer_;
};

NodeEventSubscriber::NodeEventSubscriber(PrefixIndex* index, std::vector<NodePeer> peers,
                                         std::function<double()> now)
    : index_(index), now_(std::move(now)) {
  SetPeers(std::move(peers));
}

NodeEventSubscriber::~NodeEventSubscriber() { Stop(); }

void NodeEventSubscriber::Start(kj::Network& network, kj::Timer& timer) {
  network_ = &network;
  timer_ = &timer;
  for (auto& [id, p] : peers_) Launch(*p);
}

void NodeEventSubscriber::Launch(Peer& p) {
  if (network_ == nullptr || p.loop) return;
  p.loop = RunPeer(p).eagerlyEvaluate(nullptr);
}

void NodeEventSubscriber::SetPeers(std::vector<NodePeer> peers) {
  std::map<std::string, NodePeer> next;
  for (NodePeer& p : peers) next[p.node] = std::move(p);
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto n = next.find(it->first);
    if (n != next.end() && n->second.address == it->second->config.address) {
      ++it;
      continue;
    }
    it->second->loop.reset();  // cancels the session; its connection goes with it
    it->second->handle.reset();
    index_->RemoveHolder(HolderId{it->first, kNodeRank});
    it = peers_.erase(it);
  }
  for (auto& [id, config] : next) {
    if (peers_.contains(id)) continue;
    auto peer = std::make_unique<Peer>();
    peer->stats.node = config.node;
    peer->stats.address = config.address;
    peer->config = std::move(config);
    Launch(*peer);
    peers_.emplace(id, std::move(peer));
  }
}

void NodeEventSubscriber::Stop() {
  for (auto& [id, p] : peers_) {
    p->loop.reset();
    p->handle.reset();
  }
}

kj::Promise<void> NodeEventSubscriber::RunPeer(Peer& p) {
  return Session(p)
      .then([this, &p]() { Disconnected(p, nullptr); },
            [this, &p](kj::Exception&& e) { Disconnected(p, &e); })
      .then([this, &p]() {
        const double wait = p.backoff_s;
        p.backoff_s = std::min(kMaxBackoffS, p.backoff_s * 2);
        return timer_->afterDelay(static_cast<int64_t>(wait * 1000) * kj::MILLISECONDS);
      })
      .then([this, &p]() { return RunPeer(p); });
}

kj::Promise<void> NodeEventSubscriber::Session(Peer& p) {
  return network_->parseAddress(p.config.address.c_str())
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([this, &p](kj::Own<kj::AsyncIoStream> stream) {
        auto conn = kj::heap<Connection>(kj::mv(stream));
        auto req = conn->Bootstrap().eventsRequest().send().getSource().subscribeRequest();
        req.setSink(kj::heap<Sink>(this, &p));
        req.setFromSeq(0);  // a fresh snapshot: entries were dropped on disconnect
        auto disconnected = conn->network->onDisconnect();
        return req.send()
            .then([&p](auto resp) {
              p.handle = resp.getHandle();
              p.stats.connected = true;
              ++p.stats.connects;
              p.backoff_s = kFirstBackoffS;
            })
            .then([d = kj::mv(disconnected)]() mutable { return kj::mv(d); })
            // Drop the handle while its connection still exists.
            .then([&p]() { p.handle.reset(); },
                  [&p](kj::Exception&& e) {
                    p.handle.reset();
                    kj::throwFatalException(kj::mv(e));
                  })
            .attach(kj::mv(conn));
      });
}

void NodeEventSubscriber::Disconnected(Peer& p, const kj::Exception* why) {
  p.handle.reset();
  p.stats.connected = false;
  if (why != nullptr) p.stats.last_error = why->getDescription().cStr();
  index_->RemoveHolder(HolderId{p.config.node, kNodeRank});
}

std::vector<NodePeerStats> NodeEventSubscriber::Stats() const {
  std::vector<NodePeerStats> out;
  for (const auto& [id, p] : peers_) out.push_back(p->stats);
  return out;
}

}  // namespace kvstash::router
