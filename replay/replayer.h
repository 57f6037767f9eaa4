// `kvstash replay`: a request trace (trace.h) replayed by timestamp through
// one or more nodes' caches (node_cache.h), as engines behind a
// load balancer would use kvstash. For each request, at its timestamp:
//
//   1. The node serving it (requests go round-robin over the nodes, as a
//      load balancer without a KV-aware router sends them) looks up the
//      longest cached prefix of its blocks: local tiers first; with several
//      in-process nodes, blocks past the local prefix are asked of their
//      owners (rendezvous hashing over the nodes, `replicas` each, as
//      service/remote does), and the prefix goes on while an owner holds the
//      next block.
//   2. Hits are read: local ones from their tier (refreshing LRU, promoting),
//      remote ones from the owner, then stored locally (a pull lands in the
//      puller's tiers, as kvstashd does).
//   3. The rest are "computed" and stored locally, and pushed to their
//      owners (every put is shared in cluster mode).
//
// Hit tokens: a request's blocks cover block_tokens tokens each, the last
// one the remainder of input_length; a hit counts its block's tokens.
// TTFT per request follows cost_model.h. Everything is deterministic: the
// LRU clock is the trace's timestamp (a FakeClock), ties break by order.
//
// Thread safety: Replay() is a pure function of its inputs, one thread.
#ifndef KVSTASH_REPLAY_REPLAYER_H_
#define KVSTASH_REPLAY_REPLAYER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replay/cost_model.h"
#include "replay/node_cache.h"
#include "replay/trace.h"

namespace kvstash::replay {

enum class Mode : uint8_t { kSized = 0, kMaterialized = 1, kConnect = 2 };
const char* ModeName(Mode m);

struct ReplayOptions {
  CacheOptions cache;  // per node; cache.profile's block_tokens must match the trace
  Mode mode = Mode::kSized;
  int nodes = 1;                            // in-process nodes (kSized, kMaterialized)
  int replicas = 1;                         // owners per block when nodes > 1
  std::vector<std::string> connect;         // kConnect: daemons, requests round-robin over them
  uint64_t key_namespace = 0x7265706c6179;  // "replay"
  CostModel cost;
  // Called every `progress_every` requests and at the end.
  std::function<void(size_t done, size_t total)> progress;
  size_t progress_every = 500;
};

struct SourceFigures {
  uint64_t hit_blocks = 0;
  uint64_t hit_tokens = 0;
  uint64_t bytes = 0;       // serialised bytes read from there
  double read_seconds = 0;  // measured (materialized, connect); 0 when size-only
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
};

struct ReplayReport {
  std::string profile;
  std::string format;
  std::string mode;
  uint32_t block_tokens = 0;
  uint64_t block_bytes = 0;  // serialised bytes of one stored block
  int nodes = 1;
  int replicas = 1;

  uint64_t requests = 0;
  uint64_t prompt_tokens = 0, hit_tokens = 0;
  uint64_t blocks = 0, hit_blocks = 0, computed_blocks = 0;
  std::array<SourceFigures, kSources> sources{};  // by Source
  std::vector<TierFigures> tiers;                 // summed over nodes, by name
  uint64_t capacity_tokens = 0;                   // tokens the budget holds (all tiers, all nodes)
  Percentiles ttft_ms;                            // with the cache
  Percentiles no_cache_ttft_ms;                   // every token computed
  double wall_seconds = 0;

  double token_hit_rate() const {
    return prompt_tokens ? static_cast<double>(hit_tokens) / prompt_tokens : 0;
  }
  double block_hit_rate() const { return blocks ? static_cast<double>(hit_blocks) / blocks : 0; }
  uint64_t local_hit_blocks() const {
    return sources[0].hit_blocks + sources[1].hit_blocks + sources[2].hit_blocks;
  }
};

absl::StatusOr<ReplayReport> Replay(const Trace& trace, const ReplayOptions& options);

// Nearest-rank percentiles and the mean; zeros for an empty input.
Percentiles Summarize(std::vector<double> values);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_REPLAYER_H_
