// `kvstash bench service`: put/get throughput of a kvstashd as local engines
// see it, next to the same work done in-process and by Redis, all measured
// in the same run (DESIGN.md "Performance targets"; targets are printed,
// never asserted).
//
//   service_{put,get}_S_Nproc    N client processes, each with its own
//                                libkvstash connection over the daemon's Unix
//                                socket, put then get distinct blocks of S
//                                bytes of NVFP4 payload, one block per call
//   redis_{set,get}_S_Nproc      the same processes doing SET/GET of the same
//                                bytes on a redis-server on loopback TCP
//   inprocess_{put,get}_S        tiers::TierManager over a host tier, called
//                                directly by one thread
//
// The bench starts its own kvstashd (temp data dir, host tier sized for one
// case, disk tier 0, so only the memory path is measured) and its own
// redis-server (no persistence), and kills both at the end. Blocks are put
// and got in NVFP4, the storage format, so no conversion runs on either
// side; the geometry is 1 layer x K/V x 1 head x 128 dims x T tokens with T
// chosen to come closest to S bytes (NVFP4 is 9/16 byte per value, so a
// payload of exactly 2^k bytes does not exist). GB/s counts payload bytes.
//
// Workers are processes (`kvstash bench service --worker ...`), started
// together and released phase by phase over a pipe; a phase's figure is the
// bytes of all workers over the span from the first start to the last end
// (CLOCK_MONOTONIC is shared by every process). After each case the workers
// erase their keys (untimed), so every case starts from the same state.
// Every case runs `repeats` times, alternating with its Redis twin, and the
// best round is kept, since a shared machine's speed drifts.
//
//   service_getview_S_Nproc      as service_get, through Client::GetViews:
//                                blocks in the host tier are read in place
//                                from the daemon's shared memfd arena (where
//                                the connection passes fds), then copied once
//                                into the worker's buffer
//
// Thread safety: RunServiceBench() forks; call it from a process that can.
#ifndef KVSTASH_BENCH_SERVICE_BENCH_H_
#define KVSTASH_BENCH_SERVICE_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/report.h"

namespace kvstash::bench {

struct ServiceBenchOptions {
  // argv prefix that starts a worker, e.g. {"/path/kvstash", "bench",
  // "service", "--worker"}; the worker's own flags are appended.
  std::vector<std::string> worker_command;
  std::string kvstashd;                       // path of the daemon binary
  std::string redis_server = "redis-server";  // path or name on PATH; "" skips Redis
  std::string dir;                            // parent of the scratch dir ("" : $TMPDIR or /tmp)
  std::vector<uint64_t> block_bytes = {uint64_t{1} << 20, uint64_t{64} << 10};
  std::vector<int> processes = {1, 8};
  uint64_t bytes = uint64_t{256} << 20;  // payload bytes put (and got) per case, all workers
  int repeats = 3;  // rounds of every case, kvstash and Redis alternating; best kept
  // Blocks per call: an engine fetches a request's cached prefix in one batch
  // (16 blocks of 16 tokens = a 256-token prefix); Redis gets the same batch
  // as one pipeline, so both pay one round trip per batch.
  size_t batch = 16;
};

// What a run printed besides numbers: the path measured, payload geometry,
// skipped baselines. One line each.
struct ServiceBenchReport {
  std::vector<Result> results;
  std::vector<std::string> notes;
};

// Runs every case; progress lines go to `progress` (may be null).
absl::StatusOr<ServiceBenchReport> RunServiceBench(const ServiceBenchOptions& options,
                                                   std::ostream* progress);

// The worker side: one client process.
struct ServiceWorkerOptions {
  enum class Target { kKvstash, kRedis };
  Target target = Target::kKvstash;
  std::string address;  // kvstashd socket path, or redis host:port
  uint64_t block_bytes = 0;
  uint64_t blocks = 0;    // how many distinct blocks this worker puts and gets
  uint64_t key_base = 0;  // keys are key_base + [0, blocks)
  size_t batch = 1;       // blocks per call (kvstash batch; Redis pipeline)
};

// Speaks the phase protocol on stdin/stdout (service_bench.cc): connects,
// says "ready", then for each command line "put", "get", "getview", "erase"
// runs the phase and answers "<phase> <ops> <bytes> <t0> <t1> <zero-copy
// ops>" (or "error <message>"); ends at EOF. Returns the exit code.
int RunServiceWorker(const ServiceWorkerOptions& options);

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_SERVICE_BENCH_H_
