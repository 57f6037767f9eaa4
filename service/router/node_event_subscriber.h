// NodeEventSubscriber: the router's view of other kvstash nodes. For each
// peer named by `--node-events NODE=HOST:PORT` it connects to the peer's node
// API over Cap'n Proto, calls Node.events().subscribe(sink, 0), and applies
// the pushed batches (proto/events.capnp) to the prefix index as holder
// (NODE, kNodeRank): stored/removed per tier (device, host, disk), cleared,
// snapshots. Every push, heartbeats included, touches the holder.
//
// Peers are fixed (the flag) or follow cluster membership (SetPeers). A
// dropped connection removes the peer's entries at once (a router must not
// send requests to blocks it can no longer vouch for), then reconnects with
// backoff (0.2 s doubling to 5 s) and resubscribes from 0, which gets a fresh
// snapshot. A batch naming another node is an error that drops the
// connection (misconfiguration: the flag's NODE must be the peer's
// --node-id).
//
// Threading: everything runs on the event loop that calls Start(); Stats()
// there too.
#ifndef KVSTASH_SERVICE_ROUTER_NODE_EVENT_SUBSCRIBER_H_
#define KVSTASH_SERVICE_ROUTER_NODE_EVENT_SUBSCRIBER_H_

#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/router/prefix_index.h"

namespace kvstash::router {

struct NodePeer {
  std::string node;     // the peer's --node-id
  std::string address;  // its --listen host:port
};

// "NODE=HOST:PORT"; InvalidArgument naming what is wrong.
absl::StatusOr<NodePeer> ParseNodePeer(absl::string_view spec);

struct NodePeerStats {
  std::string node;
  std::string address;
  bool connected = false;
  uint64_t batches = 0;
  uint64_t events = 0;
  uint64_t snapshots = 0;  // snapshot batches applied
  uint64_t connects = 0;
  uint64_t last_seq = 0;
  std::string last_error;
};

class NodeEventSubscriber {
 public:
  // `index` must outlive the subscriber. `now` gives seconds for Touch.
  NodeEventSubscriber(PrefixIndex* index, std::vector<NodePeer> peers, std::function<double()> now);
  ~NodeEventSubscriber();
  NodeEventSubscriber(const NodeEventSubscriber&) = delete;
  NodeEventSubscriber& operator=(const NodeEventSubscriber&) = delete;

  // Starts one connection loop per peer on the calling thread's event loop;
  // they run until Stop() or SetPeers() drops them.
  void Start(kj::Network& network, kj::Timer& timer);
  // Replaces the peer set (e.g. from cluster membership): new peers are
  // subscribed to (once started), departed ones dropped with their entries;
  // peers whose address is unchanged keep their connection.
  void SetPeers(std::vector<NodePeer> peers);
  // Drops every connection. REQUIRES: called on the event loop, before it
  // goes away (capabilities must die on their loop).
  void Stop();
  std::vector<NodePeerStats> Stats() const;

 private:
  struct Peer;
  class Sink;

  kj::Promise<void> RunPeer(Peer& p);
  kj::Promise<void> Session(Peer& p);
  void Disconnected(Peer& p, const kj::Exception* why);
  void Launch(Peer& p);

  PrefixIndex* const index_;
  const std::function<double()> now_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;  // by node id
  kj::Network* network_ = nullptr;
  kj::Timer* timer_ = nullptr;
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_NODE_EVENT_SUBSCRIBER_H_
