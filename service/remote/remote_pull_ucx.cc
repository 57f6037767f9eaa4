// RemoteBlocks' RMA data path: reading a block out of its owner's registered
// host arena with a UCX get (remote_blocks.h has the protocol).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/remote/remote_blocks.h"
#include "service/remote/remote_blocks_internal.h"

namespace kvstash::remote {
namespace {

// One RMA get into a buffer of its own. The transport may write `buffer`
// until the transfer finishes, so a pull destroyed while its get is pending
// (its call timed out, or the daemon is stopping) first abandons the get:
// Disconnect fails everything in flight to that peer, and the wait for that
// is bounded by the transport (Transport::Transfer does the same).
struct RmaPull {
  RmaPull(transport::Transport* t, transport::PeerId p, uint64_t length)
      : transport(t), peer(p), buffer(length, '\0') {}
  ~RmaPull() {
    if (!id) return;
    if (!transport->Poll(*id).finished()) {
      (void)transport->Disconnect(peer);
      (void)transport->Wait(*id, absl::InfiniteFuture());
    }
    (void)transport->Release(*id);
  }
  RmaPull(const RmaPull&) = delete;
  RmaPull& operator=(const RmaPull&) = delete;

  transport::Transport* const transport;
  const transport::PeerId peer;
  std::string buffer;
  std::optional<transport::TransferId> id;
};

// A small block over loopback lands within microseconds, well below the
// timer's resolution: poll on the next few turns of the loop (other events
// run in between) before backing off on the timer.
constexpr int kSpins = 32;
constexpr kj::Duration kFirstNap = 50 * kj::MICROSECONDS;
constexpr kj::Duration kMaxNap = 1 * kj::MILLISECONDS;

// Resolves when the transfer has finished: OK when every byte is in place.
// The caller's timeout bounds it (Fetch's WithTimeout); cancelling it leaves
// the transfer to ~RmaPull.
kj::Promise<absl::Status> Finished(kj::Timer& timer, RmaPull& pull, int spins, kj::Duration nap) {
  const transport::TransferState s = pull.transport->Poll(*pull.id);
  if (s.phase == transport::TransferPhase::kDone) return absl::OkStatus();
  if (s.phase == transport::TransferPhase::kFailed) return s.status;
  if (spins > 0) {
    return kj::evalLater(
        [&timer, &pull, spins, nap]() { return Finished(timer, pull, spins - 1, nap); });
  }
  return timer.afterDelay(nap).then(
      [&timer, &pull, nap]() { return Finished(timer, pull, 0, std::min(nap * 2, kMaxNap)); });
}

// The read block, if it is the whole of one valid block `key` in `format`.
absl::Status VerifyRead(const std::string& bytes, const tiers::BlockKey& key,
                        kernels::Format format) {
  absl::StatusOr<tiers::ParsedBlock> b = tiers::ParseBlock(bytes, tiers::Verify::kPayload);
  if (!b.ok()) return b.status();
  if (b->header.key != key) return absl::DataLossError("the read block has another key");
  if (b->header.format != format) return absl::DataLossError("the read block has another format");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<transport::PeerId> RemoteBlocks::UcxPeerOf(Peer& peer) {
  transport::Transport* t = options_.transport;
  if (peer.ucx_peer) {
    if (t->PeerStatus(*peer.ucx_peer).ok()) return *peer.ucx_peer;
    DisconnectUcx(peer);  // failed (dead, reset, timed out): make a new endpoint
  }
  absl::StatusOr<transport::PeerId> id = t->Connect(peer.ucx_address);
  if (id.ok()) peer.ucx_peer = *id;
  return id;
}

void RemoteBlocks::DisconnectUcx(Peer& peer) {
  if (!peer.ucx_peer) return;
  (void)options_.transport->Disconnect(*peer.ucx_peer);  // NotFound: already gone
  peer.ucx_peer.reset();
}

kj::Promise<std::optional<std::string>> RemoteBlocks::PullSlot(const std::string& owner,
                                                               const tiers::BlockKey& key,
                                                               kernels::Format format,
                                                               uint64_t offset, uint64_t length) {
  auto it = peers_.find(owner);
  if (it == peers_.end()) return std::optional<std::string>();  // left meanwhile
  Peer& peer = *it->second;
  if (length == 0 || length > options_.max_message_bytes ||
      offset > std::numeric_limits<uint64_t>::max() - peer.ucx_base) {
    return std::optional<std::string>();  // a bad answer; the transport checks the range too
  }
  absl::StatusOr<transport::PeerId> ucx = UcxPeerOf(peer);
  if (!ucx.ok()) return std::optional<std::string>();
  auto pull = kj::heap<RmaPull>(options_.transport, *ucx, length);
  transport::TransferSpec spec;
  spec.peer = *ucx;
  spec.op = transport::Op::kGet;
  spec.local = pull->buffer.data();
  spec.length = length;
  spec.remote_addr = peer.ucx_base + offset;
  spec.remote_key = peer.ucx_rkey;
  absl::StatusOr<transport::TransferId> id = options_.transport->Prepare(spec);
  if (!id.ok()) return std::optional<std::string>();
  pull->id = *id;
  if (!options_.transport->Post(*id).ok()) return std::optional<std::string>();
  RmaPull& p = *pull;
  return Finished(timer_, p, kSpins, kFirstNap)
      .then([this, pull = kj::mv(pull), key, format](absl::Status s) -> std::optional<std::string> {
        if (!s.ok() || !VerifyRead(pull->buffer, key, format).ok()) return std::nullopt;
        ++stats_.ucx_pulls;
        stats_.ucx_bytes += pull->buffer.size();
        return std::move(pull->buffer);
      });
}

}  // namespace kvstash::remote
