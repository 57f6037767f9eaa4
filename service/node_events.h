// NodeEventLog: this node's KV events (proto/events.capnp) for routers that
// subscribe over Cap'n Proto (Node.events()).
//
// Every copy that enters or leaves a tier (TierManagerOptions::on_copy_change)
// is queued; Flush() (the daemon calls it every few milliseconds on its event
// loop) seals the queue into one EventBatch with the next seq and pushes it to
// every subscriber. The last `ring_batches` batches are kept, so a subscriber
// that reconnects with subscribe(fromSeq = last seen + 1) gets exactly what it
// missed. fromSeq = 0, a fromSeq older than the ring or newer than the log (the
// node restarted) gets a snapshot instead: batches flagged `snapshot`, all
// carrying the current seq, that start with a `cleared` event and then list
// every block held, per tier; live batches follow from seq + 1. A subscriber
// that falls `max_in_flight` pushes behind is resynced the same way once it
// catches up, so a slow router costs bounded memory. An idle node sends an
// empty batch every `heartbeat` so routers can tell it is alive.
//
// Threading: OnCopyChange may run on any thread (it takes a mutex for a
// push_back; it runs under the tier manager's lock). Everything else runs on
// the daemon's event-loop thread.
#ifndef KVSTASH_SERVICE_NODE_EVENTS_H_
#define KVSTASH_SERVICE_NODE_EVENTS_H_

#include <kj/async.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "common/mutex.h"
#include "proto/events.capnp.h"
#include "tiers/block_index.h"

namespace kvstash::service {

struct NodeEventLogOptions {
  std::string node;                     // EventBatch.node
  std::vector<proto::Tier> tier_kinds;  // proto tier of each TierManager tier index
  size_t ring_batches = 4096;
  size_t max_in_flight = 256;           // pushes a subscriber may have unanswered
  size_t snapshot_batch_events = 4096;  // events per snapshot batch
  int64_t heartbeat_nanos = int64_t{2} * 1000 * 1000 * 1000;
};

class NodeEventLog {
 public:
  explicit NodeEventLog(NodeEventLogOptions options);
  ~NodeEventLog();
  NodeEventLog(const NodeEventLog&) = delete;
  NodeEventLog& operator=(const NodeEventLog&) = delete;

  // For TierManagerOptions::on_copy_change. Any thread.
  void OnCopyChange(const tiers::CopyChange& change);
  // Seals pending changes (or a heartbeat when idle for `heartbeat_nanos`)
  // and pushes them. Event-loop thread. `now_nanos`: the clock, for
  // timestamps and heartbeats.
  void Flush(int64_t now_nanos);
  // A capability serving EventSource.subscribe. Event-loop thread.
  proto::EventSource::Client Source();
  // Drops every subscriber and pending push; call on the event loop before
  // it ends (capabilities must die on their loop). Flush() is a no-op after.
  void Close();

  uint64_t seq() const { return seq_; }
  size_t subscribers() const { return subs_.size(); }

 private:
  class SourceImpl;
  class SubscriptionImpl;
  struct Change {
    tiers::BlockKey key;
    std::optional<tiers::BlockKey> parent;
    int tier = 0;
    bool stored = true;
  };
  struct Sealed {
    uint64_t seq = 0;
    int64_t nanos = 0;
    std::vector<Change> changes;
  };
  struct Held {
    std::optional<tiers::BlockKey> parent;
    uint32_t tiers = 0;  // bit t: held in tier t
  };
  struct Subscriber {
    proto::EventSink::Client sink;
    size_t in_flight = 0;
    bool resync = false;  // fell behind: snapshot once caught up
  };

  void Subscribe(uint64_t id, proto::EventSink::Client sink, uint64_t from_seq);
  void Unsubscribe(uint64_t id) { subs_.erase(id); }
  void Push(uint64_t id, Subscriber& s, const Sealed& batch, bool snapshot);
  void SendSnapshot(uint64_t id, Subscriber& s);
  void FillBatch(const Sealed& batch, bool snapshot, proto::EventBatch::Builder out) const;

  const NodeEventLogOptions options_;

  Mutex mu_;
  std::vector<Change> pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<tiers::BlockKey, Held> held_ ABSL_GUARDED_BY(mu_);

  // Event-loop thread only.
  uint64_t seq_ = 0;
  uint64_t dropped_through_ = 0;  // seq of the last batch the ring let go
  int64_t last_sent_nanos_ = 0;
  std::deque<Sealed> ring_;
  std::map<uint64_t, Subscriber> subs_;
  uint64_t next_sub_ = 0;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_NODE_EVENTS_H_
