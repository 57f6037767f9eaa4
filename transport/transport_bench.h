// `kvstash bench transport`: block transfer throughput of the UCX transport
// between two processes, next to baselines measured in the same run
// (DESIGN.md "Performance targets": >= 80% of ucx_perftest on the same
// transport, and above Redis GET of the same blocks; printed, never asserted).
//
//   ucx_get_S_P                 this process gets S-byte blocks, `window` in
//                               flight (two batches), from a server process
//                               that allocated a `working_set` region of them
//                               through its transport (Transport::Allocate)
//                               and published address and remote key over a
//                               pipe; P is the UCX profile, tcp or shm
//                               (ucx_transport.h). Compared with redis_get_S.
//   ucx_get_S_P_hot             the same with ucx_perftest's access pattern:
//                               every get reads one block into one buffer
//                               (cache-hot). Compared with ucx_perftest.
//   ucx_perftest_ucp_get_S_P    ucx_perftest -t ucp_get -s S -O window, server
//                               and client on loopback, under the profile's
//                               UCX settings (UcxTransportOptions::Environment)
//   redis_get_S                 redis-server on loopback TCP, GET of the same
//                               blocks (same working set), pipelined `window`
//                               at a time
//
// Every case runs `repeats` times and keeps the best (a shared machine's
// speed drifts). GB/s is 1e9 bytes per second of payload.
//
// Thread safety: RunTransportBench() forks; call it from a process that can.
#ifndef KVSTASH_TRANSPORT_TRANSPORT_BENCH_H_
#define KVSTASH_TRANSPORT_TRANSPORT_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/report.h"

namespace kvstash::transport {

struct TransportBenchOptions {
  // argv prefix that starts the server process, e.g. {"/path/kvstash",
  // "bench", "transport", "--server"}; --profile and --region-bytes follow.
  std::vector<std::string> server_command;
  std::vector<std::string> profiles = {"tcp", "shm"};
  std::vector<uint64_t> block_bytes = {uint64_t{64} << 10, uint64_t{1} << 20};
  uint64_t bytes = uint64_t{512} << 20;       // moved per case and round
  uint64_t working_set = uint64_t{64} << 20;  // the server's registered region
  int window = 64;                            // transfers in flight (a 1k-token prefix)
  int repeats = 3;
  std::string ucx_perftest = "ucx_perftest";  // path or name on PATH; "" skips
  std::string redis_server = "redis-server";  // path or name on PATH; "" skips
};

struct TransportBenchReport {
  std::vector<bench::Result> results;
  std::vector<std::string> notes;  // what was measured; skipped baselines
};

absl::StatusOr<TransportBenchReport> RunTransportBench(const TransportBenchOptions& options,
                                                       std::ostream* progress);

// The server side: registers `region_bytes` of patterned host memory with a
// UCX transport of `profile`, prints "ready <address hex> <key hex> <base>"
// on stdout, and serves until stdin closes. Returns the exit code.
int RunTransportBenchServer(const std::string& profile, uint64_t region_bytes);

}  // namespace kvstash::transport

#endif  // KVSTASH_TRANSPORT_TRANSPORT_BENCH_H_
