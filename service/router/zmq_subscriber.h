// EngineEventSubscriber: ingests the KV-event streams of inference engines
// (vLLM, SGLang, TensorRT-LLM; INTEROP.md "vLLM KV events") and hands decoded
// batches to the prefix index.
//
// One background thread owns one ZMQ SUB socket per worker, subscribed to all
// topics. The endpoint is connected to, or bound when it contains a wildcard
// `*` (then the engine connects to us; Stats().endpoint shows the resolved
// address, e.g. the port picked for tcp://127.0.0.1:*). Each message is 3
// frames (topic, seq as 8 bytes big-endian, msgpack batch); the batch is
// decoded (vllm_events.h), stamped holder = {worker, dp_rank from the batch,
// 0 when nil} and seq, and delivered to `on_batch`.
//
// Sequence numbers, per worker:
//   - the first message is accepted whatever its seq;
//   - seq == last + 1: in order;
//   - seq > last + 1 (a gap: the SUB socket dropped messages, or we were
//     disconnected): when the worker has a replay endpoint, a DEALER socket
//     sends vLLM's replay request (empty delimiter, start seq as 8 bytes
//     big-endian; the publisher's ROUTER sees (identity, empty, start)) and
//     reads (empty, seq, payload) replies -- (empty, topic, seq, payload)
//     from vLLM 0.26 -- until seq == -1 (the end marker);
//     the missing batches are delivered in order, duplicates dropped. When
//     there is no replay endpoint, the reply does not cover the whole gap (the
//     publisher's buffer moved on), a reply is malformed or the replay times
//     out, the worker is resynced;
//   - seq <= last: the publisher restarted (vLLM counts from 0 again); resync.
// Resync: for every dp_rank seen from that worker, `on_batch` receives a
// synthetic batch {holder, seq = the new seq, timestamp 0, events =
// [kCleared]} so an index that only applies batches forgets what the worker
// held; then `on_resync(worker)` is called when set. Delivery continues with
// the new seq.
// A payload that fails to decode is counted (decode_errors, last_error) and
// dropped; the stream goes on. Unknown event types and media are skipped and
// counted (skipped_events).
//
// Endpoint spec (ParseEngineEndpoint, for flags and config files):
//   WORKER=ENDPOINT[;replay=REPLAY_ENDPOINT]
//   e.g. "vllm-0=tcp://10.0.0.5:5557;replay=tcp://10.0.0.5:5558"
//
// Silence: LastSeen(worker) is the clock time of the last message from it.
// The subscriber never drops a worker; the index ages out silent ones itself.
//
// Threading: `on_batch` and `on_resync` run on the subscriber's thread, one
// call at a time, in stream order per worker; they must not call Stop() or
// block for long (messages queue in the SUB socket meanwhile, up to its
// high-water mark, after which ZMQ drops them and a gap follows). Stats() and
// LastSeen() may be called from any thread. Stop() and the destructor wake the
// thread (zmq_ctx_shutdown) and join it.
#ifndef KVSTASH_SERVICE_ROUTER_ZMQ_SUBSCRIBER_H_
#define KVSTASH_SERVICE_ROUTER_ZMQ_SUBSCRIBER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"
#include "service/router/types.h"

namespace kvstash::router {

struct EngineEndpoint {
  std::string worker;           // names the holder; unique per subscriber
  std::string endpoint;         // the engine's PUB address
  std::string replay_endpoint;  // the engine's replay ROUTER; empty: none
};

// Parses "WORKER=ENDPOINT[;replay=REPLAY_ENDPOINT]". InvalidArgument on an
// empty worker or endpoint or an unknown option.
[[nodiscard]] absl::StatusOr<EngineEndpoint> ParseEngineEndpoint(absl::string_view spec);

struct SubscriberOptions {
  std::vector<EngineEndpoint> engines;
  // How long one replay may take before the worker is resynced instead.
  int replay_timeout_ms = 2000;
  // Gaps longer than this are not replayed (vLLM buffers 10,000 batches by
  // default); the worker is resynced.
  uint64_t max_replay_batches = 10000;
  // ZMQ_RCVHWM of each SUB socket (messages). vLLM's PUB uses 100,000.
  int receive_hwm = 100000;
  // ZMQ_MAXMSGSIZE: larger frames make ZMQ drop the connection.
  int64_t max_message_bytes = int64_t{64} << 20;
  // Clock for LastSeen. nullptr: SystemClock().
  Clock* clock = nullptr;
};

struct WorkerStats {
  std::string worker;
  std::string endpoint;  // as resolved after a wildcard bind
  std::string replay_endpoint;
  uint64_t messages = 0;         // ZMQ messages received on the SUB socket
  uint64_t batches = 0;          // decoded batches delivered (replayed included)
  uint64_t events = 0;           // events in those batches
  uint64_t decode_errors = 0;    // malformed messages dropped
  uint64_t skipped_events = 0;   // unknown event types or media
  uint64_t gaps = 0;             // forward seq jumps
  uint64_t replays = 0;          // gaps filled by replay
  uint64_t replay_failures = 0;  // replays that timed out, fell short or were malformed
  uint64_t resyncs = 0;          // times the worker's entries were cleared
  uint64_t restarts = 0;         // seq went backwards (also counted in resyncs)
  std::optional<uint64_t> last_seq;
  std::optional<int64_t> last_seen_nanos;  // Clock time of the last message
  std::string last_error;                  // last decode or replay error, or skipped-event note
};

class EngineEventSubscriber {
 public:
  using BatchCallback = std::function<void(EventBatch)>;
  using ResyncCallback = std::function<void(const std::string& worker)>;

  // Creates the sockets (binding or connecting each endpoint) and starts the
  // thread. A worker may have several streams (vLLM publishes data-parallel
  // rank r on its port + r). InvalidArgument for no engines, an empty worker
  // name, a (worker, endpoint) pair given twice
  // or a bad endpoint; Unavailable when a bind address is taken.
  // REQUIRES: on_batch is set. on_resync may be empty.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EngineEventSubscriber>> Create(
      SubscriberOptions options, BatchCallback on_batch, ResyncCallback on_resync = nullptr);

  ~EngineEventSubscriber();
  EngineEventSubscriber(const EngineEventSubscriber&) = delete;
  EngineEventSubscriber& operator=(const EngineEventSubscriber&) = delete;

  // Stops and joins the thread; no callback runs after it returns.
  // Idempotent. REQUIRES: not called from a callback.
  void Stop();

  // One entry per worker, in the order of options.engines.
  std::vector<WorkerStats> Stats() const;

  // Clock time of the last message from `worker`; nullopt before the first
  // one or for an unknown worker.
  std::optional<int64_t> LastSeen(absl::string_view worker) const;

 private:
  class Impl;
  explicit EngineEventSubscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_ZMQ_SUBSCRIBER_H_
