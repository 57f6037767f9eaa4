// RouterService: the router inside kvstashd (DESIGN.md "Router and placement
// hints"). Owns the prefix index, the placement scorer and the engine event
// subscriber, feeds the node's own tier changes into the index, and answers
// the admin HTTP routes:
//
//   POST /v1/placement   {"block_hashes": [u64, ...]}
//                        or {"token_ids": [...], "block_size": N,
//                            "hash_scheme": "sha256_cbor"|"xxh3", "hash_seed": "..."}
//                        optional "candidates": [{"worker", "dp_rank",
//                        "active_blocks", "queued_prefill_tokens"}],
//                        "temperature", "max_candidates", "seed", "record"
//                        -> {"candidates": [{"worker", "dp_rank", "overlap":
//                            {"device", "host", "disk", "remote"},
//                            "prefill_blocks", "load", "cost"}],
//                            "fetch_hints": [{"node", "medium", "start",
//                            "count", "block_hashes"}], "blocks": n}
//   GET /v1/workers      {"workers": [{"worker", "dp_rank", "kind", "blocks",
//                        "last_seen_s"}], "engines": [engine stream stats],
//                        "nodes": [peer node stream stats], "index": {...}}
//
// Hashes are the u64 wire form engines publish (INTEROP.md). The node's own
// blocks appear as holder (node_id, kNodeRank): a 64-bit key as itself, a
// 32-byte sha256_cbor digest in its wire form (last 8 bytes, big-endian).
// Namespaces are not part of placement: one router serves one model.
//
// Threading: HTTP handlers run on the daemon's event loop and only read the
// index (sharded reader locks); the subscriber applies engine batches on its
// own thread; OnCopyChange runs on whichever thread changed the tiers, under
// the tier manager's lock (a short index write). A sweeper expires silent
// workers from the HTTP handlers' calls (no extra thread).
#ifndef KVSTASH_SERVICE_ROUTER_ROUTER_SERVICE_H_
#define KVSTASH_SERVICE_ROUTER_ROUTER_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/env.h"
#include "service/admin_http.h"
#include "service/metrics.h"
#include "service/router/node_event_subscriber.h"
#include "service/router/placement.h"
#include "service/router/prefix_index.h"
#include "service/router/zmq_subscriber.h"
#include "tiers/block_index.h"

namespace kvstash::router {

struct RouterServiceOptions {
  std::string node_id;
  std::vector<std::string> engine_events;  // "WORKER=ENDPOINT[;replay=...]"
  std::vector<std::string> node_events;    // "NODE=HOST:PORT" (node_event_subscriber.h)
  double silent_s = 600;                   // 0: never forget a silent worker
  uint64_t max_blocks = uint64_t{1} << 24;
  double approximate_ttl_s = 0;
  // Medium of each tier of the node's TierManager, by tier index.
  std::vector<Medium> tier_media;
  Clock* clock = nullptr;  // nullptr: SystemClock()
};

class RouterService {
 public:
  // InvalidArgument for a bad engine endpoint; Unavailable when an endpoint
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<RouterService>> Create(RouterServiceOptions options);
  ~RouterService();

  // For TierManagerOptions::on_copy_change.
  void OnCopyChange(const tiers::CopyChange& change);

  // Starts the subscriptions to other nodes' events (--node-events) on the
  // calling thread's event loop, which must be the one serving HTTP.
  void StartNodeEvents(kj::Network& network, kj::Timer& timer);
  // Cluster mode: the other members, whose KV events are followed too (on
  // top of --node-events). Event-loop thread.
  void SetClusterPeers(std::vector<NodePeer> peers);
  // Drops the connections to other nodes; call on the event loop before it
  // ends.
  void StopNodeEvents();

  // Adds POST /v1/placement and GET /v1/workers.
  void AddRoutes(service::AdminHttpServer& http);
  // Router counters for /metrics.
  void Collect(service::MetricWriter& w) const;

  // The placement answer (both APIs call this). With `record` and approximate
  // mode on, the best rank is remembered as holding the blocks.
  absl::StatusOr<PlacementDecision> Place(const PlacementRequest& request, bool record);
  // Live holders and the engine streams' state.
  std::vector<HolderStatus> Holders();
  std::vector<WorkerStats> EngineStats() const;
  double Now() const;

  service::HttpResponse HandlePlacement(const service::HttpRequest& request);
  service::HttpResponse HandleWorkers();

  PrefixIndex& index() { return *index_; }

 private:
  explicit RouterService(RouterServiceOptions options);
  void ExpireSilent();

  const RouterServiceOptions options_;
  std::unique_ptr<PrefixIndex> index_;
  std::unique_ptr<Placement> placement_;
  std::unique_ptr<EngineEventSubscriber> subscriber_;
  std::vector<NodePeer> static_peers_;  // --node-events
  std::unique_ptr<NodeEventSubscriber> nodes_;
  std::atomic<uint64_t> placements_{0};
  std::atomic<uint64_t> placement_errors_{0};
  std::atomic<uint64_t> engine_batches_{0};
  std::atomic<uint64_t> engine_batch_errors_{0};
  std::atomic<uint64_t> node_events_{0};
};

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_ROUTER_SERVICE_H_
