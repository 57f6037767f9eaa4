// The caller-facing half of the UCX transport (ucx_transport_internal.h):
// creation, connections, preparing and posting transfers, and their states.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "transport/ucx_transport_internal.h"
#include "transport/ucx_wire.h"

namespace kvstash::transport {

absl::StatusOr<UcxTransportOptions> UcxTransportOptions::Profile(const std::string& name) {
  UcxTransportOptions o;
  o.label = name;
  if (name == "tcp") {
    o.tls = "tcp";
    // Software get over TCP returns each block as active-message segments of
    // TX_SEG_SIZE (8 KiB by default, one syscall each): 256 KiB segments
    // carry a 64 KiB block in one and a 1 MiB block in four (3x the
    // throughput of the defaults on loopback; kvstash bench transport).
    o.config["TX_SEG_SIZE"] = "256k";
    o.config["RX_SEG_SIZE"] = "512k";
  } else if (name == "shm") {
    // posix shared memory carries UCX's own messages and, for memory from
    // Allocate() (a posix segment the peer maps), the gets and puts
    // themselves; cma (process_vm_readv) serves UCX's rendezvous protocols.
    // posix reports peer failure only when asked to (UCX_POSIX_ERROR_HANDLING;
    // through ucp_config_modify it is named by its base table's prefix, MM_).
    o.tls = "posix,cma";
    o.config["MM_ERROR_HANDLING"] = "y";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("UCX profile '", name, "': expected tcp or shm"));
  }
  return o;
}

std::vector<std::string> UcxTransportOptions::Environment() const {
  // Table-relative names (as ucp_config_modify takes them) -> environment.
  static const std::map<std::string, std::string> kEnvName = {
      {"TX_SEG_SIZE", "TCP_TX_SEG_SIZE"},
      {"RX_SEG_SIZE", "TCP_RX_SEG_SIZE"},
      {"MM_ERROR_HANDLING", "POSIX_ERROR_HANDLING"}};
  std::vector<std::string> env = {
      absl::StrCat("UCX_TLS=", tls),
      absl::StrCat("UCX_KEEPALIVE_INTERVAL=", absl::ToInt64Microseconds(keepalive_interval), "us")};
  for (const auto& [name, value] : config) {
    auto it = kEnvName.find(name);
    env.push_back(absl::StrCat("UCX_", it == kEnvName.end() ? name : it->second, "=", value));
  }
  return env;
}

absl::StatusOr<std::unique_ptr<Transport>> CreateUcxTransport(const UcxTransportOptions& options) {
  return ucx_internal::UcxTransport::Create(options);
}

namespace ucx_internal {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

absl::StatusOr<ConfigPtr> ReadConfig(const UcxTransportOptions& o) {
  ucp_config_t* raw = nullptr;
  if (ucs_status_t s = ucp_config_read(nullptr, nullptr, &raw); s != UCS_OK) {
    return UcsError(s, "ucp_config_read");
  }
  ConfigPtr config(raw);
  std::vector<std::pair<std::string, std::string>> settings = {
      {"TLS", o.tls},
      {"KEEPALIVE_INTERVAL", absl::StrCat(absl::ToInt64Microseconds(o.keepalive_interval), "us")}};
  settings.insert(settings.end(), o.config.begin(), o.config.end());
  for (const auto& [name, value] : settings) {
    if (ucs_status_t s = ucp_config_modify(config.get(), name.c_str(), value.c_str());
        s != UCS_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("UCX setting ", name, "=", value, ": ", ucs_status_string(s)));
    }
  }
  return config;
}

}  // namespace

UcxTransport::UcxTransport(const UcxTransportOptions& options, std::shared_ptr<Context> context,
                           int wake_fd)
    : options_(options),
      instance_(NewInstanceId()),
      context_(std::move(context)),
      registrations_(std::make_shared<RegistrationTable>()),
      wake_fd_(wake_fd) {}

absl::StatusOr<std::unique_ptr<Transport>> UcxTransport::Create(
    const UcxTransportOptions& options) {
  if (options.tls.empty()) return absl::InvalidArgumentError("UCX options: empty tls");
  if (options.keepalive_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("UCX options: keepalive_interval must be positive");
  }
  absl::StatusOr<ConfigPtr> config = ReadConfig(options);
  if (!config.ok()) return config.status();
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 1;  // Register() maps memory from callers' threads
  ucp_context_h h = nullptr;
  if (ucs_status_t s = ucp_init(&params, config->get(), &h); s != UCS_OK) {
    return UcsError(s, absl::StrCat("ucp_init with TLS=", options.tls));
  }
  auto context = std::make_shared<Context>(h);
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return absl::InternalError("eventfd failed");
  std::unique_ptr<UcxTransport> t(new UcxTransport(options, std::move(context), wake_fd));
  ucp_worker_params_t wp{};
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SINGLE;  // the progress thread is its only user
  t->thread_ = std::thread(&UcxTransport::ProgressMain, t.get(), wp);
  {
    MutexLock l(&t->mu_);
    while (!t->started_.has_value()) t->cv_.wait(t->mu_);
    if (!t->started_->ok()) return *t->started_;  // ~UcxTransport joins the thread
  }
  return std::unique_ptr<Transport>(std::move(t));
}

UcxTransport::~UcxTransport() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
}

Capabilities UcxTransport::caps() const {
  Capabilities c;
  c.name = absl::StrCat("ucx/", options_.label.empty() ? options_.tls : options_.label);
  c.host_memory = true;
  c.device_memory = c.device_staged = staging::Available().ok();
  c.rma = true;
  return c;
}

void UcxTransport::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void UcxTransport::Enqueue(std::vector<Command> commands) {
  if (commands.empty()) return;
  bool wake;
  {
    MutexLock l(&mu_);
    for (Command& c : commands) commands_.push_back(std::move(c));
    wake = asleep_;
  }
  if (wake) Wake();
}

absl::StatusOr<PeerId> UcxTransport::Connect(absl::string_view peer_address) {
  absl::StatusOr<WireAddress> a = DecodeAddress(peer_address);
  if (!a.ok()) return a.status();
  PeerId id = 0;
  bool wake = false;
  {
    MutexLock l(&mu_);
    if (auto it = peer_by_instance_.find(a->instance); it != peer_by_instance_.end()) {
      const PeerState& st = peers_.at(it->second);
      if (!st.ready || st.status.ok()) id = it->second;  // connected, or connecting
    }
    if (id == 0) {  // new, or the old connection failed: connect afresh
      id = next_peer_++;
      auto peer = std::make_shared<PeerRecord>();
      peer->owner = this;
      peer->id = id;
      peer->instance = a->instance;
      peer->process = a->process;
      peer->worker_address = std::move(a->worker_address);
      peers_[id] = PeerState{peer, false, absl::OkStatus()};
      peer_by_instance_[peer->instance] = id;
      commands_.push_back(Command{Command::kConnect, std::move(peer)});
      wake = asleep_;
    }
  }
  if (wake) Wake();
  MutexLock l(&mu_);
  while (!peers_.at(id).ready) cv_.wait(mu_);
  if (const absl::Status& s = peers_.at(id).status; !s.ok()) return s;
  return id;
}

absl::Status UcxTransport::Disconnect(PeerId peer) {
  std::shared_ptr<PeerRecord> p;
  {
    MutexLock l(&mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) return absl::NotFoundError(absl::StrCat("unknown peer ", peer));
    p = it->second.peer;
    if (it->second.status.ok()) {
      it->second.status = absl::CancelledError(absl::StrCat("peer ", peer, " was disconnected"));
    }
    if (auto by = peer_by_instance_.find(p->instance);
        by != peer_by_instance_.end() && by->second == peer) {
      peer_by_instance_.erase(by);
    }
  }
  Enqueue({Command{Command::kDisconnect, std::move(p)}});
  return absl::OkStatus();
}

absl::Status UcxTransport::PeerStatus(PeerId peer) const {
  ReaderMutexLock l(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return absl::NotFoundError(absl::StrCat("unknown peer ", peer));
  return it->second.status;
}

absl::StatusOr<std::shared_ptr<TransferRecord>> UcxTransport::Validate(
    const TransferSpec& spec) const {
  if (spec.op != Op::kGet && spec.op != Op::kPut) {
    return absl::UnimplementedError(
        absl::StrCat(caps().name, " has no two-sided ", OpName(spec.op), "; use get or put"));
  }
  if (spec.local == nullptr) return absl::InvalidArgumentError("transfer: local buffer is null");
  if (spec.length == 0) return absl::InvalidArgumentError("transfer: length is 0");
  const auto local = reinterpret_cast<uintptr_t>(spec.local);
  if (local + spec.length < local) {
    return absl::InvalidArgumentError("transfer: local range wraps around the address space");
  }
  if (spec.remote_key.empty()) {
    return absl::InvalidArgumentError(
        "transfer: remote key is empty (the region is not remotely accessible)");
  }
  absl::StatusOr<WireKey> key = DecodeKey(spec.remote_key);
  if (!key.ok()) return key.status();
  auto t = std::make_shared<TransferRecord>();
  {
    ReaderMutexLock l(&mu_);
    auto it = peers_.find(spec.peer);
    if (it == peers_.end()) return absl::NotFoundError(absl::StrCat("unknown peer ", spec.peer));
    if (!it->second.status.ok()) return it->second.status;
    t->peer = it->second.peer;
  }
  if (key->issuer != t->peer->instance) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote key was issued by transport ", absl::Hex(key->issuer),
                     ", not by peer ", spec.peer, " (", absl::Hex(t->peer->instance), ")"));
  }
  if (spec.remote_addr < key->base || spec.length > key->length ||
      spec.remote_addr - key->base > key->length - spec.length) {
    return absl::OutOfRangeError(absl::StrCat(
        "remote range [0x", absl::Hex(spec.remote_addr), ", +", spec.length,
        ") is outside the registered region [0x", absl::Hex(key->base), ", +", key->length, ")"));
  }
  absl::StatusOr<std::shared_ptr<MemRecord>> mem = registrations_->Find(local, spec.length);
  if (!mem.ok()) return mem.status();
  t->op = spec.op;
  t->local = t->ucx_local = spec.local;
  t->length = spec.length;
  t->remote_addr = spec.remote_addr;
  t->packed_rkey = std::move(key->packed_rkey);
  t->local_mem = std::move(*mem);
  if (t->local_mem != nullptr && t->local_mem->staging != nullptr) {
    t->ucx_local = static_cast<char*>(t->local_mem->staging->data()) + (local - t->local_mem->base);
  }
  return t;
}

// The first transfer with a peer's remote key has the progress thread unpack
// it now, while the peer that just published it is almost surely alive: UCX
// 1.13 crashes when unpacking a shared-memory key of a process that has died
// (ucp_ep_rkey_unpack's error path releases the key it failed to unpack), so
// unpacking later, at the first Issue(), would widen that window to the time
// between Prepare and Post.
absl::StatusOr<TransferId> UcxTransport::Prepare(const TransferSpec& spec) {
  absl::StatusOr<std::shared_ptr<TransferRecord>> t = Validate(spec);
  if (!t.ok()) return t.status();
  bool known;
  {
    ReaderMutexLock l(&mu_);
    auto it = peers_.find((*t)->peer->id);
    known = it != peers_.end() && it->second.unpacked.contains((*t)->packed_rkey);
  }
  if (!known) {
    UnpackRequest unpack;
    Command c{Command::kUnpack, nullptr, t->get()};
    c.unpack = &unpack;
    Enqueue({std::move(c)});
    MutexLock l(&mu_);
    while (!unpack.done) cv_.wait(mu_);
    if (!unpack.status.ok()) return unpack.status;
    peers_.at((*t)->peer->id).unpacked.insert((*t)->packed_rkey);
  }
  MutexLock l(&mu_);
  const TransferId id = next_transfer_++;
  (*t)->id = id;
  TransferEntry& e = transfers_[id];
  (*t)->entry = &e;
  e.transfer = std::move(*t);
  return id;
}

absl::Status UcxTransport::Post(absl::Span<const TransferId> ids) {
  std::vector<TransferRecord*> posted;
  posted.reserve(ids.size());
  {
    MutexLock l(&mu_);
    std::vector<std::pair<TransferPhase, absl::Status>> before;  // to undo on error
    before.reserve(ids.size());
    for (TransferId id : ids) {
      auto it = transfers_.find(id);
      absl::Status error;
      if (it == transfers_.end()) {
        error = absl::NotFoundError(absl::StrCat("unknown transfer ", id));
      } else if (it->second.phase == TransferPhase::kPending) {
        error = absl::FailedPreconditionError(
            absl::StrCat("transfer ", id, " is already pending (or listed twice)"));
      }
      if (!error.ok()) {
        for (size_t i = 0; i < posted.size(); ++i) {
          posted[i]->entry->phase = before[i].first;
          posted[i]->entry->status = std::move(before[i].second);
        }
        return error;
      }
      TransferEntry& e = it->second;
      before.emplace_back(e.phase, std::move(e.status));
      e.phase = TransferPhase::kPending;
      e.status = absl::OkStatus();
      posted.push_back(e.transfer.get());
    }
  }
  std::vector<Command> commands;
  commands.reserve(posted.size());
  for (TransferRecord* t : posted) {
    if (t->staged() && t->op == Op::kPut) {  // device -> pinned staging, then UCX
      if (absl::Status s = staging::CopyToHost(t->ucx_local, t->local, t->length); !s.ok()) {
        MutexLock l(&mu_);
        t->entry->phase = TransferPhase::kFailed;
        t->entry->status = s;
        cv_.notify_all();
        continue;
      }
    }
    commands.push_back(Command{Command::kPost, nullptr, t});
  }
  if (!commands.empty()) commands.back().last_of_post = true;
  Enqueue(std::move(commands));
  return absl::OkStatus();
}

TransferState UcxTransport::Poll(TransferId id) const {
  ReaderMutexLock l(&mu_);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) {
    return {TransferPhase::kFailed, absl::NotFoundError(absl::StrCat("unknown transfer ", id))};
  }
  return {it->second.phase, it->second.status};
}

std::optional<absl::Status> UcxTransport::Outcome(TransferId id) const {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return absl::NotFoundError(absl::StrCat("unknown transfer ", id));
  switch (it->second.phase) {
    case TransferPhase::kDone:
      return absl::OkStatus();
    case TransferPhase::kFailed:
      return it->second.status;
    case TransferPhase::kPrepared:
      return absl::FailedPreconditionError(absl::StrCat("transfer ", id, " was never posted"));
    case TransferPhase::kPending:
      break;
  }
  return std::nullopt;
}

// Spins before blocking: when the transport is busy with
// short transfers, the next Publish() is microseconds away and a futex sleep
// and wakeup costs more than that. The spin adapts, as an adaptive mutex's
// does: a wait that outlasted its spin halves the next one (long transfers,
// a slow network: spinning only takes CPU from the peer and the progress
// thread), and a blocked wait that ended within kWaitSpin restores it.
absl::Status UcxTransport::Wait(TransferId id, absl::Time deadline) {
  using SysClock = std::chrono::system_clock;
  const auto until = absl::ToChronoTime(deadline);
  const SysClock::time_point start = SysClock::now();
  const auto budget = std::chrono::nanoseconds(wait_spin_ns_.load(std::memory_order_relaxed));
  const SysClock::time_point spin_until = std::min<SysClock::time_point>(until, start + budget);
  for (;;) {
    const uint64_t seen = publications_.load(std::memory_order_acquire);
    {  // A shared lock does not hold off Publish().
      ReaderMutexLock l(&mu_);
      if (std::optional<absl::Status> s = Outcome(id)) return *s;
    }
    while (publications_.load(std::memory_order_acquire) == seen && SysClock::now() < spin_until) {
      CpuRelax();
    }
    if (publications_.load(std::memory_order_acquire) == seen) break;
  }
  MutexLock l(&mu_);
  for (;;) {
    if (std::optional<absl::Status> s = Outcome(id)) {
      const bool short_wait = SysClock::now() - start <= kWaitSpin;
      wait_spin_ns_.store(short_wait ? kWaitSpin.count() : budget.count() / 2,
                          std::memory_order_relaxed);
      return *s;
    }
    if (cv_.wait_until(mu_, until) == std::cv_status::timeout) {
      auto again = transfers_.find(id);
      if (again != transfers_.end() && again->second.phase == TransferPhase::kPending) {
        return absl::DeadlineExceededError(
            absl::StrCat("transfer ", id, " still pending at its deadline"));
      }
    }
  }
}

absl::Status UcxTransport::Release(TransferId id) {
  std::shared_ptr<TransferRecord> doomed;  // freed outside the lock (it may unmap memory)
  MutexLock l(&mu_);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return absl::NotFoundError(absl::StrCat("unknown transfer ", id));
  if (it->second.phase == TransferPhase::kPending) {
    return absl::FailedPreconditionError(
        absl::StrCat("transfer ", id, " is pending; wait for it or disconnect its peer"));
  }
  doomed = std::move(it->second.transfer);
  transfers_.erase(it);
  return absl::OkStatus();
}

}  // namespace ucx_internal
}  // namespace kvstash::transport
