#include "service/router/placement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::router {
namespace placement_internal {

// The state of one Place(): the candidates and what the walk over the
// request's blocks saw.
struct Walk {
  struct Cand {
    HolderId id;
    std::optional<HolderIndex> rank;  // nullopt: unknown to the index
    std::optional<HolderIndex> node;  // its own kvstash node, if live
    int64_t load = 0;
    uint32_t counts[kMediumCount] = {};  // device, host, disk
    uint32_t run = 0;                    // = sum of counts
    std::vector<uint8_t> device_at;      // per run position: R itself has it in HBM
    uint8_t rank_media = 0;              // scratch for the current block
    uint8_t node_media = 0;
  };
  struct NodeHit {
    uint32_t pos;
    HolderIndex node;
    uint8_t media;
  };
  std::vector<Cand> cands;
  absl::flat_hash_map<HolderIndex, uint32_t> by_rank;               // rank -> cand
  absl::flat_hash_map<HolderIndex, std::vector<uint32_t>> by_node;  // own node -> cands
  std::vector<uint8_t> node_present;  // per walked block: some node holds it
  std::vector<NodeHit> node_hits;     // in position order

  void Add(Cand c) {
    const uint32_t i = static_cast<uint32_t>(cands.size());
    if (c.rank) by_rank[*c.rank] = i;
    if (c.node) by_node[*c.node].push_back(i);
    cands.push_back(std::move(c));
  }
  // Consecutive node-held blocks from `start`.
  uint32_t NodeRun(uint32_t start) const {
    uint32_t k = 0;
    while (start + k < node_present.size() && node_present[start + k]) ++k;
    return k;
  }
};

}  // namespace placement_internal

namespace {

using placement_internal::Walk;

constexpr size_t kMaxHashes = size_t{1} << 20;

absl::Status CheckWeight(const char* name, double w) {
  if (std::isfinite(w) && w >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", w, " is not a finite number >= 0"));
}

absl::Status ValidateRequest(const PlacementRequest& r) {
  if (r.hashes.size() > kMaxHashes) {
    return absl::InvalidArgumentError(
        absl::StrCat("hashes: ", r.hashes.size(), " blocks, at most ", kMaxHashes));
  }
  if (r.block_size == 0) return absl::InvalidArgumentError("block_size: must be >= 1");
  if (!std::isfinite(r.temperature) || r.temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature: ", r.temperature, " is not a finite number >= 0"));
  }
  if (r.max_candidates == 0) return absl::InvalidArgumentError("max_candidates: must be >= 1");
  absl::flat_hash_map<std::pair<std::string, int32_t>, size_t> seen;
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const Candidate& c = r.candidates[i];
    const std::string at = absl::StrCat("candidates[", i, "].");
    if (c.worker.empty()) return absl::InvalidArgumentError(at + "worker: empty");
    if (c.dp_rank < 0) {
      return absl::InvalidArgumentError(absl::StrCat(at, "dp_rank: ", c.dp_rank, " < 0"));
    }
    if (c.active_blocks < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "active_blocks: ", c.active_blocks, " < 0"));
    }
    if (c.queued_prefill_tokens < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "queued_prefill_tokens: ", c.queued_prefill_tokens, " < 0"));
    }
    if (auto [it, fresh] = seen.try_emplace({c.worker, c.dp_rank}, i); !fresh) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "worker: duplicate of candidates[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

int64_t CeilDiv(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

// Counts block `i` for every live candidate, or ends its run.
void Advance(Walk& w, std::vector<uint32_t>& alive) {
  constexpr uint8_t kDev = MediumBit(Medium::kDevice), kHost = MediumBit(Medium::kHost);
  size_t kept = 0;
  for (uint32_t c : alive) {
    Walk::Cand& cand = w.cands[c];
    const uint8_t r = cand.rank_media, n = cand.node_media;
    cand.rank_media = cand.node_media = 0;
    if (r == 0 && n == 0) continue;  // run ends here
    // The own node's GPU arena is not R's HBM: it counts as host.
    const int bucket = (r & kDev) ? 0 : ((r & kHost) || (n & (kDev | kHost))) ? 1 : 2;
    ++cand.counts[bucket];
    ++cand.run;
    cand.device_at.push_back((r & kDev) ? 1 : 0);
    alive[kept++] = c;
  }
  alive.resize(kept);
}

// One pass over the request's blocks, stopping once every run has ended and
// the node-held stretch after the last of them has too.
void RunWalk(const PrefixIndex& index, absl::Span<const uint64_t> hashes, Walk& w) {
  std::vector<uint32_t> alive;
  for (uint32_t c = 0; c < w.cands.size(); ++c) {
    if (w.cands[c].rank || w.cands[c].node) alive.push_back(c);
  }
  for (uint32_t i = 0; i < hashes.size(); ++i) {
    bool any_node = false;
    index.ForEachHolder(hashes[i], [&](const HolderHit& hit) {
      if (hit.node) {
        any_node = true;
        w.node_hits.push_back({i, hit.holder, hit.media});
        if (auto it = w.by_node.find(hit.holder); it != w.by_node.end()) {
          for (uint32_t c : it->second) w.cands[c].node_media = hit.media;
        }
      } else if (auto it = w.by_rank.find(hit.holder); it != w.by_rank.end()) {
        w.cands[it->second].rank_media = hit.media;
      }
    });
    w.node_present.push_back(any_node ? 1 : 0);
    Advance(w, alive);
    if (alive.empty() && !any_node) break;
  }
}

bool Better(const RankScore& a, const RankScore& b) {
  if (a.cost != b.cost) return a.cost < b.cost;
  if (a.device != b.device) return a.device > b.device;
  if (a.rank.worker != b.rank.worker) return a.rank.worker < b.rank.worker;
  return a.rank.dp_rank < b.rank.dp_rank;
}

// Moves a sampled entry to the front; see placement.h.
void SampleFirst(const PlacementRequest& request, std::vector<RankScore>& ranked,
                 std::vector<size_t>& order) {
  if (request.temperature <= 0 || ranked.size() < 2) return;
  double max_cost = 0;
  for (const RankScore& r : ranked) max_cost = std::max(max_cost, r.cost);
  const double scale = max_cost > 0 ? 1 / max_cost : 0;
  // ranked[0] has the least cost: subtracting it keeps exp() in range.
  std::vector<double> weight(ranked.size());
  double total = 0;
  for (size_t i = 0; i < ranked.size(); ++i) {
    weight[i] = std::exp(-(ranked[i].cost - ranked[0].cost) * scale / request.temperature);
    total += weight[i];
  }
  double u = SampleUniform(request.seed) * total;
  size_t pick = ranked.size() - 1;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (u < weight[i]) {
      pick = i;
      break;
    }
    u -= weight[i];
  }
  std::rotate(ranked.begin(), ranked.begin() + pick, ranked.begin() + pick + 1);
  std::rotate(order.begin(), order.begin() + pick, order.begin() + pick + 1);
}

uint8_t NodeMediaAt(const Walk& w, const std::vector<uint32_t>& first, uint32_t pos,
                    HolderIndex node) {
  for (uint32_t k = first[pos]; k < first[pos + 1]; ++k) {
    if (w.node_hits[k].node == node) return w.node_hits[k].media;
  }
  return 0;
}

std::vector<FetchHint> Hints(const PrefixIndex& index, const Walk& w, const Walk::Cand& best) {
  const uint32_t end = best.run + w.NodeRun(best.run);
  std::vector<uint32_t> first(end + 1, 0);  // node_hits of position p: [first[p], first[p+1])
  for (uint32_t p = 0, k = 0; p <= end; ++p) {
    while (k < w.node_hits.size() && w.node_hits[k].pos < p) ++k;
    first[p] = k;
  }
  auto wanted = [&](uint32_t p) { return p >= best.run || !best.device_at[p]; };
  auto run_of = [&](HolderIndex node, uint32_t p, Medium m) {
    uint32_t k = 1;
    for (; p + k < end && wanted(p + k); ++k) {
      const uint8_t media = NodeMediaAt(w, first, p + k, node);
      if (media == 0 || FastestMedium(media) != m) break;
    }
    return k;
  };
  std::vector<FetchHint> hints;
  for (uint32_t p = 0; p < end;) {
    if (!wanted(p) || first[p] == first[p + 1]) {
      ++p;
      continue;
    }
    HolderIndex pick = w.node_hits[first[p]].node;
    uint32_t pick_len = 0;
    if (best.node && NodeMediaAt(w, first, p, *best.node) != 0) {
      pick = *best.node;
      pick_len = run_of(pick, p, FastestMedium(NodeMediaAt(w, first, p, pick)));
    } else {
      for (uint32_t k = first[p]; k < first[p + 1]; ++k) {
        const Walk::NodeHit& hit = w.node_hits[k];
        const uint32_t len = run_of(hit.node, p, FastestMedium(hit.media));
        if (len > pick_len ||
            (len == pick_len && index.Id(hit.node).worker < index.Id(pick).worker)) {
          pick = hit.node;
          pick_len = len;
        }
      }
    }
    hints.push_back({index.Id(pick), FastestMedium(NodeMediaAt(w, first, p, pick)), p, pick_len});
    p += pick_len;
  }
  return hints;
}

}  // namespace

double SampleUniform(uint64_t seed) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

absl::StatusOr<std::unique_ptr<Placement>> Placement::Create(PrefixIndex* index,
                                                             PlacementOptions options) {
  KVSTASH_CHECK(index != nullptr);
  const CostWeights& w = options.weights;
  for (absl::Status s :
       {CheckWeight("weights.prefill", w.prefill), CheckWeight("weights.host", w.host),
        CheckWeight("weights.disk", w.disk), CheckWeight("weights.remote", w.remote),
        CheckWeight("weights.load", w.load),
        CheckWeight("approximate_ttl_s", options.approximate_ttl_s)}) {
    if (!s.ok()) return s;
  }
  if (options.clock == nullptr) options.clock = SystemClock();
  return std::unique_ptr<Placement>(new Placement(index, options));
}

Placement::Placement(PrefixIndex* index, PlacementOptions options)
    : index_(index), options_(options) {
  next_expiry_.store(std::numeric_limits<double>::infinity());
}

double Placement::Now() const { return static_cast<double>(options_.clock->NowNanos()) * 1e-9; }

// ------------------------------------------------------------ the rank pool --

Placement::PoolKey Placement::KeyOf(HolderIndex rank, int64_t load) const {
  const HolderId& id = index_->Id(rank);
  // With no load weight every idle rank costs the same: order by name only.
  return {options_.weights.load > 0 ? load : 0, id.worker, id.dp_rank, rank};
}

void Placement::SyncPool() {
  const uint64_t version = index_->holders_version();
  if (pool_version_.load(std::memory_order_acquire) == version) return;
  const std::vector<HolderIndex> ranks = index_->LiveEngineRanks();
  MutexLock l(&mu_);
  for (auto it = pooled_.begin(); it != pooled_.end();) {
    if (index_->IsLive(it->first)) {
      ++it;
      continue;
    }
    pool_.erase(it->second);
    pooled_.erase(it++);
  }
  for (HolderIndex r : ranks) {
    if (pooled_.contains(r)) continue;
    auto load = router_load_.find(r);
    const PoolKey key = KeyOf(r, load == router_load_.end() ? 0 : load->second);
    pool_.insert(key);
    pooled_.emplace(r, key);
  }
  pool_version_.store(version, std::memory_order_release);
}

void Placement::SetLoadLocked(HolderIndex rank, int64_t delta) {
  int64_t& load = router_load_[rank];
  load += delta;
  const int64_t now = load;
  if (now == 0) router_load_.erase(rank);
  if (auto it = pooled_.find(rank); it != pooled_.end()) {
    pool_.erase(it->second);
    it->second = KeyOf(rank, now);
    pool_.insert(it->second);
  }
}

// ----------------------------------------------------------- approximate mode --

absl::Status Placement::Record(const HolderId& rank, absl::Span<const uint64_t> hashes) {
  if (options_.approximate_ttl_s <= 0) {
    return absl::FailedPreconditionError("approximate_ttl_s: approximate mode is off");
  }
  if (rank.dp_rank < 0) {
    return absl::InvalidArgumentError(absl::StrCat("rank.dp_rank: ", rank.dp_rank, " < 0"));
  }
  ExpireDue();
  EventBatch batch{rank, 0, 0, {KvEvent{}}};
  batch.events[0].block_hashes.assign(hashes.begin(), hashes.end());
  batch.events[0].medium = Medium::kDevice;
  if (absl::Status s = index_->Apply(batch); !s.ok()) return s;
  const std::optional<HolderIndex> h = index_->Find(rank);
  if (!h) return absl::OkStatus();  // removed concurrently
  const double at = Now() + options_.approximate_ttl_s;
  MutexLock l(&mu_);
  for (uint64_t hash : hashes) expires_at_[{*h, hash}] = at;
  SetLoadLocked(*h, static_cast<int64_t>(hashes.size()));
  expiries_.push_back({at, *h, std::move(batch.events[0].block_hashes)});
  next_expiry_.store(expiries_.front().at, std::memory_order_release);
  return absl::OkStatus();
}

void Placement::ExpireDue() {
  const double now = Now();
  if (now < next_expiry_.load(std::memory_order_acquire)) return;
  MutexLock l(&mu_);
  while (!expiries_.empty() && expiries_.front().at <= now) {
    Expiry e = std::move(expiries_.front());
    expiries_.pop_front();
    SetLoadLocked(e.rank, -static_cast<int64_t>(e.hashes.size()));
    KvEvent removed{KvEvent::Kind::kRemoved, {}, std::nullopt, Medium::kDevice};
    for (uint64_t hash : e.hashes) {
      auto it = expires_at_.find({e.rank, hash});
      if (it == expires_at_.end() || it->second > now) continue;  // recorded again since
      expires_at_.erase(it);
      removed.block_hashes.push_back(hash);
    }
    // Under mu_ so that a concurrent Record of the same block cannot be undone.
    if (index_->IsLive(e.rank) && !removed.block_hashes.empty()) {
      const absl::Status s = index_->Apply({index_->Id(e.rank), 0, 0, {std::move(removed)}});
      KVSTASH_CHECK(s.ok());
    }
  }
  next_expiry_.store(
      expiries_.empty() ? std::numeric_limits<double>::infinity() : expiries_.front().at,
      std::memory_order_release);
}

// -------------------------------------------------------------------- query --

void Placement::AddCandidates(const PlacementRequest& request, Walk& w) const {
  for (const Candidate& c : request.candidates) {
    Walk::Cand cand;
    cand.id = {c.worker, c.dp_rank};
    cand.rank = index_->Find(cand.id);
    cand.node = index_->Find({c.worker, kNodeRank});
    cand.load = c.active_blocks + CeilDiv(c.queued_prefill_tokens, request.block_size);
    w.Add(std::move(cand));
  }
  AddRouterLoads(w);
}

// Ranks that hold the first block, or whose own node does.
void Placement::Discover(uint64_t first_hash, Walk& w) const {
  std::vector<HolderIndex> ranks, nodes;
  index_->ForEachHolder(
      first_hash, [&](const HolderHit& hit) { (hit.node ? nodes : ranks).push_back(hit.holder); });
  for (HolderIndex node : nodes) {
    for (HolderIndex r : index_->LiveRanksOfWorker(index_->Id(node).worker)) ranks.push_back(r);
  }
  for (HolderIndex r : ranks) {
    if (w.by_rank.contains(r)) continue;
    Walk::Cand cand;
    cand.id = index_->Id(r);
    cand.rank = r;
    cand.node = index_->Find({cand.id.worker, kNodeRank});
    w.Add(std::move(cand));
  }
  AddRouterLoads(w);
}

// Not under the index's locks: holding two locks at once would also cost
// Abseil's deadlock detector a graph update per query.
void Placement::AddRouterLoads(Walk& w) const {
  ReaderMutexLock l(&mu_);
  if (router_load_.empty()) return;
  for (Walk::Cand& c : w.cands) {
    if (!c.rank) continue;
    if (auto it = router_load_.find(*c.rank); it != router_load_.end()) c.load += it->second;
  }
}

void Placement::AddIdle(size_t n, Walk& w) const {
  ReaderMutexLock l(&mu_);
  size_t added = 0;
  for (auto it = pool_.begin(); it != pool_.end() && added < n; ++it) {
    if (w.by_rank.contains(it->rank) || !index_->IsLive(it->rank)) continue;
    Walk::Cand cand;
    cand.id = index_->Id(it->rank);
    cand.rank = it->rank;
    // Its own node may still hold later blocks: fetch hints prefer it.
    cand.node = index_->Find({cand.id.worker, kNodeRank});
    if (auto load = router_load_.find(it->rank); load != router_load_.end()) {
      cand.load = load->second;
    }
    w.Add(std::move(cand));  // holds nothing of the prefix: its run is 0
    ++added;
  }
}

std::vector<RankScore> Placement::Rank(const PlacementRequest& request, Walk& w,
                                       std::vector<size_t>* order) const {
  const CostWeights& wt = options_.weights;
  const uint32_t n = static_cast<uint32_t>(request.hashes.size());
  std::vector<RankScore> ranked;
  for (const Walk::Cand& c : w.cands) {
    RankScore s{c.id, c.counts[0], c.counts[1], c.counts[2], w.NodeRun(c.run), 0, c.load, 0};
    s.prefill = n - (s.device + s.host + s.disk + s.remote);
    s.cost = s.prefill * wt.prefill + s.host * wt.host + s.disk * wt.disk + s.remote * wt.remote +
             static_cast<double>(s.load) * wt.load;
    ranked.push_back(std::move(s));
  }
  order->resize(ranked.size());
  for (size_t i = 0; i < order->size(); ++i) (*order)[i] = i;
  std::sort(order->begin(), order->end(),
            [&](size_t a, size_t b) { return Better(ranked[a], ranked[b]); });
  std::vector<RankScore> sorted;
  sorted.reserve(ranked.size());
  for (size_t i : *order) sorted.push_back(std::move(ranked[i]));
  return sorted;
}

absl::StatusOr<PlacementDecision> Placement::Place(const PlacementRequest& request) {
  if (absl::Status s = ValidateRequest(request); !s.ok()) return s;
  ExpireDue();
  Walk w;
  const bool choose = request.candidates.empty();
  if (choose) {
    SyncPool();
    if (!request.hashes.empty()) Discover(request.hashes[0], w);
  } else {
    AddCandidates(request, w);
  }
  RunWalk(*index_, request.hashes, w);
  if (choose) AddIdle(request.max_candidates, w);

  PlacementDecision d;
  std::vector<size_t> order;
  d.ranked = Rank(request, w, &order);
  if (choose && d.ranked.size() > request.max_candidates) {
    d.ranked.resize(request.max_candidates);
    order.resize(request.max_candidates);
  }
  SampleFirst(request, d.ranked, order);
  if (!d.ranked.empty()) d.fetch_hints = Hints(*index_, w, w.cands[order[0]]);
  return d;
}

}  // namespace kvstash::router
