#include "service/remote/remote_blocks.h"

#include <algorithm>
#include <utility>

#include "service/remote/remote_blocks_internal.h"
#include "service/remote/rendezvous.h"

namespace kvstash::remote {
namespace {

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}  // every task counts its own failure
};
IgnoreErrors ignore_errors;

void KeyToProto(const tiers::BlockKey& key, proto::BlockKey::Builder out) {
  out.setNs(key.ns);
  out.setDigest(capnp::Data::Reader(key.digest.data(), key.digest.size()));
}

}  // namespace

RemoteBlocks::RemoteBlocks(RemoteOptions options, kj::Network& network, kj::Timer& timer)
    : options_(std::move(options)),
      network_(network),
      timer_(timer),
      tasks_(kj::heap<kj::TaskSet>(ignore_errors)) {
  members_.push_back(options_.self);
}

RemoteBlocks::~RemoteBlocks() {
  tasks_ = nullptr;  // cancel pushes and watchers before the peers go
  for (auto& [id, peer] : peers_) DisconnectUcx(*peer);
  peers_.clear();
}

void RemoteBlocks::SetMembers(const std::vector<RemoteMember>& members) {
  std::map<std::string, RemoteMember> next;
  for (const RemoteMember& m : members) next[m.node_id] = m;
  next.emplace(options_.self, RemoteMember{options_.self});  // always in its own view
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto n = next.find(it->first);
    const Peer& p = *it->second;
    const bool same = n != next.end() && n->second.rpc_address == p.address &&
                      n->second.ucx_address == p.ucx_address && n->second.ucx_rkey == p.ucx_rkey &&
                      n->second.ucx_base == p.ucx_base;
    if (same) {
      ++it;
    } else {  // left, or restarted with new details: forget the old connections
      DisconnectUcx(*it->second);
      it = peers_.erase(it);
    }
  }
  members_.clear();
  for (const auto& [id, m] : next) {
    members_.push_back(id);
    if (id == options_.self || peers_.contains(id)) continue;
    auto p = std::make_unique<Peer>();
    p->address = m.rpc_address;
    p->ucx_address = m.ucx_address;
    p->ucx_rkey = m.ucx_rkey;
    p->ucx_base = m.ucx_base;
    peers_.emplace(id, std::move(p));
  }
  stats_.members = members_.size();
}

std::vector<std::string> RemoteBlocks::Owners(const tiers::BlockKey& key) const {
  return RendezvousOwners(key, members_, options_.replicas);
}

std::optional<proto::Node::Client> RemoteBlocks::NodeOf(const std::string& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return std::nullopt;
  Peer& p = *it->second;
  if (p.node) return *p.node;
  if (timer_.now() < p.retry_after) return std::nullopt;
  const uint64_t words = options_.max_message_bytes / 8;
  auto connected =
      network_.parseAddress(p.address.c_str())
          .then([](kj::Own<kj::NetworkAddress> a) { return a->connect().attach(kj::mv(a)); })
          .then([this, id, words](kj::Own<kj::AsyncIoStream> stream) -> proto::Node::Client {
            auto it = peers_.find(id);
            KJ_REQUIRE(it != peers_.end(), "[UNAVAILABLE] member left", id.c_str());
            auto c = kj::heap<Peer::Connection>();
            c->stream = kj::mv(stream);
            capnp::ReaderOptions opts;
            opts.traversalLimitInWords = words;
            c->network = kj::heap<capnp::TwoPartyVatNetwork>(
                *c->stream, capnp::rpc::twoparty::Side::CLIENT, opts);
            c->rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
                capnp::makeRpcClient(*c->network));
            capnp::MallocMessageBuilder vat;
            auto vid = vat.initRoot<capnp::rpc::twoparty::VatId>();
            vid.setSide(capnp::rpc::twoparty::Side::SERVER);
            proto::Node::Client node = c->rpc->bootstrap(vid).castAs<proto::Node>();
            tasks_->add(c->network->onDisconnect().then([this, id]() { Broken(id); }));
            it->second->conn = kj::mv(c);
            return node;
          });
  p.node = proto::Node::Client(connected.eagerlyEvaluate([this, id](kj::Exception&& e) {
    Broken(id);
    return proto::Node::Client(kj::mv(e));
  }));
  return *p.node;
}

void RemoteBlocks::Broken(const std::string& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Peer& p = *it->second;
  p.node.reset();
  // The connection may be what is calling us: let it go on a later turn.
  if (p.conn) tasks_->add(kj::evalLater([c = kj::mv(p.conn)]() {}));
  p.retry_after = timer_.now() + options_.reconnect_delay;
}

template <typename T>
kj::Promise<T> RemoteBlocks::WithTimeout(kj::Promise<T> p) {
  return timer_.timeoutAfter(options_.timeout, kj::mv(p));
}

kj::Promise<std::vector<bool>> RemoteBlocks::Holds(std::vector<tiers::BlockKey> keys) {
  ++stats_.lookups;
  std::map<std::string, std::vector<size_t>> by_owner;
  for (size_t i = 0; i < keys.size(); ++i) {
    for (const std::string& owner : Owners(keys[i])) {
      if (owner != options_.self) by_owner[owner].push_back(i);
    }
  }
  auto held = kj::heap<std::vector<bool>>(keys.size(), false);
  kj::Vector<kj::Promise<void>> calls;
  for (auto& [owner, idx] : by_owner) {
    std::optional<proto::Node::Client> node = NodeOf(owner);
    if (!node) continue;
    auto req = node->holdsRequest();
    auto list = req.initKeys(static_cast<unsigned>(idx.size()));
    for (size_t j = 0; j < idx.size(); ++j) KeyToProto(keys[idx[j]], list[j]);
    std::vector<bool>* out = held.get();
    calls.add(WithTimeout(req.send().then([out, idx = idx](auto resp) {
                auto tiers = resp.getTiers();
                for (size_t j = 0; j < idx.size() && j < tiers.size(); ++j) {
                  if (tiers[j] != proto::Tier::NONE) (*out)[idx[j]] = true;
                }
              })).catch_([this, owner = owner](kj::Exception&&) {
      ++stats_.peer_errors;
      Broken(owner);
    }));
  }
  return kj::joinPromises(calls.releaseAsArray()).then([held = kj::mv(held)]() mutable {
    return std::move(*held);
  });
}

kj::Promise<std::optional<std::string>> RemoteBlocks::Fetch(tiers::BlockKey key,
                                                            kernels::Format format) {
  kj::Vector<kj::Promise<std::optional<std::string>>> calls;
  for (const std::string& owner : Owners(key)) {
    if (owner == options_.self) continue;
    calls.add(WithTimeout(FetchFrom(owner, key, format))
                  .catch_([this, owner = owner](kj::Exception&&) -> std::optional<std::string> {
                    ++stats_.peer_errors;
                    Broken(owner);
                    return std::nullopt;
                  }));
  }
  return kj::joinPromises(calls.releaseAsArray())
      .then([this](kj::Array<std::optional<std::string>> got) -> std::optional<std::string> {
        for (auto& g : got) {
          if (g) {
            ++stats_.hits;
            stats_.bytes_in += g->size();
            return std::move(g);
          }
        }
        ++stats_.misses;
        return std::nullopt;
      });
}

namespace {

std::optional<std::string> InlineBytes(proto::BlockResult::Reader block) {
  if (!block.isInline()) return std::nullopt;
  auto bytes = block.getInline();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace

kj::Promise<std::optional<std::string>> RemoteBlocks::FetchFrom(const std::string& owner,
                                                                const tiers::BlockKey& key,
                                                                kernels::Format format) {
  std::optional<proto::Node::Client> node = NodeOf(owner);
  if (!node) return std::optional<std::string>();
  const Peer& peer = *peers_.at(owner);
  if (options_.transport == nullptr) return FetchInline(*node, key, format);
  if (peer.ucx_address.empty() || peer.ucx_rkey.empty()) {
    ++stats_.ucx_fallbacks;
    return FetchInline(*node, key, format);
  }
  // Where the block sits in the owner's arena (or its bytes inline when it
  // is not there in `format`), pinned until the answer (and its lease) goes.
  auto req = node->getRequest();
  KeyToProto(key, req.initKeys(1)[0]);
  req.setFormat(static_cast<proto::Format>(format));
  req.setLocalOnly(true);
  req.setZeroCopy(true);
  return req.send().then([this, owner, key, format,
                          node = *node](capnp::Response<proto::Node::GetResults> resp) mutable
                         -> kj::Promise<std::optional<std::string>> {
    auto blocks = resp.getBlocks();
    if (blocks.size() != 1) return std::optional<std::string>();
    if (!blocks[0].isSlot()) {
      if (blocks[0].isInline()) ++stats_.ucx_fallbacks;
      return InlineBytes(blocks[0]);
    }
    const auto slot = blocks[0].getSlot();
    return PullSlot(owner, key, format, slot.getOffset(), slot.getLength())
        .attach(kj::mv(resp))  // the lease: dropped once the read is over
        .then([this, node = kj::mv(node), key, format](std::optional<std::string> got) mutable
              -> kj::Promise<std::optional<std::string>> {
          if (got) return kj::mv(got);
          ++stats_.ucx_errors;
          ++stats_.ucx_fallbacks;
          return FetchInline(kj::mv(node), key, format);
        });
  });
}

kj::Promise<std::optional<std::string>> RemoteBlocks::FetchInline(proto::Node::Client node,
                                                                  const tiers::BlockKey& key,
                                                                  kernels::Format format) {
  auto req = node.getRequest();
  KeyToProto(key, req.initKeys(1)[0]);
  req.setFormat(static_cast<proto::Format>(format));
  req.setLocalOnly(true);
  return req.send().then([](auto resp) -> std::optional<std::string> {
    auto blocks = resp.getBlocks();
    if (blocks.size() != 1) return std::nullopt;
    return InlineBytes(blocks[0]);
  });
}

void RemoteBlocks::Push(const tiers::BlockKey& key,
                        const std::function<void(proto::PutBlock::Builder)>& fill) {
  for (const std::string& owner : Owners(key)) {
    if (owner == options_.self) continue;
    if (pushes_in_flight_ >= options_.max_pushes_in_flight) {
      ++stats_.pushes_dropped;
      continue;
    }
    std::optional<proto::Node::Client> node = NodeOf(owner);
    if (!node) {
      ++stats_.push_errors;
      continue;
    }
    auto req = node->putRequest();
    proto::PutBlock::Builder b = req.initBlocks(1)[0];
    fill(b);
    b.setNodeLocal(true);  // the owner keeps it; it must not push it on
    ++pushes_in_flight_;
    tasks_->add(WithTimeout(req.send().ignoreResult())
                    .then(
                        [this]() {
                          --pushes_in_flight_;
                          ++stats_.pushes;
                        },
                        [this, owner = owner](kj::Exception&&) {
                          --pushes_in_flight_;
                          ++stats_.push_errors;
                          Broken(owner);
                        }));
  }
}

}  // namespace kvstash::remote
