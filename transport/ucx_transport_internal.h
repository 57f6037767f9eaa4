// The UCX transport's implementation class (ucx_transport.h), split over
// ucx_transport.cc (the caller-facing methods), ucx_progress.cc (the progress
// thread) and ucx_registration.cc (memory registration).
//
// Who touches what:
//   - fields marked "progress thread only" (the worker, endpoints, unpacked
//     rkeys, in-flight bookkeeping) are used by the progress thread alone;
//   - fields guarded by mu_ are shared with callers;
//   - PeerRecord and TransferRecord are immutable after creation except for
//     their "progress thread only" parts; their states live in mu_-guarded
//     maps.
#ifndef KVSTASH_TRANSPORT_UCX_TRANSPORT_INTERNAL_H_
#define KVSTASH_TRANSPORT_UCX_TRANSPORT_INTERNAL_H_

#include <ucp/api/ucp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "transport/device_staging.h"
#include "transport/transport.h"
#include "transport/ucx_handles.h"
#include "transport/ucx_transport.h"
#include "transport/ucx_wire.h"

namespace kvstash::transport::ucx_internal {

class UcxTransport;

// One Register() call's UCX state. Shared by the Registration and by every
// transfer whose local buffer lies in it, so that unmapping waits for them.
struct MemRecord {
  uintptr_t base = 0;
  size_t length = 0;
  MemoryKind kind = MemoryKind::kHost;
  // Device memory: the pinned host copy UCX moves instead (null for host).
  // Declared before `mapping` so that the mapping goes first.
  std::unique_ptr<staging::PinnedBuffer> staging;
  std::unique_ptr<MemMapping> mapping;  // of [base, base+length) or of `staging`
};

// Registered regions by base address, shared by a transport and its
// Registrations (which may outlive it). Regions never overlap.
class RegistrationTable {
 public:
  // AlreadyExists when [base, base+length) overlaps a registered region.
  absl::Status Insert(std::shared_ptr<MemRecord> record);
  void Erase(uintptr_t base);
  // The region holding all of [addr, addr+length); null when no region holds
  // `addr`; InvalidArgument when one holds only part of the range.
  absl::StatusOr<std::shared_ptr<MemRecord>> Find(uintptr_t addr, size_t length) const;

 private:
  mutable Mutex mu_;
  std::map<uintptr_t, std::shared_ptr<MemRecord>> by_base_ ABSL_GUARDED_BY(mu_);
};

struct PeerRecord {
  UcxTransport* owner = nullptr;
  PeerId id = 0;
  uint64_t instance = 0;       // the peer transport's identity (ucx_wire.h)
  ProcessIdentity process;     // its process, to notice that it exited
  std::string worker_address;  // its ucp_address_t bytes

  // Progress thread only.
  ucp_ep_h ep = nullptr;
  bool closed = false;                   // ep gone (failed or disconnected); no new requests
  bool disconnected = false;             // closed by our Disconnect (errors read Cancelled)
  absl::Status failure;                  // why closed
  std::map<std::string, RkeyPtr> rkeys;  // unpacked, by packed rkey bytes
};

struct TransferRecord {
  TransferId id = 0;
  std::shared_ptr<PeerRecord> peer;
  Op op = Op::kGet;
  void* local = nullptr;
  size_t length = 0;
  uint64_t remote_addr = 0;
  std::string packed_rkey;
  std::shared_ptr<MemRecord> local_mem;  // null: unregistered host memory
  void* ucx_local = nullptr;             // `local`, or its place in local_mem->staging
  bool staged() const { return ucx_local != local; }

  // Its state in the transport's map (the entry's fields are guarded by the
  // transport's mutex; the entry outlives every pending post). Set once, by
  // Prepare, before the transfer can be posted.
  struct TransferEntry* entry = nullptr;

  // Progress thread only: the unpacked rkey, owned by peer->rkeys (valid
  // while the peer's endpoint is open).
  ucp_rkey_h rkey = nullptr;
};

// Prepare() has the progress thread unpack a remote key the first time a peer's
// key is used (see UcxTransport::Unpack). Guarded by the transport's mutex.
struct UnpackRequest {
  bool done = false;
  absl::Status status;
};

// A transfer's state, in UcxTransport::transfers_ (node-based, so that the
// progress thread can publish through TransferRecord::entry without a lookup).
struct TransferEntry {
  std::shared_ptr<TransferRecord> transfer;
  TransferPhase phase = TransferPhase::kPrepared;
  absl::Status status;
};

class UcxTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Create(const UcxTransportOptions& options);
  ~UcxTransport() override;

  Capabilities caps() const override;
  std::string LocalAddress() const override { return local_address_; }
  absl::StatusOr<PeerId> Connect(absl::string_view peer_address) override;
  absl::Status Disconnect(PeerId peer) override;
  absl::Status PeerStatus(PeerId peer) const override;
  absl::StatusOr<std::unique_ptr<Registration>> Register(void* addr, size_t length,
                                                         MemoryKind kind) override;
  absl::StatusOr<std::unique_ptr<Registration>> Allocate(size_t length, MemoryKind kind) override;
  absl::StatusOr<TransferId> Prepare(const TransferSpec& spec) override;
  absl::Status Post(absl::Span<const TransferId> ids) override;
  using Transport::Post;
  TransferState Poll(TransferId id) const override;
  absl::Status Wait(TransferId id, absl::Time deadline) override;
  absl::Status Release(TransferId id) override;

 private:
  struct Command {
    enum Kind { kConnect, kPost, kDisconnect, kUnpack } kind;
    std::shared_ptr<PeerRecord> peer;  // kConnect, kDisconnect
    // kPost. Not owning: a pending transfer cannot be released, so its
    // record lives until the progress thread has finished it.
    TransferRecord* transfer = nullptr;
    bool last_of_post = false;  // publish after it: the caller waits per Post()
    // kUnpack: unpack `transfer`'s remote key now; the answer goes here.
    struct UnpackRequest* unpack = nullptr;
  };
  struct PeerState {
    std::shared_ptr<PeerRecord> peer;
    bool ready = false;   // the progress thread has created (or failed to create) its ep
    absl::Status status;  // OK while usable
    // Packed rkeys the progress thread has unpacked for this peer.
    absl::flat_hash_set<std::string> unpacked;
  };

  UcxTransport(const UcxTransportOptions& options, std::shared_ptr<Context> context, int wake_fd);

  // ucx_registration.cc: maps [addr, addr+length) (addr null: UCX allocates).
  absl::StatusOr<std::unique_ptr<Registration>> Map(void* addr, size_t length, MemoryKind kind);

  // ucx_transport.cc
  absl::StatusOr<std::shared_ptr<TransferRecord>> Validate(const TransferSpec& spec) const;
  // The result of a finished (or never posted, or unknown) transfer; nullopt
  // while it is pending.
  std::optional<absl::Status> Outcome(TransferId id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Enqueue(std::vector<Command> commands) ABSL_LOCKS_EXCLUDED(mu_);
  void Wake();

  // ucx_progress.cc: the progress thread.
  // Creates the worker, reports through Started(), then serves until stopped.
  void ProgressMain(ucp_worker_params_t params);
  void Started(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  void ExecuteCommands(std::vector<Command>& commands);
  void CreateEndpoint(PeerRecord& peer);
  void CloseEndpoint(PeerRecord& peer, absl::Status why);
  void Issue(TransferRecord* t);
  // Sets t->rkey from the peer's cache, unpacking the key on first use.
  absl::Status Unpack(TransferRecord* t);
  void Finish(TransferRecord* t, ucs_status_t status);
  void Finish(TransferRecord* t, absl::Status status);
  void HandleFailedEndpoints();
  void Publish() ABSL_LOCKS_EXCLUDED(mu_);
  void Sleep(int timeout_ms) ABSL_LOCKS_EXCLUDED(mu_);
  bool ReapClosing();
  // Fails the endpoints of same-host peers whose process has exited (UCX
  // 1.13's keepalive over shared memory stalls when the dead peer's FIFO is
  // full, so it cannot be relied on there).
  void CheckLocalPeers();
  void Shutdown();
  static void OnRequestDone(void* request, ucs_status_t status, void* user_data);
  static void OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);

  // Constant after construction.
  const UcxTransportOptions options_;
  const uint64_t instance_;
  const std::shared_ptr<Context> context_;
  const std::shared_ptr<RegistrationTable> registrations_;
  const int wake_fd_;          // eventfd: commands are queued
  std::string local_address_;  // set before Create returns
  std::thread thread_;

  mutable Mutex mu_;
  mutable std::condition_variable_any cv_;  // transfer finished, peer ready
  // Bumped after every Publish(): Wait() spins on it before blocking on cv_.
  std::atomic<uint64_t> publications_{0};
  // How long Wait() spins before blocking: at most kWaitSpin, adapted (see Wait).
  static constexpr std::chrono::nanoseconds kWaitSpin = std::chrono::microseconds(50);
  std::atomic<int64_t> wait_spin_ns_{kWaitSpin.count()};
  std::optional<absl::Status> started_ ABSL_GUARDED_BY(mu_);  // the worker's creation
  std::vector<Command> commands_ ABSL_GUARDED_BY(mu_);
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  PeerId next_peer_ ABSL_GUARDED_BY(mu_) = 1;
  TransferId next_transfer_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<PeerId, PeerState> peers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, PeerId> peer_by_instance_ ABSL_GUARDED_BY(mu_);
  absl::node_hash_map<TransferId, TransferEntry> transfers_ ABSL_GUARDED_BY(mu_);

  // Progress thread only.
  ucp_worker_h worker_ = nullptr;
  int worker_fd_ = -1;
  std::vector<std::shared_ptr<PeerRecord>> endpoints_;              // peers whose ep is open
  size_t in_flight_ = 0;                                            // requests awaiting a callback
  std::vector<std::pair<TransferRecord*, absl::Status>> finished_;  // to publish
  std::vector<std::pair<PeerId, absl::Status>> peer_updates_;       // to publish
  std::vector<std::pair<PeerRecord*, ucs_status_t>> failed_;        // set by OnEndpointError
  std::vector<ucs_status_ptr_t> closing_;                           // ep close requests in progress
  std::chrono::steady_clock::time_point next_liveness_check_;
};

}  // namespace kvstash::transport::ucx_internal

#endif  // KVSTASH_TRANSPORT_UCX_TRANSPORT_INTERNAL_H_
