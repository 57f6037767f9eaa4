// Pieces shared by transport_bench.cc (the UCX cases and the report) and
// transport_bench_baselines.cc (ucx_perftest and Redis).
#ifndef KVSTASH_TRANSPORT_TRANSPORT_BENCH_INTERNAL_H_
#define KVSTASH_TRANSPORT_TRANSPORT_BENCH_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/transport_bench.h"

namespace kvstash::transport::bench_internal {

// The UCX environment of a profile ("tcp", "shm"): UCX_TLS and every other
// setting ucx_transport.h applies, as NAME=value strings for env(1), so that
// ucx_perftest runs on exactly the same UCX configuration.
absl::StatusOr<std::vector<std::string>> UcxEnvOf(const std::string& profile);

// ucx_perftest -t ucp_get between two processes on loopback: GB/s of the
// client, best of `repeats`.
absl::StatusOr<double> RunPerftest(const TransportBenchOptions& o, const std::string& profile,
                                   uint64_t block_bytes);

// A redis-server on loopback, stopped on destruction.
class RedisBaseline {
 public:
  static absl::StatusOr<std::unique_ptr<RedisBaseline>> Start(const std::string& redis_server);
  ~RedisBaseline();
  // SETs the working set of blocks, then GETs `bytes` of them, pipelined
  // `window` at a time: GB/s, best of `repeats`.
  absl::StatusOr<double> MeasureGet(const TransportBenchOptions& o, uint64_t block_bytes);

 private:
  RedisBaseline() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// "64KiB", "1MiB", or bytes.
std::string SizeName(uint64_t bytes);

double NowSeconds();

}  // namespace kvstash::transport::bench_internal

#endif  // KVSTASH_TRANSPORT_TRANSPORT_BENCH_INTERNAL_H_
