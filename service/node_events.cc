#include "service/node_events.h"

#include <utility>

#include "common/check.h"
#include "service/proto_convert.h"

namespace kvstash::service {
namespace {

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}  // a subscriber went away mid-push
};
IgnoreErrors ignore_errors;

}  // namespace

// Unsubscribes when the router drops its handle.
class NodeEventLog::SubscriptionImpl final : public proto::Subscription::Server {
 public:
  SubscriptionImpl(NodeEventLog* log, uint64_t id) : log_(log), id_(id) {}
  ~SubscriptionImpl() { log_->Unsubscribe(id_); }

 private:
  NodeEventLog* const log_;
  const uint64_t id_;
};

class NodeEventLog::SourceImpl final : public proto::EventSource::Server {
 public:
  explicit SourceImpl(NodeEventLog* log) : log_(log) {}

 protected:
  kj::Promise<void> subscribe(SubscribeContext context) override {
    const uint64_t id = log_->next_sub_++;
    log_->Subscribe(id, context.getParams().getSink(), context.getParams().getFromSeq());
    context.getResults().setHandle(kj::heap<SubscriptionImpl>(log_, id));
    return kj::READY_NOW;
  }

 private:
  NodeEventLog* const log_;
};

NodeEventLog::NodeEventLog(NodeEventLogOptions options)
    : options_(std::move(options)), tasks_(kj::heap<kj::TaskSet>(ignore_errors)) {}

NodeEventLog::~NodeEventLog() = default;

void NodeEventLog::OnCopyChange(const tiers::CopyChange& c) {
  MutexLock lock(&mu_);
  pending_.push_back(Change{c.key, c.parent, c.tier, c.stored});
  Held& h = held_[c.key];
  if (c.stored) {
    h.parent = c.parent;
    h.tiers |= 1u << c.tier;
  } else {
    h.tiers &= ~(1u << c.tier);
    if (h.tiers == 0) held_.erase(c.key);
  }
}

proto::EventSource::Client NodeEventLog::Source() { return kj::heap<SourceImpl>(this); }

void NodeEventLog::Close() {
  subs_.clear();
  tasks_ = nullptr;
}

void NodeEventLog::Flush(int64_t now_nanos) {
  if (tasks_.get() == nullptr) return;  // closed
  Sealed batch;
  {
    MutexLock lock(&mu_);
    batch.changes.swap(pending_);
  }
  if (batch.changes.empty() && now_nanos - last_sent_nanos_ < options_.heartbeat_nanos) return;
  batch.seq = ++seq_;
  batch.nanos = now_nanos;
  last_sent_nanos_ = now_nanos;
  for (auto& [id, s] : subs_) {
    if (s.resync && s.in_flight == 0) SendSnapshot(id, s);  // after catching up
    if (!s.resync) Push(id, s, batch, /*snapshot=*/false);
  }
  if (!batch.changes.empty()) {
    ring_.push_back(std::move(batch));
    if (ring_.size() > options_.ring_batches) {
      dropped_through_ = ring_.front().seq;
      ring_.pop_front();
    }
  }
}

void NodeEventLog::Subscribe(uint64_t id, proto::EventSink::Client sink, uint64_t from_seq) {
  if (tasks_.get() == nullptr) return;  // closed
  Subscriber& s = subs_.emplace(id, Subscriber{kj::mv(sink)}).first->second;
  // Heartbeats take a seq but hold nothing, so the ring (non-empty batches
  // only) can replay from any seq after the last batch it dropped.
  const bool replayable = from_seq > 0 && from_seq <= seq_ + 1 && from_seq > dropped_through_;
  if (!replayable) {
    SendSnapshot(id, s);
    return;
  }
  for (const Sealed& b : ring_) {
    if (b.seq >= from_seq) Push(id, s, b, /*snapshot=*/false);
  }
}

void NodeEventLog::Push(uint64_t id, Subscriber& s, const Sealed& batch, bool snapshot) {
  if (s.in_flight >= options_.max_in_flight) {
    s.resync = true;  // drop live batches; a snapshot follows once it drains
    return;
  }
  auto req = s.sink.pushRequest();
  FillBatch(batch, snapshot, req.initBatch());
  ++s.in_flight;
  tasks_->add(req.send().then(
      [this, id](auto&&) {
        if (auto it = subs_.find(id); it != subs_.end()) --it->second.in_flight;
      },
      [this, id](kj::Exception&&) { subs_.erase(id); }));
}

void NodeEventLog::SendSnapshot(uint64_t id, Subscriber& s) {
  s.resync = false;
  std::vector<Change> all;
  {
    MutexLock lock(&mu_);
    // Pending changes are in `held_` already and will also reach the live
    // stream; applying them twice is harmless (stores and removes are
    // idempotent, and their order is kept).
    all.reserve(held_.size());
    for (const auto& [key, h] : held_) {
      for (int t = 0; t < 32; ++t) {
        if (h.tiers & (1u << t)) all.push_back(Change{key, h.parent, t, true});
      }
    }
  }
  Sealed part;
  part.seq = seq_;
  part.nanos = last_sent_nanos_;
  part.changes.push_back(Change{tiers::BlockKey{}, std::nullopt, -1, false});  // cleared
  for (size_t i = 0; i <= all.size(); ++i) {
    if (i == all.size() || part.changes.size() >= options_.snapshot_batch_events) {
      ++s.in_flight;  // snapshots are never dropped
      auto req = s.sink.pushRequest();
      FillBatch(part, /*snapshot=*/true, req.initBatch());
      tasks_->add(req.send().then(
          [this, id](auto&&) {
            if (auto it = subs_.find(id); it != subs_.end()) --it->second.in_flight;
          },
          [this, id](kj::Exception&&) { subs_.erase(id); }));
      part.changes.clear();
      if (i == all.size()) break;
    }
    part.changes.push_back(all[i]);
  }
}

void NodeEventLog::FillBatch(const Sealed& batch, bool snapshot,
                             proto::EventBatch::Builder out) const {
  out.setNode(options_.node);
  out.setSeq(batch.seq);
  out.setTimestampNanos(static_cast<uint64_t>(batch.nanos));
  out.setSnapshot(snapshot);
  auto events = out.initEvents(static_cast<unsigned>(batch.changes.size()));
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& c = batch.changes[i];
    proto::KvEvent::Builder e = events[i];
    if (c.tier < 0) {
      e.setCleared();
      e.setTier(proto::Tier::NONE);
      continue;
    }
    e.setTier(static_cast<size_t>(c.tier) < options_.tier_kinds.size() ? options_.tier_kinds[c.tier]
                                                                       : proto::Tier::NONE);
    if (c.stored) {
      auto st = e.initStored();
      KeyToProto(c.key, st.initKeys(1)[0]);
      if (c.parent) KeyToProto(*c.parent, st.initParent());
    } else {
      KeyToProto(c.key, e.initRemoved().initKeys(1)[0]);
    }
  }
}

}  // namespace kvstash::service
