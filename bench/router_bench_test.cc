// Smoke test of `kvstash bench router` (router_bench.h) on a slice of the
// Mooncake trace: rows are checked for shape, never for speed.
#include "bench/router_bench.h"

#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kvstash::bench {
namespace {

RouterBenchOptions Small() {
  RouterBenchOptions o;
  o.trace_path = KVSTASH_MOONCAKE_TRACE;
  o.workers = 16;
  o.dp_ranks = 2;
  o.rank_blocks = 64;  // small enough that ranks and nodes evict
  o.node_blocks = 128;
  o.scale = 2;
  o.requests = 150;
  return o;
}

TEST(RouterBenchTest, RowsAreWellFormedAndPositive) {
  std::ostringstream progress;
  absl::StatusOr<RouterBenchReport> r = RunRouterBench(Small(), &progress);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requests, 300u);
  EXPECT_GT(r->events, r->batches);
  EXPECT_GT(r->removed_events, 0u);
  EXPECT_GT(r->block_ops, r->events / 2);
  EXPECT_GT(r->indexed_blocks, 0u);
  EXPECT_EQ(r->holders, 16u * 2 + 16);  // every rank and node published something
  std::set<std::string> names;
  for (const Result& row : r->results) {
    SCOPED_TRACE(row.name);
    names.insert(row.name);
    // RSS growth can be 0 or less at this size (freed pages are reused), and
    // malloc statistics are 0 under sanitizers' allocators.
    const bool process_memory = row.name.find("rss") != std::string::npos ||
                                row.baseline_name.find("heap") != std::string::npos;
    if (!process_memory) {
      EXPECT_GT(row.value, 0);
      EXPECT_GT(row.baseline, 0);
    }
    if (row.name == "router_index_bytes_per_block") {
      EXPECT_GT(row.value, 0);
    }
    EXPECT_FALSE(row.baseline_name.empty());
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"router_apply_events", "router_apply_blocks", "router_place_p50",
                                   "router_place_p99", "router_index_bytes_per_block",
                                   "router_heap_per_block", "router_rss_per_block"}));
  EXPECT_TRUE(absl::StrContains(progress.str(), "300 requests"));
  std::ostringstream json;
  PrintJson(r->results, json);
  EXPECT_TRUE(absl::StartsWith(json.str(), "{\"machine\": ")) << json.str();
  EXPECT_TRUE(absl::StrContains(json.str(), "\"baseline_name\": \"unordered_map apply\""));
}

TEST(RouterBenchTest, HashRoutingAndNoNodesWork) {
  RouterBenchOptions o = Small();
  o.route_by_index = false;
  o.node_blocks = 0;
  absl::StatusOr<RouterBenchReport> r = RunRouterBench(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(r->holders, 32u);
}

TEST(RouterBenchTest, MissingTraceIsNotFound) {
  RouterBenchOptions o = Small();
  o.trace_path = "/nonexistent/trace.jsonl";
  EXPECT_EQ(RunRouterBench(o, nullptr).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvstash::bench
