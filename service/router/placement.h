// Placement: ranks engine ranks for one request by how much of its prefix
// each already holds, how much a kvstash node could supply, and how loaded
// each is; and says which blocks to fetch from which node
// (DESIGN.md "Router and placement hints").
//
// Per candidate engine rank R, over the request's block hashes h[0..n):
//   device, host, disk  R's overlap as defined in prefix_index.h. R's own
//            kvstash node -- the node holder whose worker name equals R's
//            worker, i.e. kvstashd on the same machine -- counts as part of R:
//            its host and disk entries count as R's host and disk, and its
//            device entries (the node's GPU arena, not R's own HBM) as host.
//   remote   continuing right after R's run: consecutive blocks that some
//            kvstash node holds in any medium, up to the first block no node
//            holds. Engine ranks are never a source: their HBM is not
//            fetchable.
//   prefill  n - (device + host + disk + remote): blocks R must compute.
//   load     active_blocks + ceil(queued_prefill_tokens / block_size) from the
//            candidate entry, plus the blocks the router itself assigned to R
//            in approximate mode that have not expired.
//   cost     prefill * w.prefill + host * w.host + disk * w.disk
//            + remote * w.remote + load * w.load            (CostWeights)
// Device hits cost nothing. Ranks sort by cost ascending; ties go to more
// device overlap, then worker name, then dp_rank, so equal inputs give equal
// answers.
//
// Temperature T > 0: the first entry is sampled with probability
// proportional to exp(-(cost / max_cost) / T) over the ranked list (costs are
// divided by the largest so that T does not depend on request size; all costs
// 0 means uniform); the others follow in cost order. The sampler is seeded by
// request.seed, so an answer is reproducible.
//
// Candidates. When the request names none, every live engine rank the index
// knows is a candidate, and the answer is the best max_candidates of them. To
// stay fast it touches only the ranks found along the request's blocks (and
// ranks whose own node holds h[0]) plus the max_candidates least loaded of the
// others, taken from a small ordered set this class maintains: a rank that
// holds nothing of the prefix can only beat another such rank on load.
//
// Fetch hints, for the best rank B: over positions [0, run(B) + remote(B))
// that B does not hold in its own device medium, ranges of consecutive blocks
// that one kvstash node holds, each in one medium (the fastest the node has
// for the range's first block; the range ends where that changes). At each
// position B's own node is preferred when it holds the block (its blocks
// already counted as B's host or disk still need a fetch into HBM); otherwise
// the node with the longest range, ties by node name. Positions no node holds
// (say, only in B's own CPU tier) get no hint.
//
// Approximate mode (approximate_ttl_s > 0), for engines that publish no
// events: Record() inserts the request's blocks into the index as held in
// device by the chosen rank, and adds them to its load, both for ttl seconds
// of the injected clock.
//
// Thread safety: Place and Record may be called concurrently. Place takes the
// index's per-shard reader locks one at a time, and this class's own reader
// lock briefly (router loads, the ordered set of ranks), never two at once.
// That lock's writers are rank churn (once per change of the index's
// holders), Record, and the expiry of recorded decisions, which runs first
// thing in Place and Record once one is due.
#ifndef KVSTASH_SERVICE_ROUTER_PLACEMENT_H_
#define KVSTASH_SERVICE_ROUTER_PLACEMENT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/env.h"
#include "common/mutex.h"
#include "service/router/prefix_index.h"
#include "service/router/types.h"

namespace kvstash::router {
namespace placement_internal {
struct Walk;  // placement.cc
}  // namespace placement_internal

// Cost per block of each kind; device hits are free.
struct CostWeights {
  double prefill = 1.0;  // a block to compute
  double host = 0.05;    // copy from host memory into HBM
  double disk = 0.2;     // read from SSD
  double remote = 0.3;   // fetch from another node
  double load = 1.0;     // per active or queued block on the rank
};

struct PlacementOptions {
  CostWeights weights;
  double approximate_ttl_s = 0;  // 0: approximate mode off
  Clock* clock = nullptr;        // nullptr: SystemClock()
};

struct Candidate {
  std::string worker;
  int32_t dp_rank = 0;
  int64_t active_blocks = 0;
  int64_t queued_prefill_tokens = 0;
};

struct PlacementRequest {
  std::vector<uint64_t> hashes;       // chained block hashes, first block first
  std::vector<Candidate> candidates;  // empty: choose from the index
  uint32_t block_size = 16;           // tokens per block, for queued tokens
  double temperature = 0;             // 0: deterministic
  uint32_t max_candidates = 8;        // answer size when candidates is empty
  uint64_t seed = 0;                  // for the temperature sampler
};

struct RankScore {
  HolderId rank;
  uint32_t device = 0;
  uint32_t host = 0;
  uint32_t disk = 0;
  uint32_t remote = 0;
  uint32_t prefill = 0;
  int64_t load = 0;
  double cost = 0;
  friend bool operator==(const RankScore&, const RankScore&) = default;
};

struct FetchHint {
  HolderId node;
  Medium medium = Medium::kHost;
  uint32_t start = 0;  // index into the request's hashes
  uint32_t count = 0;
  friend bool operator==(const FetchHint&, const FetchHint&) = default;
};

struct PlacementDecision {
  std::vector<RankScore> ranked;  // best first; empty when no rank is known
  std::vector<FetchHint> fetch_hints;
};

class Placement {
 public:
  // InvalidArgument naming the field for a negative or non-finite weight or ttl.
  // `index` must outlive the Placement.
  static absl::StatusOr<std::unique_ptr<Placement>> Create(PrefixIndex* index,
                                                           PlacementOptions options);

  // InvalidArgument naming the field for a bad request.
  [[nodiscard]] absl::StatusOr<PlacementDecision> Place(const PlacementRequest& request);

  // Approximate mode: `rank` will hold `hashes` in device for ttl seconds.
  // FailedPrecondition when approximate mode is off.
  [[nodiscard]] absl::Status Record(const HolderId& rank, absl::Span<const uint64_t> hashes);

  const CostWeights& weights() const { return options_.weights; }

 private:
  struct Expiry {
    double at;
    HolderIndex rank;
    std::vector<uint64_t> hashes;
  };
  struct PoolKey {  // the ordered set of ranks: least loaded first
    int64_t load;
    std::string worker;
    int32_t dp_rank;
    HolderIndex rank;
    auto operator<=>(const PoolKey&) const = default;
  };
  Placement(PrefixIndex* index, PlacementOptions options);

  using Walk = placement_internal::Walk;

  double Now() const;
  void ExpireDue() ABSL_LOCKS_EXCLUDED(mu_);
  void SyncPool() ABSL_LOCKS_EXCLUDED(mu_);
  PoolKey KeyOf(HolderIndex rank, int64_t load) const;
  void SetLoadLocked(HolderIndex rank, int64_t delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddCandidates(const PlacementRequest& request, Walk& walk) const ABSL_LOCKS_EXCLUDED(mu_);
  void Discover(uint64_t first_hash, Walk& walk) const ABSL_LOCKS_EXCLUDED(mu_);
  void AddRouterLoads(Walk& walk) const ABSL_LOCKS_EXCLUDED(mu_);
  // Adds up to n live ranks not yet in `walk`, least loaded first.
  void AddIdle(size_t n, Walk& walk) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<RankScore> Rank(const PlacementRequest& request, Walk& walk,
                              std::vector<size_t>* order) const;

  // Constant after construction.
  PrefixIndex* const index_;
  const PlacementOptions options_;

  mutable Mutex mu_;
  // Live engine ranks ordered by (load, worker, dp_rank); pooled_ is the key
  // each is filed under. Resynced with the index when its holders change.
  absl::btree_set<PoolKey> pool_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<HolderIndex, PoolKey> pooled_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<HolderIndex, int64_t> router_load_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> pool_version_{~uint64_t{0}};
  // Approximate mode: recorded decisions, oldest first, and the latest
  // expiry per (rank, hash) so that a re-recorded block outlives the first.
  std::deque<Expiry> expiries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<HolderIndex, uint64_t>, double> expires_at_ ABSL_GUARDED_BY(mu_);
  std::atomic<double> next_expiry_{0};
};

// Exposed for tests and the reference: splitmix64 sampling in [0, 1).
double SampleUniform(uint64_t seed);

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_PLACEMENT_H_
