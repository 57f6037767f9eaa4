#include "service/router/zmq_subscriber.h"

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/check.h"
#include "common/mutex.h"
#include "service/router/vllm_events.h"
#include "service/router/zmq_socket.h"

namespace kvstash::router {
namespace {

// vLLM's end-of-replay marker: -1 as a signed 8-byte big-endian int.
constexpr uint64_t kReplayEnd = std::numeric_limits<uint64_t>::max();
// Messages read from one socket before polling the others again (fairness).
constexpr int kMaxDrainPerRound = 256;

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

using Replayed = std::vector<std::pair<uint64_t, std::string>>;

}  // namespace

absl::StatusOr<EngineEndpoint> ParseEngineEndpoint(absl::string_view spec) {
  EngineEndpoint out;
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ';');
  const size_t eq = parts[0].find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == parts[0].size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine endpoint \"", spec, "\": expected WORKER=ENDPOINT[;replay=ENDPOINT]"));
  }
  out.worker = std::string(parts[0].substr(0, eq));
  out.endpoint = std::string(parts[0].substr(eq + 1));
  for (size_t i = 1; i < parts.size(); ++i) {
    if (absl::StartsWith(parts[i], "replay=") && parts[i].size() > 7) {
      out.replay_endpoint = std::string(parts[i].substr(7));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("engine endpoint \"", spec, "\": unknown option \"", parts[i], "\""));
    }
  }
  return out;
}

// ---------------------------------------------------------------------- Impl --

class EngineEventSubscriber::Impl {
 public:
  Impl(SubscriberOptions options, BatchCallback on_batch, ResyncCallback on_resync,
       std::unique_ptr<ZmqContext> ctx)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : SystemClock()),
        on_batch_(std::move(on_batch)),
        on_resync_(std::move(on_resync)),
        ctx_(std::move(ctx)) {}
  ~Impl() { Stop(); }

  absl::Status Open();
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop();
  std::vector<WorkerStats> Stats() const;
  std::optional<int64_t> LastSeen(absl::string_view worker) const;

 private:
  // Owned by the subscriber thread once it starts.
  struct Worker {
    size_t index = 0;  // into stats_
    EngineEndpoint spec;
    std::unique_ptr<ZmqSocket> sub;
    std::unique_ptr<ZmqSocket> replay;  // DEALER, connected on first use
    std::optional<uint64_t> last_seq;
    std::set<int32_t> ranks;  // dp_ranks seen, cleared on resync
  };

  void Run();
  // false when the context was shut down.
  bool Drain(Worker& w);
  bool HandleMessage(Worker& w, std::vector<std::string> frames);
  bool CheckSequence(Worker& w, uint64_t seq);
  // Fills [from, until) from the replay endpoint. false: not filled (the
  // worker must be resynced). Cancelled on shutdown.
  absl::StatusOr<bool> Replay(Worker& w, uint64_t from, uint64_t until);
  absl::StatusOr<Replayed> FetchReplay(Worker& w, uint64_t from, uint64_t until);
  void Resync(Worker& w, uint64_t seq);
  void Deliver(Worker& w, uint64_t seq, absl::string_view payload);
  void NoteError(const Worker& w, std::string error, bool decode_error);

  // Const after construction.
  const SubscriberOptions options_;
  Clock* const clock_;
  const BatchCallback on_batch_;
  const ResyncCallback on_resync_;
  const std::unique_ptr<ZmqContext> ctx_;         // outlives the sockets in workers_
  std::vector<std::unique_ptr<Worker>> workers_;  // filled by Open(), then the thread's
  std::thread thread_;

  Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;

  mutable Mutex mu_;
  std::vector<WorkerStats> stats_ ABSL_GUARDED_BY(mu_);
};

absl::Status EngineEventSubscriber::Impl::Open() {
  std::vector<WorkerStats> stats;  // published under mu_ once every socket is up
  for (const EngineEndpoint& spec : options_.engines) {
    auto w = std::make_unique<Worker>();
    w->index = workers_.size();
    w->spec = spec;
    absl::StatusOr<std::unique_ptr<ZmqSocket>> sub = ZmqSocket::Create(ctx_.get(), ZMQ_SUB);
    if (!sub.ok()) return sub.status();
    w->sub = *std::move(sub);
    for (absl::Status s :
         {w->sub->SetInt(ZMQ_RCVHWM, options_.receive_hwm),
          w->sub->SetInt64(ZMQ_MAXMSGSIZE, options_.max_message_bytes),
          w->sub->SetInt(ZMQ_RECONNECT_IVL_MAX, 5000), w->sub->SetBytes(ZMQ_SUBSCRIBE, "")}) {
      if (!s.ok()) return s;
    }
    WorkerStats& st = stats.emplace_back();
    st.worker = spec.worker;
    st.replay_endpoint = spec.replay_endpoint;
    st.endpoint = spec.endpoint;
    if (absl::StrContains(spec.endpoint, '*')) {
      if (absl::Status s = w->sub->Bind(spec.endpoint); !s.ok()) return s;
      absl::StatusOr<std::string> bound = w->sub->LastEndpoint();
      if (!bound.ok()) return bound.status();
      st.endpoint = *bound;
    } else if (absl::Status s = w->sub->Connect(spec.endpoint); !s.ok()) {
      return s;
    }
    workers_.push_back(std::move(w));
  }
  MutexLock l(&mu_);
  stats_ = std::move(stats);
  return absl::OkStatus();
}

void EngineEventSubscriber::Impl::Stop() {
  MutexLock l(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  ctx_->Shutdown();  // wakes zmq_poll in Run() with ETERM
  if (thread_.joinable()) thread_.join();
}

std::vector<WorkerStats> EngineEventSubscriber::Impl::Stats() const {
  MutexLock l(&mu_);
  return stats_;
}

std::optional<int64_t> EngineEventSubscriber::Impl::LastSeen(absl::string_view worker) const {
  MutexLock l(&mu_);
  for (const WorkerStats& s : stats_) {
    if (s.worker == worker) return s.last_seen_nanos;
  }
  return std::nullopt;
}

// ------------------------------------------------------------ the thread --

void EngineEventSubscriber::Impl::Run() {
  std::vector<zmq_pollitem_t> items;
  for (const auto& w : workers_) items.push_back({w->sub->raw(), 0, ZMQ_POLLIN, 0});
  while (true) {
    if (zmq_poll(items.data(), static_cast<int>(items.size()), -1) < 0) {
      if (zmq_errno() == EINTR) continue;
      if (zmq_errno() != ETERM) {
        ABSL_RAW_LOG(ERROR, "engine event subscriber stopped: zmq_poll: %s",
                     zmq_strerror(zmq_errno()));
      }
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if ((items[i].revents & ZMQ_POLLIN) != 0 && !Drain(*workers_[i])) return;
    }
  }
}

bool EngineEventSubscriber::Impl::Drain(Worker& w) {
  for (int n = 0; n < kMaxDrainPerRound; ++n) {
    absl::StatusOr<std::vector<std::string>> frames = w.sub->Recv(ZMQ_DONTWAIT);
    if (absl::IsCancelled(frames.status())) return false;
    if (absl::IsUnavailable(frames.status())) return true;  // drained
    if (!frames.ok()) {
      NoteError(w, std::string(frames.status().message()), /*decode_error=*/false);
      return true;
    }
    if (!HandleMessage(w, *std::move(frames))) return false;
  }
  return true;
}

bool EngineEventSubscriber::Impl::HandleMessage(Worker& w, std::vector<std::string> frames) {
  {
    MutexLock l(&mu_);
    WorkerStats& s = stats_[w.index];
    ++s.messages;
    s.last_seen_nanos = clock_->NowNanos();
  }
  if (frames.size() != 3) {
    NoteError(w, absl::StrCat("expected 3 frames (topic, seq, payload), got ", frames.size()),
              /*decode_error=*/true);
    return true;
  }
  absl::StatusOr<uint64_t> seq = DecodeSeqFrame(frames[1]);
  if (!seq.ok()) {
    NoteError(w, std::string(seq.status().message()), /*decode_error=*/true);
    return true;
  }
  if (!CheckSequence(w, *seq)) return false;
  w.last_seq = *seq;
  {
    MutexLock l(&mu_);
    stats_[w.index].last_seq = *seq;
  }
  Deliver(w, *seq, frames[2]);
  return true;
}

bool EngineEventSubscriber::Impl::CheckSequence(Worker& w, uint64_t seq) {
  if (!w.last_seq.has_value()) return true;  // first message: any seq
  const uint64_t last = *w.last_seq;
  if (last != kReplayEnd && seq == last + 1) return true;
  if (seq <= last) {
    {
      MutexLock l(&mu_);
      ++stats_[w.index].restarts;
    }
    Resync(w, seq);
    return true;
  }
  {
    MutexLock l(&mu_);
    ++stats_[w.index].gaps;
  }
  absl::StatusOr<bool> filled = Replay(w, last + 1, seq);
  if (!filled.ok()) return false;  // Cancelled: shutting down
  if (*filled) {
    MutexLock l(&mu_);
    ++stats_[w.index].replays;
  } else {
    Resync(w, seq);
  }
  return true;
}

absl::StatusOr<bool> EngineEventSubscriber::Impl::Replay(Worker& w, uint64_t from, uint64_t until) {
  if (w.spec.replay_endpoint.empty()) return false;
  absl::StatusOr<Replayed> got;
  if (until - from > options_.max_replay_batches) {
    got = absl::OutOfRangeError(
        absl::StrCat("gap of ", until - from, " batches exceeds max_replay_batches"));
  } else {
    got = FetchReplay(w, from, until);
  }
  if (absl::IsCancelled(got.status())) return got.status();
  if (!got.ok()) {
    w.replay.reset();  // a late answer must not reach the next request
    {
      MutexLock l(&mu_);
      ++stats_[w.index].replay_failures;
    }
    NoteError(w, absl::StrCat("replay [", from, ", ", until, "): ", got.status().message()),
              /*decode_error=*/false);
    return false;
  }
  for (auto& [seq, payload] : *got) Deliver(w, seq, payload);
  return true;
}

absl::StatusOr<Replayed> EngineEventSubscriber::Impl::FetchReplay(Worker& w, uint64_t from,
                                                                  uint64_t until) {
  if (w.replay == nullptr) {
    absl::StatusOr<std::unique_ptr<ZmqSocket>> s = ZmqSocket::Create(ctx_.get(), ZMQ_DEALER);
    if (!s.ok()) return s.status();
    if (absl::Status c = (*s)->Connect(w.spec.replay_endpoint); !c.ok()) return c;
    w.replay = *std::move(s);
  }
  // DEALER sends (empty, start); the publisher's ROUTER sees (identity, empty, start).
  if (absl::Status s = w.replay->Send({"", BigEndian64(from)}, ZMQ_DONTWAIT); !s.ok()) return s;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.replay_timeout_ms);
  Replayed out;
  uint64_t next = from;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<bool> ready =
        w.replay->WaitReadable(static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (!ready.ok()) return ready.status();
    if (!*ready) return absl::DeadlineExceededError("no complete answer in time");
    absl::StatusOr<std::vector<std::string>> frames = w.replay->Recv(ZMQ_DONTWAIT);
    if (!frames.ok()) return frames.status();
    // Replies are (empty, seq, payload) up to vLLM 0.25 and (empty, topic,
    // seq, payload) from 0.26; the end marker is (empty, -1, empty). Tolerate
    // a server that omits the delimiter.
    if (frames->size() >= 3 && (*frames)[0].empty()) frames->erase(frames->begin());
    if (frames->size() == 3) frames->erase(frames->begin());  // the topic
    if (frames->size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed reply of ", frames->size(), " frames"));
    }
    absl::StatusOr<uint64_t> seq = DecodeSeqFrame((*frames)[0]);
    if (!seq.ok()) return seq.status();
    if (*seq == kReplayEnd) break;
    if (*seq < next || *seq >= until) continue;  // duplicate, or live already
    if (*seq > next) {
      return absl::NotFoundError(absl::StrCat("publisher no longer has seq ", next));
    }
    out.emplace_back(*seq, std::move((*frames)[1]));
    ++next;
  }
  if (next != until) {
    return absl::NotFoundError(absl::StrCat("publisher no longer has seq ", next));
  }
  return out;
}

void EngineEventSubscriber::Impl::Resync(Worker& w, uint64_t seq) {
  {
    MutexLock l(&mu_);
    ++stats_[w.index].resyncs;
  }
  for (int32_t rank : w.ranks) {
    EventBatch cleared;
    cleared.holder = HolderId{w.spec.worker, rank};
    cleared.seq = seq;
    cleared.events.push_back(KvEvent{.kind = KvEvent::Kind::kCleared});
    on_batch_(std::move(cleared));
  }
  w.ranks.clear();
  if (on_resync_) on_resync_(w.spec.worker);
}

void EngineEventSubscriber::Impl::Deliver(Worker& w, uint64_t seq, absl::string_view payload) {
  DecodeInfo info;
  absl::StatusOr<EventBatch> batch = DecodeVllmBatch(payload, &info);
  if (!batch.ok()) {
    NoteError(w, absl::StrCat("seq ", seq, ": ", batch.status().message()),
              /*decode_error=*/true);
    return;
  }
  batch->holder.worker = w.spec.worker;
  batch->seq = seq;
  w.ranks.insert(batch->holder.dp_rank);
  {
    MutexLock l(&mu_);
    WorkerStats& s = stats_[w.index];
    ++s.batches;
    s.events += batch->events.size();
    s.skipped_events += info.skipped_unknown_type + info.skipped_unknown_medium;
    if (!info.first_skipped.empty()) {
      s.last_error = absl::StrCat("seq ", seq, ": skipped ", info.first_skipped);
    }
  }
  on_batch_(*std::move(batch));
}

void EngineEventSubscriber::Impl::NoteError(const Worker& w, std::string error, bool decode_error) {
  MutexLock l(&mu_);
  WorkerStats& s = stats_[w.index];
  if (decode_error) ++s.decode_errors;
  s.last_error = std::move(error);
}

// ------------------------------------------------------------------ facade --

absl::StatusOr<std::unique_ptr<EngineEventSubscriber>> EngineEventSubscriber::Create(
    SubscriberOptions options, BatchCallback on_batch, ResyncCallback on_resync) {
  KVSTASH_CHECK(on_batch != nullptr);
  if (options.engines.empty()) return absl::InvalidArgumentError("no engine endpoints");
  // One worker may have several streams: vLLM with --data-parallel-size N
  // publishes rank r on its port + r. A (worker, endpoint) pair is one stream.
  absl::flat_hash_set<std::string> streams;
  for (const EngineEndpoint& e : options.engines) {
    if (e.worker.empty() || e.endpoint.empty()) {
      return absl::InvalidArgumentError("engine endpoint needs a worker name and an endpoint");
    }
    if (!streams.insert(absl::StrCat(e.worker, "=", e.endpoint)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate engine stream \"", e.worker, "=", e.endpoint, "\""));
    }
  }
  absl::StatusOr<std::unique_ptr<ZmqContext>> ctx = ZmqContext::Create();
  if (!ctx.ok()) return ctx.status();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(on_batch), std::move(on_resync),
                                     *std::move(ctx));
  if (absl::Status s = impl->Open(); !s.ok()) return s;
  impl->Start();
  return std::unique_ptr<EngineEventSubscriber>(new EngineEventSubscriber(std::move(impl)));
}

EngineEventSubscriber::EngineEventSubscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EngineEventSubscriber::~EngineEventSubscriber() { impl_->Stop(); }

void EngineEventSubscriber::Stop() { impl_->Stop(); }

std::vector<WorkerStats> EngineEventSubscriber::Stats() const { return impl_->Stats(); }

std::optional<int64_t> EngineEventSubscriber::LastSeen(absl::string_view worker) const {
  return impl_->LastSeen(worker);
}

}  // namespace kvstash::router
