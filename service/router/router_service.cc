#include "service/router/router_service.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "service/router/placement_json.h"
#include "service/router/wire_hash.h"

namespace kvstash::router {
namespace {

uint64_t WireHash(const tiers::BlockKey& key) {
  return WireHashOfDigest(key.digest.data(), key.digest.size());
}

}  // namespace

RouterService::RouterService(RouterServiceOptions options) : options_(std::move(options)) {}

RouterService::~RouterService() {
  if (subscriber_) subscriber_->Stop();
}

absl::StatusOr<std::unique_ptr<RouterService>> RouterService::Create(RouterServiceOptions options) {
  auto r = std::unique_ptr<RouterService>(new RouterService(std::move(options)));
  PrefixIndexOptions io;
  io.max_blocks = r->options_.max_blocks;
  r->index_ = std::make_unique<PrefixIndex>(io);
  PlacementOptions po;
  po.approximate_ttl_s = r->options_.approximate_ttl_s;
  po.clock = r->options_.clock;
  absl::StatusOr<std::unique_ptr<Placement>> p = Placement::Create(r->index_.get(), po);
  if (!p.ok()) return p.status();
  r->placement_ = *std::move(p);
  for (const std::string& spec : r->options_.node_events) {
    absl::StatusOr<NodePeer> peer = ParseNodePeer(spec);
    if (!peer.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--node-events: ", peer.status().message()));
    }
    r->static_peers_.push_back(*std::move(peer));
  }
  RouterService* self = r.get();
  r->nodes_ = std::make_unique<NodeEventSubscriber>(r->index_.get(), r->static_peers_,
                                                    [self] { return self->Now(); });
  if (r->options_.engine_events.empty()) return r;

  SubscriberOptions so;
  so.clock = r->options_.clock;
  for (const std::string& spec : r->options_.engine_events) {
    absl::StatusOr<EngineEndpoint> e = ParseEngineEndpoint(spec);
    if (!e.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--engine-events '", spec, "': ", e.status().message()));
    }
    so.engines.push_back(*std::move(e));
  }
  absl::StatusOr<std::unique_ptr<EngineEventSubscriber>> s =
      EngineEventSubscriber::Create(std::move(so), [self](EventBatch batch) {
        const absl::Status applied = self->index_->Apply(batch, self->Now());
        ++(applied.ok() ? self->engine_batches_ : self->engine_batch_errors_);
      });
  if (!s.ok()) return s.status();
  r->subscriber_ = *std::move(s);
  return r;
}

double RouterService::Now() const {
  const Clock* clock = options_.clock != nullptr ? options_.clock : SystemClock();
  return static_cast<double>(clock->NowNanos()) * 1e-9;
}

void RouterService::OnCopyChange(const tiers::CopyChange& change) {
  if (change.tier < 0 || static_cast<size_t>(change.tier) >= options_.tier_media.size()) return;
  EventBatch batch;
  batch.holder = HolderId{options_.node_id, kNodeRank};
  KvEvent& e = batch.events.emplace_back();
  e.kind = change.stored ? KvEvent::Kind::kStored : KvEvent::Kind::kRemoved;
  e.block_hashes.push_back(WireHash(change.key));
  if (change.stored && change.parent) e.parent_hash = WireHash(*change.parent);
  e.medium = options_.tier_media[change.tier];
  // Holders are touched by the silent-worker sweep only when they are engines.
  if (index_->Apply(batch).ok()) ++node_events_;
}

void RouterService::ExpireSilent() {
  if (options_.silent_s <= 0) return;
  const double now = Now();
  // The node itself is never silent: touch it first.
  index_->Touch(HolderId{options_.node_id, kNodeRank}, now).IgnoreError();
  index_->ExpireSilent(now, options_.silent_s);
}

absl::StatusOr<PlacementDecision> RouterService::Place(const PlacementRequest& request,
                                                       bool record) {
  ExpireSilent();
  absl::StatusOr<PlacementDecision> d = placement_->Place(request);
  if (!d.ok()) {
    ++placement_errors_;
    return d.status();
  }
  if (record && !d->ranked.empty() && options_.approximate_ttl_s > 0) {
    placement_->Record(d->ranked.front().rank, request.hashes).IgnoreError();
  }
  ++placements_;
  return d;
}

std::vector<HolderStatus> RouterService::Holders() {
  ExpireSilent();
  return index_->Holders();
}

std::vector<WorkerStats> RouterService::EngineStats() const {
  return subscriber_ ? subscriber_->Stats() : std::vector<WorkerStats>{};
}

service::HttpResponse RouterService::HandlePlacement(const service::HttpRequest& request) {
  absl::StatusOr<ParsedPlacement> parsed = ParsePlacementJson(request.body);
  if (!parsed.ok()) {
    ++placement_errors_;
    return service::StatusResponse(parsed.status());
  }
  absl::StatusOr<PlacementDecision> d = Place(parsed->request, parsed->record);
  if (!d.ok()) return service::StatusResponse(d.status());
  service::HttpResponse r;
  r.content_type = "application/json";
  r.body = PlacementToJson(*d, parsed->request.hashes);
  return r;
}

service::HttpResponse RouterService::HandleWorkers() {
  const std::vector<HolderStatus> holders = Holders();
  const double now = Now();
  std::string out = "{\"workers\":[";
  bool first = true;
  for (const HolderStatus& h : holders) {
    absl::StrAppend(&out, first ? "" : ",", "{\"worker\":", service::JsonString(h.holder.worker),
                    ",\"dp_rank\":", h.holder.dp_rank, ",\"kind\":\"",
                    h.holder.dp_rank == kNodeRank ? "kvstash" : "engine",
                    "\",\"blocks\":", h.blocks, ",\"last_seen_s\":");
    if (std::isnan(h.last_seen)) {
      absl::StrAppend(&out, "null}");
    } else {
      absl::StrAppend(&out, now - h.last_seen, "}");
    }
    first = false;
  }
  absl::StrAppend(&out, "],\"engines\":[");
  first = true;
  {
    for (const WorkerStats& w : EngineStats()) {
      absl::StrAppend(&out, first ? "" : ",", "{\"worker\":", service::JsonString(w.worker),
                      ",\"endpoint\":", service::JsonString(w.endpoint),
                      ",\"replay_endpoint\":", service::JsonString(w.replay_endpoint),
                      ",\"messages\":", w.messages, ",\"batches\":", w.batches,
                      ",\"events\":", w.events, ",\"decode_errors\":", w.decode_errors,
                      ",\"gaps\":", w.gaps, ",\"replays\":", w.replays, ",\"resyncs\":", w.resyncs,
                      ",\"last_seq\":", w.last_seq ? absl::StrCat(*w.last_seq) : "null",
                      ",\"last_error\":", service::JsonString(w.last_error), "}");
      first = false;
    }
  }
  absl::StrAppend(&out, "],\"nodes\":[");
  first = true;
  for (const NodePeerStats& n : nodes_->Stats()) {
    absl::StrAppend(&out, first ? "" : ",", "{\"node\":", service::JsonString(n.node),
                    ",\"address\":", service::JsonString(n.address),
                    ",\"connected\":", n.connected ? "true" : "false", ",\"batches\":", n.batches,
                    ",\"events\":", n.events, ",\"snapshots\":", n.snapshots,
                    ",\"connects\":", n.connects, ",\"last_seq\":", n.last_seq,
                    ",\"last_error\":", service::JsonString(n.last_error), "}");
    first = false;
  }
  const IndexStats s = index_->Stats();
  absl::StrAppend(&out, "],\"index\":{\"blocks\":", s.blocks, ",\"entries\":", s.entries,
                  ",\"bytes\":", s.bytes, ",\"evictions\":", s.evictions,
                  ",\"holders\":", s.holders, "}}");
  service::HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(out);
  return r;
}

void RouterService::StartNodeEvents(kj::Network& network, kj::Timer& timer) {
  nodes_->Start(network, timer);
}

void RouterService::SetClusterPeers(std::vector<NodePeer> peers) {
  for (const NodePeer& p : static_peers_) {
    if (std::none_of(peers.begin(), peers.end(),
                     [&](const NodePeer& q) { return q.node == p.node; })) {
      peers.push_back(p);
    }
  }
  nodes_->SetPeers(std::move(peers));
}

void RouterService::StopNodeEvents() { nodes_->Stop(); }

void RouterService::AddRoutes(service::AdminHttpServer& http) {
  KVSTASH_CHECK(http.AddRoute(kj::HttpMethod::POST, "/v1/placement",
                              [this](const service::HttpRequest& r) { return HandlePlacement(r); })
                    .ok());
  KVSTASH_CHECK(http.AddRoute(kj::HttpMethod::GET, "/v1/workers",
                              [this](const service::HttpRequest&) { return HandleWorkers(); })
                    .ok());
}

void RouterService::Collect(service::MetricWriter& w) const {
  const IndexStats s = index_->Stats();
  w.EmitGauge("kvstash_router_blocks", "Blocks in the router's prefix index", {}, s.blocks);
  w.EmitGauge("kvstash_router_entries", "(block, holder) pairs in the prefix index", {}, s.entries);
  w.EmitGauge("kvstash_router_index_bytes", "Estimated memory of the prefix index", {}, s.bytes);
  w.EmitGauge("kvstash_router_holders", "Live holders (engine ranks and kvstash nodes)", {},
              s.holders);
  w.EmitCounter("kvstash_router_evictions_total", "Index blocks dropped for --router-max-blocks",
                {}, s.evictions);
  w.EmitCounter("kvstash_router_placements_total", "Placement answers", {}, placements_.load());
  w.EmitCounter("kvstash_router_placement_errors_total", "Rejected placement requests", {},
                placement_errors_.load());
  w.EmitCounter("kvstash_router_node_events_total", "This node's own tier changes indexed", {},
                node_events_.load());
  if (!subscriber_) return;
  for (const WorkerStats& ws : subscriber_->Stats()) {
    const service::Labels l = {{"worker", ws.worker}};
    w.EmitCounter("kvstash_router_engine_batches_total", "Engine KV-event batches received", l,
                  ws.batches);
    w.EmitCounter("kvstash_router_engine_events_total", "Engine KV events received", l, ws.events);
    w.EmitCounter("kvstash_router_engine_decode_errors_total", "Undecodable engine messages", l,
                  ws.decode_errors);
    w.EmitCounter("kvstash_router_engine_gaps_total", "Sequence gaps in engine streams", l,
                  ws.gaps);
    w.EmitCounter("kvstash_router_engine_resyncs_total", "Engine streams resynced", l, ws.resyncs);
  }
}

}  // namespace kvstash::router
