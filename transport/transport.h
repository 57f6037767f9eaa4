// The Transport contract (DESIGN.md "Cluster"): moves bytes between this
// process and a peer process, on this node or another. Implementations:
// ucx_transport.h (host memory between nodes: one-sided get/put over UCX,
// device buffers staged through pinned host memory) and nccl_transport.h
// (GPU-to-GPU send/recv inside one NCCL communicator). A base Transport knows
// no backend: callers branch on caps(), never on the implementation.
// transport_conformance.h holds the one test suite every implementation
// passes; README.md describes the threading and failure model at length.
//
// Life of a transfer (NIXL's prepare/post split):
//
//   PeerId peer = *t->Connect(address_from_control_plane);
//   TransferId id = *t->Prepare({peer, Op::kGet, dst, n, remote_addr, remote_key});
//   t->Post(id);                        // starts it; returns at once
//   t->Wait(id, absl::Now() + timeout); // or Poll(id) until finished
//   t->Release(id);                     // frees the transfer's resources
//
// Prepare validates everything it can without the network (peer known and
// alive, remote key well formed and issued by that peer, remote range inside
// the registered region, local range inside a registration where the
// transport needs one), so a bad request fails before any byte moves. A
// finished transfer may be posted again (the same bytes move again).
//
// Addresses and remote keys are opaque byte strings that the control plane
// publishes (etcd, RPC); only the transport that made them reads them, and it
// checks them (magic, length, checksum, issuer) before use.
//
// Failure model: a peer that dies, is unreachable or disconnects fails only
// the transfers to that peer, with Unavailable (or Cancelled after our own
// Disconnect); transfers to other peers go on. A transfer never hangs
// forever: the implementation detects dead peers (connection reset,
// keepalive), and Wait() takes a deadline for the rest.
//
// Ownership: the caller owns the memory behind Registrations and transfers.
// It must keep a transfer's local buffer alive and untouched until the
// transfer is finished, and keep a Registration (and the memory under it)
// alive while any peer may still use its remote key.
//
// Thread safety: every method may be called from any thread at any time.
// Implementations make progress on their own thread (never on the caller's),
// so Post() returns without waiting for the network.
#ifndef KVSTASH_TRANSPORT_TRANSPORT_H_
#define KVSTASH_TRANSPORT_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace kvstash::transport {

enum class MemoryKind : uint8_t { kHost, kDevice };

// One-sided kGet/kPut read/write a peer's registered region through its
// remote key; two-sided kSend/kRecv pair up with the peer's kRecv/kSend in
// posting order (NCCL semantics).
enum class Op : uint8_t { kGet, kPut, kSend, kRecv };

const char* OpName(Op op);
const char* MemoryKindName(MemoryKind kind);

struct Capabilities {
  std::string name;            // e.g. "ucx/tcp", "ucx/sm", "nccl"
  bool host_memory = false;    // local buffers may be host memory
  bool device_memory = false;  // local buffers may be GPU memory (registered)
  bool device_staged = false;  // ...moved through pinned host memory, not natively
  bool rma = false;            // kGet / kPut against a peer's remote key
  bool send_recv = false;      // kSend / kRecv
};

using PeerId = uint64_t;
using TransferId = uint64_t;

// A region of local memory registered with one transport. Destroying it
// unregisters the region; the transport defers the release of its own handles
// until no transfer uses them. Not copyable or movable.
class Registration {
 public:
  virtual ~Registration() = default;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  void* base() const { return base_; }
  size_t length() const { return length_; }
  MemoryKind kind() const { return kind_; }
  // What a peer passes in TransferSpec::remote_key to get from or put into
  // this region; publish it with base(). Empty when the region cannot be
  // reached remotely (a transport without RMA, or staged device memory).
  const std::string& remote_key() const { return remote_key_; }

 protected:
  Registration(void* base, size_t length, MemoryKind kind, std::string remote_key)
      : base_(base), length_(length), kind_(kind), remote_key_(std::move(remote_key)) {}

 private:
  void* const base_;
  const size_t length_;
  const MemoryKind kind_;
  const std::string remote_key_;
};

struct TransferSpec {
  PeerId peer = 0;
  Op op = Op::kGet;
  void* local = nullptr;  // kGet/kRecv: destination; kPut/kSend: source
  size_t length = 0;      // bytes, > 0
  // kGet/kPut only: where in the peer's registered region, and that region's
  // remote key (only read during Prepare).
  uint64_t remote_addr = 0;
  absl::string_view remote_key;
};

enum class TransferPhase : uint8_t {
  kPrepared,  // validated, not posted (or not posted again)
  kPending,   // posted, bytes moving
  kDone,      // finished, every byte in place
  kFailed,    // finished with an error; the local buffer's contents are undefined
};

struct TransferState {
  TransferPhase phase = TransferPhase::kPrepared;
  absl::Status status;  // the error when kFailed, else OK
  bool finished() const { return phase == TransferPhase::kDone || phase == TransferPhase::kFailed; }
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual Capabilities caps() const = 0;

  // The opaque blob a peer passes to Connect() to reach this transport.
  virtual std::string LocalAddress() const = 0;

  // Opens (or reuses) a connection to the transport whose LocalAddress() is
  // `peer_address`. InvalidArgument for a malformed address.
  [[nodiscard]] virtual absl::StatusOr<PeerId> Connect(absl::string_view peer_address) = 0;
  // Closes the connection; its unfinished transfers fail with Cancelled.
  // NotFound for an unknown peer.
  [[nodiscard]] virtual absl::Status Disconnect(PeerId peer) = 0;
  // OK while the peer is usable, else why not (Unavailable after a failure).
  [[nodiscard]] virtual absl::Status PeerStatus(PeerId peer) const = 0;

  // Registers [addr, addr + length) for transfers (and, with RMA, for peers'
  // gets and puts). InvalidArgument for an empty or null range;
  // Unimplemented for a memory kind the transport cannot move.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<Registration>> Register(void* addr,
                                                                               size_t length,
                                                                               MemoryKind kind) = 0;
  // Allocates `length` bytes owned by the returned Registration (freed with
  // it), placed where this transport moves them fastest: for UCX, a shared-
  // memory segment that peers on the same host map, so that their gets and
  // puts are plain copies instead of messages to this process. Unimplemented
  // where the transport has no such memory (allocate, then Register()).
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<Registration>> Allocate(size_t length,
                                                                               MemoryKind kind);

  [[nodiscard]] virtual absl::StatusOr<TransferId> Prepare(const TransferSpec& spec) = 0;
  // Starts the transfers. Posting several at once lets the implementation
  // batch them (one wakeup; one NCCL group, which a send to oneself needs).
  // NotFound for an unknown id, FailedPrecondition for one already pending;
  // nothing is posted then.
  [[nodiscard]] virtual absl::Status Post(absl::Span<const TransferId> ids) = 0;
  [[nodiscard]] absl::Status Post(TransferId id) { return Post(absl::MakeConstSpan(&id, 1)); }
  // Never blocks. An unknown id is kFailed with NotFound.
  virtual TransferState Poll(TransferId id) const = 0;
  // Blocks until the transfer finishes or `deadline` passes: OK when done,
  // its error when failed, DeadlineExceeded while still pending (it goes on),
  // FailedPrecondition when never posted, NotFound for an unknown id.
  [[nodiscard]] virtual absl::Status Wait(TransferId id, absl::Time deadline);
  // Forgets a finished or never-posted transfer. FailedPrecondition while
  // pending (the transport may still write the local buffer; Disconnect the
  // peer to abandon it), NotFound for an unknown id.
  [[nodiscard]] virtual absl::Status Release(TransferId id) = 0;

  // Prepare + Post + Wait + Release: the blocking one-shot form. A transfer
  // still pending at `deadline` means the peer is stuck: the peer is
  // disconnected (failing its other transfers too) so that the local buffer
  // is released, and DeadlineExceeded is returned.
  [[nodiscard]] absl::Status Transfer(const TransferSpec& spec, absl::Time deadline);
};

}  // namespace kvstash::transport

#endif  // KVSTASH_TRANSPORT_TRANSPORT_H_
