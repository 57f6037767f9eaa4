// The UCX transport's progress thread (ucx_transport_internal.h): it owns the
// UCP worker, runs the commands callers queue, turns UCX completions and
// endpoint errors into transfer and peer states, and sleeps on the worker's
// event fd when nothing is in flight.
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "transport/ucx_transport_internal.h"
#include "transport/ucx_wire.h"

namespace kvstash::transport::ucx_internal {
namespace {

using Clock = std::chrono::steady_clock;

// How long the thread spins on ucp_worker_progress after the last event (a
// command, a completion, a peer's request) before it arms the worker and
// sleeps on its fd: spinning wins the latency of back-to-back work (a batch
// of gets, a peer's stream of requests), sleeping returns the core when the
// peers are slow, silent or idle.
constexpr auto kSpin = std::chrono::microseconds(50);
constexpr int kBusySleepMs = 1;
// Idle: wake at least this often anyway, so UCX's keepalive keeps running.
constexpr int kIdleSleepMs = 100;
// Shutdown waits this long for endpoints to flush and close, then for the
// worker to be quiet for kDrainQuiet.
constexpr auto kShutdownGrace = std::chrono::seconds(2);
constexpr auto kDrainQuiet = std::chrono::milliseconds(10);

}  // namespace

void UcxTransport::Started(absl::Status status) {
  MutexLock l(&mu_);
  started_ = std::move(status);
  cv_.notify_all();
}

void UcxTransport::ProgressMain(ucp_worker_params_t params) {
  if (ucs_status_t s = ucp_worker_create(context_->get(), &params, &worker_); s != UCS_OK) {
    Started(UcsError(s, "ucp_worker_create"));
    return;
  }
  WorkerPtr worker(worker_);
  ucp_address_t* address = nullptr;
  size_t address_len = 0;
  if (ucs_status_t s = ucp_worker_get_efd(worker_, &worker_fd_); s != UCS_OK) {
    Started(UcsError(s, "ucp_worker_get_efd"));
    return;
  }
  if (ucs_status_t s = ucp_worker_get_address(worker_, &address, &address_len); s != UCS_OK) {
    Started(UcsError(s, "ucp_worker_get_address"));
    return;
  }
  local_address_ =
      EncodeAddress({instance_, ProcessIdentity::Self(),
                     std::string(reinterpret_cast<const char*>(address), address_len)});
  ucp_worker_release_address(worker_, address);
  Started(absl::OkStatus());

  Clock::time_point last_event = Clock::now();
  for (;;) {
    std::vector<Command> commands;
    bool stopping;
    {
      MutexLock l(&mu_);
      commands.swap(commands_);
      stopping = stopping_;
    }
    ExecuteCommands(commands);
    unsigned events = 0;
    while (const unsigned n = ucp_worker_progress(worker_)) events += n;
    HandleFailedEndpoints();
    const Clock::time_point now = Clock::now();
    if (now >= next_liveness_check_) {
      CheckLocalPeers();
      next_liveness_check_ = now + absl::ToChronoNanoseconds(options_.keepalive_interval);
    }
    ReapClosing();
    Publish();
    if (stopping) break;
    if (events > 0 || !commands.empty()) last_event = now;
    if (now - last_event < kSpin) continue;  // more is likely to follow soon
    Sleep(in_flight_ > 0 || !closing_.empty() ? kBusySleepMs : kIdleSleepMs);
  }
  Shutdown();
  worker_ = nullptr;  // `worker` destroys it
}

void UcxTransport::ExecuteCommands(std::vector<Command>& commands) {
  for (Command& c : commands) {
    switch (c.kind) {
      case Command::kConnect:
        CreateEndpoint(*c.peer);
        if (!c.peer->closed) endpoints_.push_back(c.peer);
        peer_updates_.emplace_back(c.peer->id, c.peer->failure);
        break;
      case Command::kPost:
        Issue(c.transfer);
        // Each Post() batch is published as soon as it is issued, so that the
        // caller can reuse its buffers while later batches are still moving.
        if (c.last_of_post) {
          while (ucp_worker_progress(worker_) != 0) {
          }
          Publish();
        }
        break;
      case Command::kUnpack: {
        absl::Status status = Unpack(c.transfer);
        MutexLock l(&mu_);
        c.unpack->status = std::move(status);
        c.unpack->done = true;
        cv_.notify_all();
        break;
      }
      case Command::kDisconnect:
        if (!c.peer->closed) {
          c.peer->disconnected = true;
          CloseEndpoint(*c.peer, absl::CancelledError(
                                     absl::StrCat("peer ", c.peer->id, " was disconnected")));
        }
        break;
    }
  }
}

void UcxTransport::CreateEndpoint(PeerRecord& peer) {
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = reinterpret_cast<const ucp_address_t*>(peer.worker_address.data());
  p.err_mode = UCP_ERR_HANDLING_MODE_PEER;  // a dead peer fails its own requests only
  p.err_handler.cb = &UcxTransport::OnEndpointError;
  p.err_handler.arg = &peer;
  if (ucs_status_t s = ucp_ep_create(worker_, &p, &peer.ep); s != UCS_OK) {
    peer.ep = nullptr;
    peer.closed = true;
    peer.failure = UcsError(s, absl::StrCat("connecting to peer ", peer.id));
    if (!absl::IsInvalidArgument(peer.failure)) {
      peer.failure = absl::UnavailableError(peer.failure.message());
    }
  }
}

void UcxTransport::CloseEndpoint(PeerRecord& peer, absl::Status why) {
  peer.closed = true;
  peer.failure = std::move(why);
  peer.rkeys.clear();  // rkeys go before their endpoint
  ucp_request_param_t prm{};
  prm.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  prm.flags = UCP_EP_CLOSE_FLAG_FORCE;  // fails in-flight requests instead of flushing them
  const ucs_status_ptr_t r = ucp_ep_close_nbx(peer.ep, &prm);
  peer.ep = nullptr;
  if (UCS_PTR_IS_PTR(r)) closing_.push_back(r);
  peer_updates_.emplace_back(peer.id, peer.failure);
  endpoints_.erase(
      std::remove_if(endpoints_.begin(), endpoints_.end(),
                     [&](const std::shared_ptr<PeerRecord>& p) { return p.get() == &peer; }),
      endpoints_.end());
}

void UcxTransport::Issue(TransferRecord* t) {
  PeerRecord& p = *t->peer;
  if (p.closed) {
    Finish(t, p.failure.ok()
                  ? absl::UnavailableError(absl::StrCat("peer ", p.id, " is not connected"))
                  : p.failure);
    return;
  }
  if (absl::Status s = Unpack(t); !s.ok()) {
    Finish(t, std::move(s));
    return;
  }
  ucp_request_param_t prm{};
  prm.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  prm.cb.send = &UcxTransport::OnRequestDone;
  prm.user_data = t;
  if (t->local_mem != nullptr) {
    prm.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    prm.memh = t->local_mem->mapping->get();
  }
  ucs_status_ptr_t r;
  if (t->op == Op::kGet) {
    r = ucp_get_nbx(p.ep, t->ucx_local, t->length, t->remote_addr, t->rkey, &prm);
  } else {
    // A put completes locally (buffer reusable) before it lands; the flush
    // behind it completes when the bytes are in the peer's memory.
    ucp_request_param_t put = prm;
    put.op_attr_mask &= ~(UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA);
    r = ucp_put_nbx(p.ep, t->ucx_local, t->length, t->remote_addr, t->rkey, &put);
    if (UCS_PTR_IS_ERR(r)) {
      Finish(t, UCS_PTR_STATUS(r));
      return;
    }
    if (r != nullptr) ucp_request_free(r);  // released when it completes; errors reach the flush
    prm.op_attr_mask &= ~UCP_OP_ATTR_FIELD_MEMH;
    r = ucp_ep_flush_nbx(p.ep, &prm);
  }
  if (r == nullptr) {
    Finish(t, UCS_OK);
  } else if (UCS_PTR_IS_ERR(r)) {
    Finish(t, UCS_PTR_STATUS(r));
  } else {
    ++in_flight_;
  }
}

absl::Status UcxTransport::Unpack(TransferRecord* t) {
  PeerRecord& p = *t->peer;
  if (p.closed) {
    return p.failure.ok() ? absl::UnavailableError(absl::StrCat("peer ", p.id, " is not connected"))
                          : p.failure;
  }
  if (t->rkey != nullptr) return absl::OkStatus();
  auto key = p.rkeys.find(t->packed_rkey);
  if (key == p.rkeys.end()) {
    // Narrows UCX 1.13's crash on a dead peer's shared-memory key (Prepare).
    if (ProcessIsGone(p.process)) {
      CloseEndpoint(
          p, absl::UnavailableError(absl::StrCat("peer ", p.id, " failed: its process (pid ",
                                                 p.process.pid, " on this host) has exited")));
      return p.failure;
    }
    ucp_rkey_h rkey = nullptr;
    if (ucs_status_t s = ucp_ep_rkey_unpack(p.ep, t->packed_rkey.data(), &rkey); s != UCS_OK) {
      return absl::InvalidArgumentError(absl::StrCat(
          "remote key from peer ", p.id, " cannot be unpacked: ", ucs_status_string(s)));
    }
    key = p.rkeys.emplace(t->packed_rkey, RkeyPtr(rkey)).first;
  }
  t->rkey = key->second.get();
  return absl::OkStatus();
}

void UcxTransport::OnRequestDone(void* request, ucs_status_t status, void* user_data) {
  auto* t = static_cast<TransferRecord*>(user_data);
  UcxTransport* self = t->peer->owner;
  --self->in_flight_;
  self->Finish(t, status);
  ucp_request_free(request);
}

void UcxTransport::Finish(TransferRecord* t, ucs_status_t status) {
  if (status == UCS_OK) {
    absl::Status s;
    if (t->staged() && t->op == Op::kGet)
      s = staging::CopyToDevice(t->local, t->ucx_local, t->length);
    Finish(t, std::move(s));
    return;
  }
  const PeerRecord& p = *t->peer;
  const std::string what =
      absl::StrCat("ucx ", OpName(t->op), " of ", t->length, " bytes with peer ", p.id);
  if (p.disconnected) {
    Finish(t, absl::CancelledError(absl::StrCat(what, ": cancelled by Disconnect")));
    return;
  }
  absl::Status s = UcsError(status, what);
  // A request UCX cancels while failing the endpoint is the peer's failure.
  if (absl::IsCancelled(s)) s = absl::UnavailableError(s.message());
  Finish(t, std::move(s));
}

void UcxTransport::Finish(TransferRecord* t, absl::Status status) {
  finished_.emplace_back(t, std::move(status));
}

void UcxTransport::OnEndpointError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* peer = static_cast<PeerRecord*>(arg);
  peer->owner->failed_.emplace_back(peer, status);
}

void UcxTransport::HandleFailedEndpoints() {
  while (!failed_.empty()) {
    std::vector<std::pair<PeerRecord*, ucs_status_t>> failed;
    failed.swap(failed_);
    for (auto [peer, status] : failed) {
      if (peer->closed) continue;
      CloseEndpoint(*peer, absl::UnavailableError(absl::StrCat(
                               "peer ", peer->id, " failed: ", ucs_status_string(status))));
    }
  }
}

bool UcxTransport::ReapClosing() {
  closing_.erase(std::remove_if(closing_.begin(), closing_.end(),
                                [](ucs_status_ptr_t r) {
                                  if (ucp_request_check_status(r) == UCS_INPROGRESS) return false;
                                  ucp_request_free(r);
                                  return true;
                                }),
                 closing_.end());
  return !closing_.empty();
}

void UcxTransport::Publish() {
  if (finished_.empty() && peer_updates_.empty()) return;
  {
    MutexLock l(&mu_);
    for (auto& [t, status] : finished_) {
      t->entry->phase = status.ok() ? TransferPhase::kDone : TransferPhase::kFailed;
      t->entry->status = std::move(status);
    }
    for (auto& [id, status] : peer_updates_) {
      PeerState& st = peers_.at(id);
      st.ready = true;
      if (st.status.ok()) st.status = std::move(status);
    }
  }
  finished_.clear();
  peer_updates_.clear();
  publications_.fetch_add(1, std::memory_order_release);
  cv_.notify_all();
}

void UcxTransport::Sleep(int timeout_ms) {
  {
    MutexLock l(&mu_);
    if (!commands_.empty() || stopping_) return;
    asleep_ = true;
  }
  const ucs_status_t armed = ucp_worker_arm(worker_);
  if (armed != UCS_ERR_BUSY) {  // BUSY: events are waiting already
    // Should a transport not support wakeups, nap briefly instead.
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {worker_fd_, POLLIN, 0}};
    poll(fds, armed == UCS_OK ? 2 : 1, armed == UCS_OK ? timeout_ms : 1);
  }
  {
    MutexLock l(&mu_);
    asleep_ = false;
  }
  uint64_t drained;
  (void)!read(wake_fd_, &drained, sizeof(drained));
}

void UcxTransport::CheckLocalPeers() {
  for (std::shared_ptr<PeerRecord> p : std::vector<std::shared_ptr<PeerRecord>>(endpoints_)) {
    if (p->closed || !ProcessIsGone(p->process)) continue;
    CloseEndpoint(
        *p, absl::UnavailableError(absl::StrCat("peer ", p->id, " failed: its process (pid ",
                                                p->process.pid, " on this host) has exited")));
  }
}

// Endpoints close in flush mode: in-flight transfers finish first, and so does
// the wireup handshake. Force-closing an endpoint whose peer still has to
// answer our wireup request makes that peer's UCX 1.13 abort on an assertion
// (fixed in UCX 1.14 by "UCP/CORE: Remove assertion for checking WIREUP_MSGs
// when purging"). A peer that does not answer within the grace period is
// left behind; destroying the worker then cancels what remains.
void UcxTransport::Shutdown() {
  for (std::shared_ptr<PeerRecord> p : std::vector<std::shared_ptr<PeerRecord>>(endpoints_)) {
    p->closed = p->disconnected = true;
    p->failure = absl::CancelledError("transport destroyed");
    p->rkeys.clear();
    ucp_request_param_t prm{};
    const ucs_status_ptr_t r = ucp_ep_close_nbx(p->ep, &prm);
    p->ep = nullptr;
    if (UCS_PTR_IS_PTR(r)) closing_.push_back(r);
  }
  endpoints_.clear();
  const Clock::time_point deadline = Clock::now() + kShutdownGrace;
  while ((in_flight_ > 0 || ReapClosing()) && Clock::now() < deadline) {
    ucp_worker_progress(worker_);
    HandleFailedEndpoints();
  }
  Publish();
  // Endpoints UCX made for peers that connected to us may still owe them a
  // wireup reply, and destroying the worker with one pending trips the same
  // assertion: keep progressing until the worker has been quiet for a while.
  Clock::time_point quiet_since = Clock::now();
  while (Clock::now() < deadline && Clock::now() - quiet_since < kDrainQuiet) {
    if (ucp_worker_progress(worker_) != 0) quiet_since = Clock::now();
  }
}

}  // namespace kvstash::transport::ucx_internal
