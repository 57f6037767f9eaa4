// `kvstash bench router`: the router's prefix index and placement scorer
// driven by a Mooncake-format trace (DESIGN.md "Performance targets":
// >= 1M index events/s and p99 query < 100 us at 1k workers x 1M blocks on
// one core).
//
// 1. Record (untimed). Requests of the trace, replicated `scale` times with
//    distinct salts (each replica's hash_ids become different hashes, as if
//    from another tenant; replicas interleave request by request), are routed
//    over workers x dp_ranks engine ranks. An engine model produces the KV
//    events: the chosen rank "computes" the blocks missing from its LRU
//    (rank_blocks) and publishes BlockStored for them (stored_chunk hashes per
//    event, as a chunked prefill does) and BlockRemoved (one hash each, as
//    vLLM does) for what its LRU evicts. An evicted block spills to the
//    worker's kvstash node (host medium, LRU of node_blocks; 0 = no nodes),
//    which publishes its own stored/removed events.
//    Routing (--route index): the index answers without candidates, then
//    again with those ranks plus two random ones as candidates carrying the
//    engine model's load; the first answer wins. --route hash: a hash of the
//    request's first block picks the rank.
//    Hashes: Mooncake hash_ids already name a block *with its prefix* (equal
//    ids mean equal prefixes), so a block's u64 hash is a bijective mix of
//    (replica salt, id) -- no re-chaining is needed.
// 2. Apply (timed). The recorded batches are applied to a fresh PrefixIndex
//    (default options) on one thread: events/s and blocks/s per second of
//    that thread's CPU time, so that other processes on a shared machine do
//    not count. Baseline, same stream, same thread: a naive
//    std::unordered_map<uint64_t, std::vector<holder>> loop.
// 3. Query (timed). One placement query (no candidates) per request of the
//    trace against the final index: p50/p99 wall-clock latency from the
//    sorted per-query times. Baseline: a naive per-holder overlap walk over
//    the unordered_map.
// 4. Memory per indexed block: the index's own estimate (Stats().bytes), the
//    heap it allocated (mallinfo2) and the RSS growth over applying the
//    stream; the baseline's heap and RSS the same way.
#ifndef KVSTASH_BENCH_ROUTER_BENCH_H_
#define KVSTASH_BENCH_ROUTER_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/report.h"

namespace kvstash::bench {

struct RouterBenchOptions {
  std::string trace_path;  // Mooncake JSONL: {"hash_ids": [...], ...} per line
  uint32_t workers = 1000;
  uint32_t dp_ranks = 4;
  // Device LRU capacity per rank, in blocks. 256 Mooncake blocks (512 tokens)
  // are 16 GiB of Llama-3.1-8B bf16 KV: the cluster's HBM (1M blocks) is
  // smaller than the working set, so the run reaches the steady state of a
  // real cluster, where every store is paid for by evictions.
  uint32_t rank_blocks = 256;
  uint32_t node_blocks = 1024;  // host LRU capacity per kvstash node (0: no nodes)
  uint32_t scale = 24;          // trace replicas with distinct salts
  uint64_t requests = 0;        // trace lines to read (0: all)
  uint32_t stored_chunk = 16;   // hashes per BlockStored event
  bool route_by_index = true;   // false: --route hash
  uint64_t seed = 1;
};

// Everything measured, for tests and for callers that print more than the table.
struct RouterBenchReport {
  std::vector<Result> results;
  uint64_t requests = 0;  // routed, all replicas
  uint64_t batches = 0;
  uint64_t events = 0;
  uint64_t removed_events = 0;
  uint64_t block_ops = 0;  // hashes over all events
  uint64_t indexed_blocks = 0;
  uint64_t holders = 0;
};

// Progress goes to `progress` when it is not null.
absl::StatusOr<RouterBenchReport> RunRouterBench(const RouterBenchOptions& options,
                                                 std::ostream* progress);

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_ROUTER_BENCH_H_
