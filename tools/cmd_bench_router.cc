// kvstash bench router: flags in, bench/router_bench.h does the work, the
// table or JSON of bench/report.h comes out (workload summary on stderr).
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "bench/report.h"
#include "bench/router_bench.h"
#include "tools/commands.h"
#include "tools/default_trace.h"
#include "tools/flags.h"

namespace kvstash::tools {
namespace {

absl::Status GetU32(const FlagSet& flags, const std::string& name, uint32_t min, uint32_t* out) {
  absl::StatusOr<uint64_t> v = flags.GetU64(name);
  if (!v.ok()) return v.status();
  if (*v < min || *v > 0xffffffffu) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, ": ", *v, " is out of range"));
  }
  *out = static_cast<uint32_t>(*v);
  return absl::OkStatus();
}

absl::StatusOr<bench::RouterBenchOptions> ParseOptions(const FlagSet& flags) {
  bench::RouterBenchOptions o;
  o.trace_path = flags.Has("trace") ? flags.Get("trace") : DefaultTracePath();
  const std::string route = flags.Get("route");
  if (route != "index" && route != "hash" && route != "random") {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --route: expected index, hash or random, got '", route, "'"));
  }
  o.route_by_index = route == "index";
  // --scale small: a seconds-long smoke run, unless the other flags say otherwise.
  const bool small = flags.Get("scale") == "small";
  if (small) {
    o.scale = 1;
    o.requests = 400;
    o.workers = 64;
  }
  for (absl::Status s :
       {small ? absl::OkStatus() : GetU32(flags, "scale", 1, &o.scale),
        !flags.Has("workers") && small ? absl::OkStatus() : GetU32(flags, "workers", 1, &o.workers),
        GetU32(flags, "dp-ranks", 1, &o.dp_ranks), GetU32(flags, "rank-blocks", 1, &o.rank_blocks),
        GetU32(flags, "node-blocks", 0, &o.node_blocks),
        GetU32(flags, "stored-chunk", 1, &o.stored_chunk)}) {
    if (!s.ok()) return s;
  }
  if (flags.Has("requests") || !small) {
    absl::StatusOr<uint64_t> requests = flags.GetU64("requests");
    if (!requests.ok()) return requests.status();
    o.requests = *requests;
  }
  absl::StatusOr<uint64_t> seed = flags.GetU64("seed");
  if (!seed.ok()) return seed.status();
  o.seed = *seed;
  return o;
}

}  // namespace

int RunBenchRouter(const Args& args) {
  const bench::RouterBenchOptions d;
  FlagSet flags("kvstash bench router [flags]",
                "The router's prefix index and placement scorer on a Mooncake trace spread over\n"
                "workers x dp ranks: index events/s and placement p50/p99 latency on one core,\n"
                "memory per indexed block, each next to a naive unordered_map in the same run.");
  flags.Bool("json", "print one JSON object instead of a table");
  flags.String("trace",
               absl::StrCat("Mooncake-format JSONL trace (default: ", DefaultTracePath(), ")"),
               std::nullopt, /*optional=*/true);
  flags.String("scale", "trace replicas with distinct hash salts, or 'small' for a smoke run",
               absl::StrCat(d.scale));
  flags.String("requests", "trace lines to read (0: all)", "0");
  flags.String("workers", "workers (machines)", absl::StrCat(d.workers));
  flags.String("dp-ranks", "engine dp ranks per worker", absl::StrCat(d.dp_ranks));
  flags.String("rank-blocks", "device LRU capacity per rank, in blocks",
               absl::StrCat(d.rank_blocks));
  flags.String("node-blocks", "host LRU capacity of each worker's kvstash node (0: no nodes)",
               absl::StrCat(d.node_blocks));
  flags.String("stored-chunk", "block hashes per BlockStored event", absl::StrCat(d.stored_chunk));
  flags.String("route",
               "index (route with the placement answer), or hash / random (a hash of the first "
               "block: random placement that keeps equal prefixes together)",
               "index");
  flags.String("seed", "seed of the engine model", absl::StrCat(d.seed));
  if (const int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  absl::StatusOr<bench::RouterBenchOptions> options = ParseOptions(flags);
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<bench::RouterBenchReport> r = bench::RunRouterBench(*options, &std::cerr);
  if (!r.ok()) {
    std::cerr << "error: " << r.status().message() << "\n";
    return r.status().code() == absl::StatusCode::kNotFound ? 2 : 1;
  }
  std::cerr << "router bench: " << r->requests << " requests, " << r->batches << " batches, "
            << r->events << " events (" << r->removed_events << " removed), " << r->block_ops
            << " block ops; index holds " << r->indexed_blocks << " blocks of " << r->holders
            << " holders\n";
  bench::PrintReport(r->results, {}, flags.GetBool("json"));
  return 0;
}

}  // namespace kvstash::tools
