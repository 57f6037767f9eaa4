// nccl_transport.h over NCCL's point-to-point calls.
#include "transport/nccl_transport.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"

namespace kvstash::transport {
namespace {

absl::Status NcclError(ncclResult_t r, absl::string_view what) {
  const std::string msg = absl::StrCat(what, ": ", ncclGetErrorString(r));
  if (r == ncclInvalidArgument || r == ncclInvalidUsage) return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

absl::Status CudaError(cudaError_t e, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")"));
}

// Address: "KVSN" | version 1 | 3 reserved | rank u32 | nranks u32 |
// unique id (128 bytes) | XXH3-64 of the preceding bytes. Little-endian.
constexpr char kMagic[4] = {'K', 'V', 'S', 'N'};
constexpr size_t kAddressBytes = 4 + 4 + 4 + 4 + NCCL_UNIQUE_ID_BYTES + 8;

std::string EncodeAddress(uint32_t rank, uint32_t nranks, const std::string& id) {
  std::string out(kMagic, 4);
  out.push_back(1);
  out.append(3, '\0');
  out.append(reinterpret_cast<const char*>(&rank), 4);
  out.append(reinterpret_cast<const char*>(&nranks), 4);
  out += id;
  const uint64_t sum = XXH3_64bits(out.data(), out.size());
  out.append(reinterpret_cast<const char*>(&sum), 8);
  return out;
}

// The peer's rank, after checking the blob and that it names our communicator.
absl::StatusOr<int> DecodeAddress(absl::string_view blob, const std::string& our_id, int nranks) {
  if (blob.size() != kAddressBytes || std::memcmp(blob.data(), kMagic, 4) != 0 || blob[4] != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer address: ", blob.size(), " bytes, not a kvstash NCCL address"));
  }
  uint64_t sum;
  std::memcpy(&sum, blob.data() + blob.size() - 8, 8);
  if (sum != XXH3_64bits(blob.data(), blob.size() - 8)) {
    return absl::InvalidArgumentError("peer address: checksum mismatch (corrupt blob)");
  }
  uint32_t rank, their_nranks;
  std::memcpy(&rank, blob.data() + 8, 4);
  std::memcpy(&their_nranks, blob.data() + 12, 4);
  if (blob.substr(16, NCCL_UNIQUE_ID_BYTES) != our_id ||
      their_nranks != static_cast<uint32_t>(nranks) || rank >= their_nranks) {
    return absl::InvalidArgumentError("peer address: the peer belongs to another communicator");
  }
  return static_cast<int>(rank);
}

class NcclRegistration final : public Registration {
 public:
  NcclRegistration(void* base, size_t length)
      : Registration(base, length, MemoryKind::kDevice, "") {}
};

// One CUDA event that completes a Post() batch.
class Event {
 public:
  explicit Event(cudaEvent_t e) : e_(e) {}
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  const cudaEvent_t e_;
};

class NcclTransport final : public Transport {
 public:
  NcclTransport(const NcclTransportOptions& o, ncclComm_t comm, cudaStream_t stream)
      : options_(o),
        address_(EncodeAddress(o.rank, o.nranks, o.unique_id)),
        stream_(stream),
        comm_(comm) {}
  ~NcclTransport() override;

  Capabilities caps() const override {
    Capabilities c;
    c.name = "nccl";
    c.device_memory = true;
    c.send_recv = true;
    return c;
  }
  std::string LocalAddress() const override { return address_; }
  absl::StatusOr<PeerId> Connect(absl::string_view peer_address) override;
  absl::Status Disconnect(PeerId peer) override;
  absl::Status PeerStatus(PeerId peer) const override;
  absl::StatusOr<std::unique_ptr<Registration>> Register(void* addr, size_t length,
                                                         MemoryKind kind) override;
  absl::StatusOr<TransferId> Prepare(const TransferSpec& spec) override;
  absl::Status Post(absl::Span<const TransferId> ids) override;
  using Transport::Post;
  TransferState Poll(TransferId id) const override;
  absl::Status Release(TransferId id) override;

 private:
  struct Entry {
    TransferSpec spec;  // remote_key unused (empty)
    TransferPhase phase = TransferPhase::kPrepared;
    absl::Status status;
    std::shared_ptr<Event> done;  // recorded after the batch
  };

  absl::Status CheckDevicePointer(const void* p) const;
  // Reads NCCL's asynchronous error and pending events into the entries.
  void Refresh() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Break(absl::Status why) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Enqueue(absl::Span<const TransferId> ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const NcclTransportOptions options_;
  const std::string address_;
  const cudaStream_t stream_;

  mutable Mutex mu_;
  ncclComm_t comm_ ABSL_GUARDED_BY(mu_);              // null after abort
  mutable absl::Status broken_ ABSL_GUARDED_BY(mu_);  // sticky
  absl::flat_hash_set<int> peers_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<TransferId, Entry> transfers_ ABSL_GUARDED_BY(mu_);
  TransferId next_ ABSL_GUARDED_BY(mu_) = 1;
};

NcclTransport::~NcclTransport() {
  cudaSetDevice(options_.device);
  MutexLock l(&mu_);
  Refresh();
  bool pending = false;
  for (const auto& [id, e] : transfers_) pending |= e.phase == TransferPhase::kPending;
  if (comm_ != nullptr) {
    if (pending) {
      ncclCommAbort(comm_);  // a stuck transfer must not hang the destructor
    } else {
      ncclCommDestroy(comm_);
    }
  }
  transfers_.clear();  // events before the stream
  cudaStreamDestroy(stream_);
}

absl::Status NcclTransport::CheckDevicePointer(const void* p) const {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess || a.type != cudaMemoryTypeDevice ||
      a.device != options_.device) {
    cudaGetLastError();  // clear the sticky-free error of a failed query
    return absl::InvalidArgumentError(
        absl::StrCat("nccl: buffer is not device memory on GPU ", options_.device));
  }
  return absl::OkStatus();
}

absl::StatusOr<PeerId> NcclTransport::Connect(absl::string_view peer_address) {
  absl::StatusOr<int> rank = DecodeAddress(peer_address, options_.unique_id, options_.nranks);
  if (!rank.ok()) return rank.status();
  MutexLock l(&mu_);
  if (!broken_.ok()) return broken_;
  peers_.insert(*rank);
  return static_cast<PeerId>(*rank);
}

absl::Status NcclTransport::Disconnect(PeerId peer) {
  MutexLock l(&mu_);
  if (!peers_.contains(static_cast<int>(peer))) {
    return absl::NotFoundError(absl::StrCat("unknown peer ", peer));
  }
  peers_.erase(static_cast<int>(peer));
  if (comm_ != nullptr) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  Break(
      absl::CancelledError(absl::StrCat("nccl communicator aborted by Disconnect of rank ", peer)));
  return absl::OkStatus();
}

absl::Status NcclTransport::PeerStatus(PeerId peer) const {
  MutexLock l(&mu_);
  if (!peers_.contains(static_cast<int>(peer))) {
    return absl::NotFoundError(absl::StrCat("unknown peer ", peer));
  }
  Refresh();
  return broken_;
}

absl::StatusOr<std::unique_ptr<Registration>> NcclTransport::Register(void* addr, size_t length,
                                                                      MemoryKind kind) {
  if (addr == nullptr || length == 0) {
    return absl::InvalidArgumentError("register: null address or zero length");
  }
  if (kind != MemoryKind::kDevice) {
    return absl::UnimplementedError("nccl moves device memory only");
  }
  cudaSetDevice(options_.device);
  if (absl::Status s = CheckDevicePointer(addr); !s.ok()) return s;
  return std::unique_ptr<Registration>(new NcclRegistration(addr, length));
}

absl::StatusOr<TransferId> NcclTransport::Prepare(const TransferSpec& spec) {
  if (spec.op != Op::kSend && spec.op != Op::kRecv) {
    return absl::UnimplementedError(
        absl::StrCat("nccl has no one-sided ", OpName(spec.op), "; use send and recv"));
  }
  if (spec.local == nullptr) return absl::InvalidArgumentError("transfer: local buffer is null");
  if (spec.length == 0) return absl::InvalidArgumentError("transfer: length is 0");
  cudaSetDevice(options_.device);
  if (absl::Status s = CheckDevicePointer(spec.local); !s.ok()) return s;
  MutexLock l(&mu_);
  if (!peers_.contains(static_cast<int>(spec.peer))) {
    return absl::NotFoundError(absl::StrCat("unknown peer ", spec.peer));
  }
  if (!broken_.ok()) return broken_;
  const TransferId id = next_++;
  Entry& e = transfers_[id];
  e.spec = spec;
  e.spec.remote_key = {};
  return id;
}

absl::Status NcclTransport::Post(absl::Span<const TransferId> ids) {
  cudaSetDevice(options_.device);
  MutexLock l(&mu_);
  absl::flat_hash_set<TransferId> seen;
  for (TransferId id : ids) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return absl::NotFoundError(absl::StrCat("unknown transfer ", id));
    if (it->second.phase == TransferPhase::kPending || !seen.insert(id).second) {
      return absl::FailedPreconditionError(absl::StrCat("transfer ", id, " is already pending"));
    }
  }
  absl::Status s = broken_.ok() ? Enqueue(ids) : broken_;
  for (TransferId id : ids) {
    Entry& e = transfers_.at(id);
    if (!s.ok()) {
      e.phase = TransferPhase::kFailed;
      e.status = s;
    }
  }
  return absl::OkStatus();  // a failed enqueue fails the transfers, not the call
}

// One NCCL group for the batch (a send to oneself and its recv must share
// one), then one event behind it on the stream.
absl::Status NcclTransport::Enqueue(absl::Span<const TransferId> ids) {
  if (ncclResult_t r = ncclGroupStart(); r != ncclSuccess) return NcclError(r, "ncclGroupStart");
  for (TransferId id : ids) {
    const TransferSpec& t = transfers_.at(id).spec;
    const int peer = static_cast<int>(t.peer);
    const ncclResult_t r = t.op == Op::kSend
                               ? ncclSend(t.local, t.length, ncclUint8, peer, comm_, stream_)
                               : ncclRecv(t.local, t.length, ncclUint8, peer, comm_, stream_);
    if (r != ncclSuccess && r != ncclInProgress) {
      ncclGroupEnd();
      return NcclError(r, absl::StrCat("nccl ", OpName(t.op), " of ", t.length, " bytes"));
    }
  }
  ncclResult_t r = ncclGroupEnd();
  // A non-blocking communicator may still be enqueuing; wait for that (not
  // for the transfers).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (r == ncclInProgress && std::chrono::steady_clock::now() < deadline) {
    ncclCommGetAsyncError(comm_, &r);
  }
  if (r != ncclSuccess) {
    absl::Status s = NcclError(r, "ncclGroupEnd");
    Break(s);
    return s;
  }
  cudaEvent_t ev;
  if (cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming); e != cudaSuccess) {
    return CudaError(e, "cudaEventCreate");
  }
  auto done = std::make_shared<Event>(ev);
  if (cudaError_t e = cudaEventRecord(ev, stream_); e != cudaSuccess) {
    return CudaError(e, "cudaEventRecord");
  }
  for (TransferId id : ids) {
    Entry& e = transfers_.at(id);
    e.phase = TransferPhase::kPending;
    e.status = absl::OkStatus();
    e.done = done;
  }
  return absl::OkStatus();
}

void NcclTransport::Break(absl::Status why) const {
  if (broken_.ok()) broken_ = why;
  for (auto& [id, e] : transfers_) {
    if (e.phase != TransferPhase::kPending) continue;
    e.phase = TransferPhase::kFailed;
    e.status = why;
  }
}

void NcclTransport::Refresh() const {
  if (comm_ != nullptr && broken_.ok()) {
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async != ncclSuccess && async != ncclInProgress) {
      Break(NcclError(async, "nccl communicator failed"));
    }
  }
  for (auto& [id, e] : transfers_) {
    if (e.phase != TransferPhase::kPending) continue;
    const cudaError_t q = cudaEventQuery(e.done->get());
    if (q == cudaSuccess) {
      e.phase = TransferPhase::kDone;
    } else if (q != cudaErrorNotReady) {
      e.phase = TransferPhase::kFailed;
      e.status = CudaError(q, "nccl transfer");
    }
  }
}

TransferState NcclTransport::Poll(TransferId id) const {
  cudaSetDevice(options_.device);
  MutexLock l(&mu_);
  if (!transfers_.contains(id)) {
    return {TransferPhase::kFailed, absl::NotFoundError(absl::StrCat("unknown transfer ", id))};
  }
  Refresh();
  const Entry& e = transfers_.at(id);
  return {e.phase, e.status};
}

absl::Status NcclTransport::Release(TransferId id) {
  cudaSetDevice(options_.device);
  MutexLock l(&mu_);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return absl::NotFoundError(absl::StrCat("unknown transfer ", id));
  Refresh();
  if (it->second.phase == TransferPhase::kPending) {
    return absl::FailedPreconditionError(
        absl::StrCat("transfer ", id, " is pending; wait for it or disconnect its peer"));
  }
  transfers_.erase(it);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NcclNewUniqueId() {
  ncclUniqueId id;
  if (ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess) {
    return NcclError(r, "ncclGetUniqueId");
  }
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

absl::StatusOr<std::unique_ptr<Transport>> CreateNcclTransport(const NcclTransportOptions& o) {
  if (o.nranks < 1 || o.rank < 0 || o.rank >= o.nranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("nccl: rank ", o.rank, " of ", o.nranks, " is not a valid rank"));
  }
  if (o.unique_id.size() != NCCL_UNIQUE_ID_BYTES) {
    return absl::InvalidArgumentError(absl::StrCat("nccl: unique id of ", o.unique_id.size(),
                                                   " bytes, expected ", NCCL_UNIQUE_ID_BYTES));
  }
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess || count == 0) {
    cudaGetLastError();
    return absl::UnavailableError("nccl: no usable GPU");
  }
  if (o.device < 0 || o.device >= count) {
    return absl::InvalidArgumentError(absl::StrCat("nccl: no GPU ", o.device));
  }
  if (cudaError_t e = cudaSetDevice(o.device); e != cudaSuccess)
    return CudaError(e, "cudaSetDevice");
  ncclUniqueId id;
  std::memcpy(id.internal, o.unique_id.data(), NCCL_UNIQUE_ID_BYTES);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so that a rank that never joins times out
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRankConfig(&comm, o.nranks, id, o.rank, &config);
  const absl::Time deadline = absl::Now() + o.init_timeout;
  while (r == ncclInProgress && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ncclCommGetAsyncError(comm, &r);
  }
  if (r != ncclSuccess) {
    if (comm != nullptr) ncclCommAbort(comm);
    return r == ncclInProgress ? absl::UnavailableError("nccl: communicator init timed out")
                               : NcclError(r, "ncclCommInitRankConfig");
  }
  cudaStream_t stream;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); e != cudaSuccess) {
    ncclCommAbort(comm);
    return CudaError(e, "cudaStreamCreate");
  }
  return std::unique_ptr<Transport>(new NcclTransport(o, comm, stream));
}

}  // namespace kvstash::transport
