// kvstash bench transport: flags in, transport/transport_bench.h does the
// work, the table or JSON of bench/report.h comes out. With --server this
// process is the bench's server process instead (started by the bench).
#include <unistd.h>

#include <climits>
#include <iostream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/report.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "transport/transport_bench.h"

namespace kvstash::tools {
namespace {

std::string SelfPath() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : "kvstash";
}

absl::StatusOr<std::vector<uint64_t>> ParseSizes(const std::string& list) {
  std::vector<uint64_t> out;
  for (absl::string_view s : absl::StrSplit(list, ',')) {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(s, &v) || v == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --sizes: '", s, "' is not a positive integer"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<transport::TransportBenchOptions> ParseOptions(const FlagSet& flags) {
  transport::TransportBenchOptions o;
  o.server_command = {SelfPath(), "bench", "transport", "--server"};
  o.profiles = absl::StrSplit(flags.Get("profiles"), ',');
  absl::StatusOr<std::vector<uint64_t>> sizes = ParseSizes(flags.Get("sizes"));
  if (!sizes.ok()) return sizes.status();
  o.block_bytes = *sizes;
  for (const char* name : {"bytes", "working-set", "window", "repeats"}) {
    absl::StatusOr<uint64_t> v = flags.GetU64(name);
    if (!v.ok()) return v.status();
    if (*v == 0)
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, ": must be positive"));
  }
  o.bytes = *flags.GetU64("bytes");
  o.working_set = *flags.GetU64("working-set");
  o.window = static_cast<int>(std::min<uint64_t>(*flags.GetU64("window"), 1 << 20));
  o.repeats = static_cast<int>(std::min<uint64_t>(*flags.GetU64("repeats"), 100));
  if (flags.GetBool("quick")) {  // a smoke run: seconds, not a measurement
    o.bytes = std::min<uint64_t>(o.bytes, 8 << 20);
    o.working_set = std::min<uint64_t>(o.working_set, 4 << 20);
    o.repeats = 1;
  }
  o.ucx_perftest = flags.GetBool("no-perftest") ? "" : flags.Get("ucx-perftest");
  o.redis_server = flags.GetBool("no-redis") ? "" : flags.Get("redis-server");
  return o;
}

}  // namespace

int RunBenchTransport(const Args& args) {
  FlagSet flags(
      "kvstash bench transport [flags]",
      "UCX block transfer GB/s between two processes (a server that registers the blocks, this\n"
      "process getting them, over tcp and over shared memory), next to ucx_perftest on the same\n"
      "UCX transport and to Redis GET of the same blocks, all in the same run.");
  flags.Bool("json", "print one JSON object instead of a table");
  flags.String("profiles", "UCX profiles, comma-separated (tcp, shm)", "tcp,shm");
  flags.String("sizes", "block sizes in bytes, comma-separated", "65536,1048576");
  flags.String("bytes", "bytes got per case and round", "536870912");
  flags.String("working-set", "the server's registered region, cycled over", "67108864");
  flags.String("window",
               "transfers in flight, posted in two batches (also ucx_perftest -O and the Redis "
               "pipeline depth); 64 blocks of 16 tokens = one 1k-token prefix",
               "64");
  flags.String("repeats", "rounds of every case (best kept)", "3");
  flags.Bool("quick", "a few seconds: 8 MiB per case, 4 MiB working set, 1 round");
  flags.String("ucx-perftest", "ucx_perftest binary", "ucx_perftest");
  flags.Bool("no-perftest", "skip the ucx_perftest baseline");
  flags.String("redis-server", "redis-server binary", "redis-server");
  flags.Bool("no-redis", "skip the Redis baseline");
  flags.Bool("server", "(internal) run as the bench's server process");
  flags.String("profile", "(internal, --server) UCX profile", "tcp");
  flags.String("region-bytes", "(internal, --server) registered region size", "0");
  if (const int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  if (flags.GetBool("server")) {
    absl::StatusOr<uint64_t> region = flags.GetU64("region-bytes");
    if (!region.ok() || *region == 0) {
      std::cerr << "error: flag --region-bytes: must be a positive integer\n";
      return 2;
    }
    return transport::RunTransportBenchServer(flags.Get("profile"), *region);
  }
  absl::StatusOr<transport::TransportBenchOptions> options = ParseOptions(flags);
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<transport::TransportBenchReport> report =
      transport::RunTransportBench(*options, &std::cerr);
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return 1;
  }
  bench::PrintReport(report->results, report->notes, flags.GetBool("json"));
  return 0;
}

}  // namespace kvstash::tools
