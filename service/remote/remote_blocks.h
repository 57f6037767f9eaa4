// RemoteBlocks: the cluster's shared block space as one node sees it
// (DESIGN.md "Cluster", issue 6). Owners of a key are the `replicas` live
// members with the highest rendezvous weight (rendezvous.h). This node
//   - pushes every block it stores (unless node-local) to the key's owners
//     other than itself, asynchronously, with a bound on pushes in flight;
//   - answers a local miss by asking the owners: Holds() for lookups past the
//     local prefix (Node.holds), Fetch() for gets (Node.get with localOnly, so
//     a request never bounces between nodes).
// Data path of a pull (Fetch): with a transport (RemoteOptions::transport)
// and an owner that published its UCX address and host-arena key, the owner
// is asked for the block's location (Node.get with localOnly and zeroCopy:
// a SlotRef into its arena, pinned by the returned lease), the bytes are read
// with a UCX RMA get into a buffer here, verified (header, key, format,
// payload checksum: a torn or wrong read is never returned), and the lease is
// dropped. A block the owner holds elsewhere (disk, device, another format)
// comes back inline in the same answer; an owner without UCX details, or an
// RMA get that fails or does not verify, falls back to the inline get.
// UCX peers are connected on first use and disconnected when their member
// leaves, changes its details, or fails (reconnected on the next pull).
// Peers are reached over the node API (Cap'n Proto over TCP) at the address
// membership publishes; connections are made lazily, kept, and dropped when
// they fail or the member leaves (the next call reconnects, at most once per
// `reconnect_delay`). Every remote call has `timeout`: a dead or hung peer
// costs a request at most that long, after which its keys count as misses.
//
// Threading: everything runs on the event loop of the thread that created it
// (the daemon's); Stats() too. RMA completions are polled from that loop with
// a timer (Transport::Wait would block it); a UCX connect and the first use
// of a peer's key wait briefly for the transport's progress thread.
#ifndef KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_H_
#define KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_H_

#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/codec.h"
#include "proto/node.capnp.h"
#include "tiers/block.h"
#include "transport/transport.h"

namespace kvstash::remote {

struct RemoteOptions {
  std::string self;  // this node's id (its own member entry)
  size_t replicas = 1;
  kj::Duration timeout = 2 * kj::SECONDS;
  kj::Duration reconnect_delay = 500 * kj::MILLISECONDS;
  size_t max_pushes_in_flight = 256;
  uint64_t max_message_bytes = uint64_t{256} << 20;
  // Pulls by RMA through this transport (not owned; must outlive the
  // RemoteBlocks and have caps().rma); nullptr: inline pulls only.
  transport::Transport* transport = nullptr;
};

struct RemoteMember {
  std::string node_id;
  std::string rpc_address;  // host:port of its node API
  // Its transport address, host-arena remote key and arena address
  // (cluster::Member); RMA pulls from it need all three.
  std::string ucx_address;
  std::string ucx_rkey;
  uint64_t ucx_base = 0;
};

struct RemoteStats {
  uint64_t members = 0;
  uint64_t lookups = 0;      // Holds() calls
  uint64_t hits = 0;         // blocks fetched from an owner
  uint64_t misses = 0;       // fetches no owner could serve
  uint64_t bytes_in = 0;     // fetched bytes
  uint64_t peer_errors = 0;  // remote calls that failed or timed out
  uint64_t pushes = 0;       // blocks pushed to owners (per owner)
  uint64_t push_errors = 0;
  uint64_t pushes_dropped = 0;  // over max_pushes_in_flight
  // The data path of pulls (with a transport only): blocks read by RMA and
  // their bytes; owner answers taken inline instead (no UCX details, block not
  // in its host arena in the format, or after a failed RMA get); RMA gets
  // that failed or did not verify.
  uint64_t ucx_pulls = 0;
  uint64_t ucx_bytes = 0;
  uint64_t ucx_fallbacks = 0;
  uint64_t ucx_errors = 0;
};

class RemoteBlocks {
 public:
  RemoteBlocks(RemoteOptions options, kj::Network& network, kj::Timer& timer);
  ~RemoteBlocks();
  RemoteBlocks(const RemoteBlocks&) = delete;
  RemoteBlocks& operator=(const RemoteBlocks&) = delete;

  // The live members, this node included. Connections to members that left
  // are dropped; a member whose address changed is reconnected.
  void SetMembers(const std::vector<RemoteMember>& members);
  // Owners of `key` among the live members, best first (may include self).
  std::vector<std::string> Owners(const tiers::BlockKey& key) const;

  // For each key: whether an owner other than this node holds it.
  kj::Promise<std::vector<bool>> Holds(std::vector<tiers::BlockKey> keys);
  // The serialised block in `format` from the first owner (in owner order)
  // that has it; nullopt when none does or none answers in time.
  kj::Promise<std::optional<std::string>> Fetch(tiers::BlockKey key, kernels::Format format);
  // Sends one block to each owner other than this node; `fill` writes the
  // PutBlock. Returns at once; failures are counted, never retried.
  void Push(const tiers::BlockKey& key, const std::function<void(proto::PutBlock::Builder)>& fill);

  RemoteStats Stats() const { return stats_; }
  const RemoteOptions& options() const { return options_; }

 private:
  struct Peer;

  // The peer's node capability, connecting if needed; nullptr for self or
  // an unknown member, or while a failed peer waits out reconnect_delay.
  std::optional<proto::Node::Client> NodeOf(const std::string& id);
  void Broken(const std::string& id);
  // One owner's answer for `key`: by RMA where possible, else inline.
  kj::Promise<std::optional<std::string>> FetchFrom(const std::string& owner,
                                                    const tiers::BlockKey& key,
                                                    kernels::Format format);
  kj::Promise<std::optional<std::string>> FetchInline(proto::Node::Client node,
                                                      const tiers::BlockKey& key,
                                                      kernels::Format format);
  // remote_pull_ucx.cc: reads [offset, offset + length) of the owner's
  // arena and verifies it as `key` in `format`; nullopt on any failure.
  kj::Promise<std::optional<std::string>> PullSlot(const std::string& owner,
                                                   const tiers::BlockKey& key,
                                                   kernels::Format format, uint64_t offset,
                                                   uint64_t length);
  // The owner's UCX peer, connecting (again) when there is none or it failed.
  absl::StatusOr<transport::PeerId> UcxPeerOf(Peer& peer);
  void DisconnectUcx(Peer& peer);
  template <typename T>
  kj::Promise<T> WithTimeout(kj::Promise<T> p);

  const RemoteOptions options_;
  kj::Network& network_;
  kj::Timer& timer_;
  std::vector<std::string> members_;  // sorted ids, self included
  std::map<std::string, std::unique_ptr<Peer>> peers_;
  size_t pushes_in_flight_ = 0;
  RemoteStats stats_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace kvstash::remote

#endif  // KVSTASH_SERVICE_REMOTE_REMOTE_BLOCKS_H_
